"""One kernel, one output folder, ONE manager, whatever ``%config`` says: asking for the same
request after a setting changed finds the job in flight instead of paying for a second task."""

from __future__ import annotations

from pathlib import Path

from magic_session import Session

from seedance_widgets.emulator import Emulator, EmulatorConfig
from seedance_widgets.engine import BaselinePolicy, Job, JobState
from seedance_widgets.magic import link

ASK = "%seedance --resolution 480p -d 4 a kite over the dunes"


def managers_of(folder: Path) -> list[object]:
    return [m for m in link.known_managers() if m.store.root == folder.resolve()]


def test_a_setting_change_between_two_asks_keeps_one_manager_and_one_task(
    ip: Session, emu_env: Emulator, tmp_outputs: Path
) -> None:
    emu_env.configure(speed=2.0)  # ~2.5 s a task: the second ask surely finds the first in flight
    ip.run("%config Seedance.time_scale = 2.0")
    first = ip.run(ASK)
    assert isinstance(first, Job)
    magics = ip.shell.magics_manager.registry["SeedanceMagics"]
    manager = link.manager_for(magics.settings)
    ip.run("%config Seedance.budget_usd = 5")
    ip.run("%config Seedance.poll_policy = 'baseline'")
    second = ip.run(ASK)
    assert second is first  # in flight: the same job, not a second task
    assert link.manager_for(magics.settings) is manager
    assert managers_of(tmp_outputs) == [manager]
    # The settings became the one manager's.
    assert manager.budget_usd == 5
    assert isinstance(manager.poll_policy, BaselinePolicy)
    first.wait(timeout=60)
    assert emu_env.stats()["create"] == 1
    third = ip.run(ASK)  # and once done, a cache hit
    assert isinstance(third, Job)
    assert third.snapshot().from_cache
    assert emu_env.stats()["create"] == 1
    ip.run("%config Seedance.budget_usd = None")
    assert link.manager_for(magics.settings) is manager  # settings apply at the next %seedance
    assert manager.budget_usd is None


def test_a_new_base_url_sends_new_jobs_there_and_leaves_running_ones_where_they_are(
    ip: Session, emu_env: Emulator, tmp_outputs: Path
) -> None:
    emu_env.configure(speed=2.0)
    ip.run("%config Seedance.time_scale = 2.0")
    with Emulator(EmulatorConfig(speed=20.0)) as other:
        running = ip.run(ASK)
        assert isinstance(running, Job)
        ip.run(f"%config Seedance.base_url = {other.base_url!r}")
        moved = ip.run("%seedance --resolution 480p -d 4 a kite over the sea")
        assert isinstance(moved, Job)
        moved.wait(timeout=60)
        running.wait(timeout=60)  # its polls and download stayed with the first emulator
        assert running.snapshot().state == JobState.DONE
        assert (emu_env.stats()["create"], other.stats()["create"]) == (1, 1)
        assert running.task_id in emu_env.task_ids()
        assert moved.task_id in other.task_ids()
        assert len(managers_of(tmp_outputs)) == 1
