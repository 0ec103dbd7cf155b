"""``%seedance jobs / attach / cancel / config``, against the emulator."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from magic_session import Session

from seedance_widgets.api import GenerationRequest, SeedanceClient
from seedance_widgets.emulator import Emulator
from seedance_widgets.engine import Job, JobManager, JobState
from seedance_widgets.magic.tables import JobTable, SettingsTable


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_jobs_lists_this_kernels_and_the_ledgers_jobs(
    ip: Session, emu_env: Emulator, tmp_outputs: Path
) -> None:
    # A job from an earlier session, known only through the output folder's ledger.
    with JobManager(output_dir=tmp_outputs, time_scale=emu_env.config.speed) as earlier:
        old = earlier.submit(GenerationRequest("an old lighthouse", duration=4, resolution="480p"))
        assert isinstance(old, Job)
        old.wait(timeout=60)
    new = ip.run("%seedance --resolution 480p -d 4 --seed 3 a new harbour")
    new.wait(timeout=60)
    table = ip.run("%seedance jobs")
    assert isinstance(table, JobTable)
    by_prompt = {row["prompt"]: row for row in table.rows}
    assert by_prompt["an old lighthouse"]["from"] == "ledger"
    assert by_prompt["a new harbour"]["from"] == "this kernel"
    assert by_prompt["a new harbour"]["state"] == "done"
    assert by_prompt["a new harbour"]["seed"] == 3
    assert by_prompt["a new harbour"]["task id"] == new.task_id
    (shown,) = ip.results  # the table is the cell's value: HTML and text
    assert "<table>" in shown["text/html"]
    assert "a new harbour" in shown["text/html"]
    assert "an old lighthouse" in shown["text/plain"]


def test_attach_watches_an_existing_task(ip: Session, emu_env: Emulator) -> None:
    task = SeedanceClient().create(GenerationRequest("made elsewhere", duration=4, resolution="480p"))
    job = ip.run(f"%seedance attach {task.id}")
    assert isinstance(job, Job)
    assert job.task_id == task.id
    assert len(ip.widget_ids()) == 1
    assert job.wait(timeout=60).is_file()
    assert emu_env.stats()["create"] == 1  # attaching creates nothing


def test_cancel_by_local_id_and_by_task_id(ip: Session, emu_env: Emulator) -> None:
    emu_env.configure(speed=0.5)  # slow enough that the jobs are still running
    first = ip.run("%seedance --resolution 480p -d 4 a slow sunrise")
    # Cancel once the task exists: a cancel racing the create is the engine's business (and its test).
    wait_until(lambda: first.task_id is not None)
    assert ip.run(f"%seedance cancel {first.local_id}") is None
    assert first.status == JobState.CANCELLED
    assert f"Job {first.local_id}:" in ip.capsys.readouterr().out
    second = ip.run("%seedance --resolution 480p -d 4 --seed 8 a slow sunset")
    wait_until(lambda: second.task_id is not None)
    ip.run(f"%seedance cancel {second.task_id}")
    assert second.status == JobState.CANCELLED
    assert "may still" in (second.snapshot().error or "")
    ip.run(f"%seedance cancel {first.local_id}")
    out = ip.capsys.readouterr().out
    assert "already cancelled" in out, (out, first.snapshot())


def test_config_shows_settings_and_only_whether_a_key_is_set(ip: Session, emu_env: Emulator) -> None:
    ip.run("%config Seedance.resolution = '480p'")
    table = ip.run("%seedance config")
    assert isinstance(table, SettingsTable)
    values = {row["setting"]: row["value"] for row in table.rows}
    assert values["Seedance.resolution"] == "'480p'"
    assert values["API key"] == "set (from TOAPIS_API_KEY; never shown)"
    assert values["backend"] == emu_env.base_url
    assert emu_env.api_key not in repr(table) + table._repr_html_()
    ip.run("%config Seedance")  # IPython's own listing of the configurable, with help
    listing = ip.capsys.readouterr().out
    assert "Seedance.budget_usd" in listing
    assert "Seedance.poll_policy" in listing


def test_default_settings_share_the_process_manager(
    ip: Session, tmp_outputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seedance_widgets.engine import default_manager, set_default_manager

    monkeypatch.setenv("SEEDANCE_OUTPUT_DIR", str(tmp_outputs))
    ip.run("%config Seedance.output_dir = None")
    ip.run("%config Seedance.time_scale = None")
    set_default_manager(None)
    try:
        job = ip.run("%seedance --dry-run a shared fox")
        assert job.body["prompt"] == "a shared fox"
        shared = default_manager()
        job = ip.run("%seedance --resolution 480p -d 4 a shared fox")
        assert job in shared.jobs()
        assert shared.store.root == tmp_outputs.resolve()
        job.cancel()
    finally:
        set_default_manager(None)
        shared.shutdown()


def test_engine_settings_shape_the_manager(
    ip: Session, emu_env: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seedance_widgets.engine import BaselinePolicy
    from seedance_widgets.magic import link

    monkeypatch.setenv("SEEDANCE_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    ip.run(f"%config Seedance.base_url = {emu_env.base_url!r}")
    ip.run("%config Seedance.poll_policy = 'baseline'")
    ip.run(f"%config Seedance.output_dir = {str(tmp_path / 'other')!r}")
    ip.run("%config Seedance.budget_usd = 5.0")
    magics = ip.shell.magics_manager.registry["SeedanceMagics"]
    manager = link.manager_for(magics.settings)
    assert isinstance(manager.poll_policy, BaselinePolicy)
    assert manager.budget_usd == 5.0
    assert manager.client.base_url == emu_env.base_url
    assert manager.store.root == (tmp_path / "other").resolve()
    job = ip.run("%seedance --resolution 480p -d 4 a setting test")
    wait_until(lambda: job.task_id is not None)
    assert emu_env.stats()["create"] == 1
    ip.run("%config Seedance.poll_policy = 'adaptive'")
    assert link.manager_for(magics.settings) is manager  # one manager per folder: settings change it
    assert not isinstance(manager.poll_policy, BaselinePolicy)
    ip.run("%config Seedance.poll_policy = 'baseline'")
    assert link.manager_for(magics.settings) is manager
    assert isinstance(manager.poll_policy, BaselinePolicy)
