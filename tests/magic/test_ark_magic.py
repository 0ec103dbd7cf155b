"""``%seedance`` in Ark mode (issue 14), in a real InteractiveShell against the real emulator.

The emulator serves Ark under ``/api/v3`` in the same process as ToAPIs; ``ARK_API_KEY`` and
``ARK_BASE_URL`` point the magic there (TOAPIS_API_KEY unset, so Ark is the only provider with a key).
What the emulator counted (``ark_creates``, ``ark_cancels``, ``ark_billed_tokens``) is the proof of
what was sent and billed.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from IPython.core.error import UsageError
from magic_session import Session

from seedance_widgets.api import GenerationRequest, SeedanceClient
from seedance_widgets.api.models import request_estimate_usd
from seedance_widgets.emulator import Emulator
from seedance_widgets.engine import Job, JobSnapshot, JobState
from seedance_widgets.magic.tables import JobTable, SettingsTable, TaskTable

#: Seconds (emulator timeline) a task stays queued when a test cancels it while queued.
LONG_QUEUE = 10_000.0


def ark_client(emu: Emulator) -> SeedanceClient:
    return SeedanceClient(api_key=emu.api_key, base_url=emu.base_url + "/api/v3", provider="ark")


def wait_for(job: Job, test: Any, timeout: float = 60.0) -> JobSnapshot:
    """The first snapshot of ``job`` that passes ``test`` (waits on the job's observer, no polling)."""
    seen = threading.Event()
    unsubscribe = job.subscribe(lambda snap: seen.set() if test(snap) else None)
    try:
        if not test(job.snapshot()):
            assert seen.wait(timeout), f"job never reached the wanted state: {job.snapshot()}"
    finally:
        unsubscribe()
    return job.snapshot()


def expected_tokens(width: int, height: int, fps: int, seconds: int) -> int:
    """The emulator's bill, as Ark computes it: w * h * fps * seconds / 1024."""
    return round(width * height * fps * seconds / 1024)


# ---- --flex ----------------------------------------------------------------------------------


def test_flex_is_refused_on_toapis_before_any_create(ip: Session, emu_env: Emulator) -> None:
    with pytest.raises(UsageError, match=r"--flex .*Ark.*ToAPIs.*Nothing was sent"):
        ip.run("%seedance --flex --resolution 480p -d 4 a night train through snow")
    stats = emu_env.stats()
    assert stats.get("create", 0) == 0
    assert stats.get("ark_creates", 0) == 0


def test_flex_goes_to_ark_with_the_flex_tier_and_its_lower_estimate(
    ark_ip: Session, ark_env: Emulator
) -> None:
    job = ark_ip.run("%seedance --flex --resolution 480p -d 4 a night train through snow")
    assert isinstance(job, Job)
    assert job.request.service_tier == "flex"
    full_price = request_estimate_usd(job.request.replace(service_tier="default"))
    assert full_price is not None
    assert job.snapshot().cost_estimate is not None
    assert job.snapshot().cost_estimate < full_price
    snap = wait_for(job, lambda s: s.task_id is not None)
    task = ark_client(ark_env).get(snap.task_id)
    assert task.service_tier == "flex"
    assert ark_env.stats()["ark_creates"] == 1


def test_a_dry_run_in_ark_mode_shows_arks_own_call_and_sends_nothing(
    ark_ip: Session, ark_env: Emulator
) -> None:
    """The body a dry run shows is the one Ark would get (content list, flex tier), at Ark's path."""
    dry = ark_ip.run("%seedance --dry-run --flex --resolution 480p -d 4 a night train through snow")
    assert dry.path == "/contents/generations/tasks"
    assert dry.body["model"] == "doubao-seedance-1-5-pro-251215"
    assert dry.body["content"] == [{"type": "text", "text": "a night train through snow"}]
    assert dry.body["service_tier"] == "flex"
    assert "prompt" not in dry.body
    assert "metadata" not in dry.body
    assert dry.prompt == "a night train through snow"
    shown = ark_ip.all_text()
    assert "/api/v3/contents/generations/tasks" in shown
    assert "/v1/videos/generations" not in shown
    stats = ark_env.stats()
    assert stats.get("ark_creates", 0) == 0
    assert stats.get("create", 0) == 0


# ---- tasks and attach --------------------------------------------------------------------------


def test_tasks_lists_the_accounts_tasks_and_attaches_one(ark_ip: Session, ark_env: Emulator) -> None:
    made = ark_client(ark_env).create(GenerationRequest("made elsewhere", duration=4, resolution="480p"))
    assert made.id.startswith("cgt-")
    table = ark_ip.run("%seedance tasks --limit 5")
    assert isinstance(table, TaskTable)
    row = next(r for r in table.rows if r["task id"] == made.id)
    assert row["status"]
    assert row["age"].endswith("ago")
    assert f"%seedance attach {made.id}" in repr(table)
    html = table._repr_html_()
    assert made.id in html
    assert "<table>" in html
    job = ark_ip.run(f"%seedance attach {made.id}")
    assert isinstance(job, Job)
    assert job.task_id == made.id
    assert job.wait(timeout=60).is_file()
    again = table.attach(made.id)
    assert again.task_id == made.id
    assert ark_env.stats()["ark_creates"] == 1  # listing and attaching create nothing


def test_tasks_filters_and_bad_options_are_usage_errors(ark_ip: Session) -> None:
    table = ark_ip.run("%seedance tasks --status queued --limit 3")
    assert isinstance(table, TaskTable)
    with pytest.raises(UsageError, match="--status 'sleeping': one of queued, running"):
        ark_ip.run("%seedance tasks --status sleeping")
    with pytest.raises(UsageError, match="--limit '0'"):
        ark_ip.run("%seedance tasks --limit 0")
    with pytest.raises(UsageError, match="takes --status, --model and --limit only"):
        ark_ip.run("%seedance tasks --seed 3")


def test_tasks_on_toapis_says_the_gateway_has_no_task_list(ip: Session, emu_env: Emulator) -> None:
    with pytest.raises(UsageError, match="ToAPIs gateway has no task list"):
        ip.run("%seedance tasks")
    assert emu_env.stats().get("get", 0) == 0


# ---- cancel -------------------------------------------------------------------------------------


def test_cancel_of_a_queued_ark_job_is_cancelled_and_not_billed(ark_ip: Session, ark_env: Emulator) -> None:
    ark_env.configure(ark_queue_seconds=LONG_QUEUE)
    job = ark_ip.run("%seedance --resolution 480p -d 4 a queue that never moves")
    wait_for(job, lambda s: s.task_id is not None and s.state == JobState.QUEUED)
    ark_ip.capsys.readouterr()
    ark_ip.run(f"%seedance cancel {job.local_id}")
    out = ark_ip.capsys.readouterr().out
    assert f"Job {job.local_id}: cancelled before it ran: not billed" in out
    snap = job.snapshot()
    assert snap.state == JobState.CANCELLED
    assert snap.cancel_outcome == "cancelled"
    stats = ark_env.stats()
    assert stats["ark_cancels"] == 1
    assert stats["ark_billed_tokens"] == 0
    assert ark_client(ark_env).get(job.task_id).status == "cancelled"


def test_cancel_of_a_running_ark_job_keeps_watching_then_stops(ark_ip: Session, ark_env: Emulator) -> None:
    ark_env.configure(ark_queue_seconds=0.0, speed=0.2)  # runs at once, and for a while
    job = ark_ip.run("%seedance --resolution 480p -d 4 a slow river")
    wait_for(job, lambda s: s.state == JobState.RUNNING)
    ark_ip.capsys.readouterr()
    ark_ip.run(f"%seedance cancel {job.task_id}")
    out = ark_ip.capsys.readouterr().out
    assert "running: cannot be cancelled once running, still watching" in out, out
    assert not job.snapshot().is_final
    assert ark_env.stats()["ark_cancels"] == 0  # no DELETE was sent for a running task
    ark_ip.run(f"%seedance cancel {job.local_id}")
    out = ark_ip.capsys.readouterr().out
    assert "stopped watching: the task may still finish and be billed" in out, out
    assert job.snapshot().state == JobState.CANCELLED


def test_cancel_on_toapis_says_it_only_stopped_watching(ip: Session, emu_env: Emulator) -> None:
    emu_env.configure(speed=0.5)
    job = ip.run("%seedance --resolution 480p -d 4 a slow sunrise")
    wait_for(job, lambda s: s.task_id is not None)
    ip.capsys.readouterr()
    ip.run(f"%seedance cancel {job.local_id}")
    assert "stopped watching: the task may still finish and be billed" in ip.capsys.readouterr().out


# ---- jobs: the bill beside the estimate ----------------------------------------------------------


def test_jobs_shows_the_billed_tokens_and_dollars_beside_the_estimate(
    ark_ip: Session, ark_env: Emulator
) -> None:
    job = ark_ip.run("%seedance --resolution 480p -d 4 -r 16:9 a harbour at noon")
    job.wait(timeout=60)
    snap = job.snapshot()
    width, height = job.request.size
    tokens = expected_tokens(width, height, job.request.spec.fps or 24, 4)
    assert snap.usage_tokens == tokens
    assert ark_env.stats()["ark_billed_tokens"] == tokens
    table = ark_ip.run("%seedance jobs")
    assert isinstance(table, JobTable)
    (row,) = [r for r in table.rows if r["id"] == job.local_id]
    assert row["cost (est.)"] == f"${snap.cost_estimate:.2f}"
    money = f" (${snap.cost_usd:.2f})" if snap.cost_usd is not None else ""
    assert row["billed"] == f"{tokens:,} tokens{money}"
    assert "billed" in table._repr_html_()
    assert f"{tokens:,} tokens" in table._repr_html_()


# ---- config: provider and region, never the key ----------------------------------------------------


def test_config_shows_provider_and_region_and_never_the_key(ark_ip: Session, ark_env: Emulator) -> None:
    table = ark_ip.run("%seedance config")
    assert isinstance(table, SettingsTable)
    rows = {r["setting"]: r["value"] for r in table.rows}
    assert rows["provider"] == "Ark (volcengine)"
    assert rows["region"] == "volcengine"
    assert rows["API key"] == "set (from ARK_API_KEY; never shown)"
    assert "/api/v3" in rows["backend"]
    shown = ark_ip.all_text() + repr(table) + table._repr_html_()
    assert ark_env.api_key not in shown


def test_config_on_toapis_says_toapis_without_a_region(ip: Session, emu_env: Emulator) -> None:
    rows = {r["setting"]: r["value"] for r in ip.run("%seedance config").rows}
    assert rows["provider"] == "ToAPIs"
    assert rows["API key"] == "set (from TOAPIS_API_KEY; never shown)"
    assert emu_env.api_key not in ip.all_text()


def test_with_both_keys_the_provider_setting_picks_where_new_jobs_go(
    ark_ip: Session, ark_env: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOAPIS_API_KEY", ark_env.api_key)
    monkeypatch.setenv("SEEDANCE_BASE_URL", ark_env.base_url)
    rows = {r["setting"]: r["value"] for r in ark_ip.run("%seedance config").rows}
    assert rows["provider"] == "ToAPIs"  # both keys, no preference: ToAPIs, as before Ark
    ark_ip.run("%config Seedance.provider = 'ark'")
    rows = {r["setting"]: r["value"] for r in ark_ip.run("%seedance config").rows}
    assert rows["provider"] == "Ark (volcengine)"
    job = ark_ip.run("%seedance --resolution 480p -d 4 a lantern on a jetty")
    assert wait_for(job, lambda s: s.task_id is not None).task_id.startswith("cgt-")
    assert ark_env.stats()["ark_creates"] == 1
    ark_ip.run("%config Seedance.provider = 'toapis'")
    other = ark_ip.run("%seedance --resolution 480p -d 4 a lantern on a pier")
    assert not wait_for(other, lambda s: s.task_id is not None).task_id.startswith("cgt-")
    assert ark_env.stats()["ark_creates"] == 1
