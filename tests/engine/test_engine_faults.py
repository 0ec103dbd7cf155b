"""The job engine when things go wrong: rate limits, resets, expiry, deadlines, crashes, exit."""

from __future__ import annotations

import hashlib
import json
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from engine_helpers import clear_faults, lookups_unclear, quick_request
from engine_support import GatewayProxy, spawn_child

from seedance_widgets.api import SeedanceClient
from seedance_widgets.emulator import Emulator
from seedance_widgets.engine import (
    FINAL_STATES,
    Job,
    JobCancelledError,
    JobExpiredError,
    JobManager,
    JobSnapshot,
    JobState,
    JobTimedOutError,
    WaitTimeoutError,
)
from seedance_widgets.engine.ledger import Ledger
from seedance_widgets.engine.policy import BaselinePolicy

WAIT = 30.0


def _wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_rate_limit_storm_backs_off_and_never_creates_twice(manager: JobManager, emulator: Emulator) -> None:
    emulator.configure(
        fault_rates={"create": {"429": 0.5}, "get": {"429": 0.5}}, retry_after=0.05, fault_seed=3
    )
    jobs = [manager.submit(quick_request(f"a storm of paper cranes, take {i}")) for i in range(6)]
    for job in jobs:
        job.wait(WAIT)  # type: ignore[union-attr]
    stats = emulator.stats()
    assert stats["faults"].get("429", 0) >= 3
    assert stats["tasks"] == 6  # every 429'd create was re-sent, none twice


def test_connection_resets_keep_the_job_alive(manager: JobManager, emulator: Emulator) -> None:
    emulator.fail_next("get", "reset", 2)
    flags: list[bool] = []
    job = manager.submit(quick_request())
    job.subscribe(lambda snap: flags.append(snap.reconnecting))  # type: ignore[union-attr]
    path = job.wait(WAIT)  # type: ignore[union-attr]
    assert path.is_file()
    assert emulator.stats()["faults"].get("reset", 0) == 2
    assert True in flags  # it said so while the network failed
    assert flags[-1] is False
    assert emulator.stats()["create"] == 1


def test_url_expired_before_download_says_so_with_the_task_id(
    manager: JobManager, emulator: Emulator
) -> None:
    emulator.configure(expiry_seconds=0.0)
    job = manager.submit(quick_request())
    with pytest.raises(JobExpiredError) as caught:
        job.wait(WAIT)  # type: ignore[union-attr]
    snap = job.snapshot()  # type: ignore[union-attr]
    assert snap.state == JobState.EXPIRED
    assert snap.task_id in str(caught.value)
    assert "expired" in snap.error
    assert "rerun=True" in snap.error
    assert emulator.stats()["download"] == 1  # tried: only the gateway's 410 says "expired"
    # Asking again does not silently pay for a new task.
    assert manager.submit(quick_request()) is job
    assert emulator.stats()["create"] == 1


def test_deadline_ends_as_timed_out_keeping_the_task_id(
    make_manager: Callable[..., JobManager], emulator: Emulator
) -> None:
    emulator.configure(profile="realistic")  # 1-5 emulated minutes
    manager = make_manager(deadline_s=2.0)
    job = manager.submit(quick_request())
    with pytest.raises(JobTimedOutError) as caught:
        job.wait(WAIT)  # type: ignore[union-attr]
    task_id = job.task_id  # type: ignore[union-attr]
    assert task_id
    assert f"attach({task_id!r})" in str(caught.value)
    assert job.status == JobState.TIMED_OUT  # type: ignore[union-attr]
    assert manager.attach(task_id) is job  # watching again
    assert job.status == JobState.QUEUED  # type: ignore[union-attr]
    job.cancel()  # type: ignore[union-attr]
    assert emulator.stats()["create"] == 1


def test_cancel_stops_watching_and_says_it_may_be_billed(
    make_manager: Callable[..., JobManager], emulator: Emulator
) -> None:
    emulator.configure(profile="realistic")  # tasks outlive the test
    proxy = GatewayProxy(emulator.base_url)  # records which task each poll was for, and when
    try:
        client = SeedanceClient(api_key=emulator.api_key, base_url=proxy.base_url)
        # The baseline policy polls every 10 gateway seconds: 0.5 s of wall time at speed 20.
        manager = make_manager(client=client, poll_policy=BaselinePolicy())
        job, witness = (manager.submit(quick_request(f"a slow tide, take {i}")) for i in range(2))
        assert isinstance(job, Job)
        assert isinstance(witness, Job)
        _wait_for(lambda: job.task_id is not None and witness.task_id is not None)
        job.cancel()
        cancelled_at = time.monotonic()
        snap = job.snapshot()
        assert snap.state == JobState.CANCELLED
        assert "billed" in snap.error  # type: ignore[operator]
        with pytest.raises(JobCancelledError):
            job.wait(1)

        def polls(task_id: str | None, after: float) -> list[float]:
            return [h.at for h in proxy.kinds("get") if h.path.endswith(f"/{task_id}") and h.at > after]

        # The witness, polled by the same scheduler, is polled 3 times after the cancel: more than
        # a whole polling interval has passed, so a poll of the cancelled job would have come.
        _wait_for(lambda: len(polls(witness.task_id, cancelled_at)) >= 3)
        # A poll already on its way when the cancel came may still land just after it.
        assert polls(snap.task_id, cancelled_at + 0.2) == []
        witness.cancel()
        records = [r for r in manager.store.ledger.read() if r["event"] == "cancelled"]
        assert records[0]["task_id"] == snap.task_id
    finally:
        proxy.close()


def test_wait_timeout_leaves_the_job_running(manager: JobManager, emulator: Emulator) -> None:
    emulator.configure(profile="realistic")
    job = manager.submit(quick_request())
    with pytest.raises(WaitTimeoutError, match="carries on"):
        job.wait(0.05)  # type: ignore[union-attr]
    assert not job.done  # type: ignore[union-attr]
    job.cancel()  # type: ignore[union-attr]


_child = spawn_child


def _created(out: Path) -> int:
    return sum(1 for r in Ledger(out / "ledger.jsonl").read() if r["event"] == "created")


def test_kill_9_mid_way_then_a_new_manager_finishes_without_creating_again(
    make_manager: Callable[..., JobManager], emulator: Emulator, tmp_outputs: Path
) -> None:
    emulator.configure(speed=5.0)  # tasks take ~1 s: the child dies with all of them in flight
    child = _child(emulator, tmp_outputs, count=3, tail="time.sleep(60)")
    try:
        _wait_for(lambda: _created(tmp_outputs) == 3)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdout.close()  # type: ignore[union-attr]
    assert child.returncode == -signal.SIGKILL
    assert emulator.stats()["create"] == 3
    manager = make_manager(tmp_outputs, time_scale=5.0)
    jobs = manager.jobs()
    assert len(jobs) == 3
    assert all(j.task_id and j.status not in FINAL_STATES for j in jobs)  # re-attached, being watched
    for job in jobs:
        assert job.wait(WAIT).is_file()
    assert emulator.stats()["create"] == 3  # zero extra creates
    assert emulator.stats()["tasks"] == 3


def test_threads_stop_at_interpreter_exit_without_a_torn_record(
    emulator: Emulator, tmp_outputs: Path
) -> None:
    emulator.configure(profile="realistic")
    # The child leaves jobs in flight and simply ends: daemon threads must not hold it.
    child = _child(emulator, tmp_outputs, count=3, tail="time.sleep(0.3)")
    out, _ = child.communicate(timeout=30)
    assert child.returncode == 0
    assert "submitted" in out
    lines = (tmp_outputs / "ledger.jsonl").read_bytes().splitlines()
    assert lines
    assert all(json.loads(line) for line in lines)  # every record whole


def _one_job_saved_then_video_deleted(
    make_manager: Callable[..., JobManager], folder: Path
) -> tuple[Job, Path, bytes]:
    """A manager makes one job and stops; its video is deleted. The job, the ledger, its bytes."""
    first = make_manager(folder)
    job = first.submit(quick_request())
    assert isinstance(job, Job)
    video = job.wait(WAIT)
    first.shutdown()
    video.unlink()
    ledger = folder / "ledger.jsonl"
    return job, ledger, ledger.read_bytes()


def test_truncated_ledger_last_line_then_restart_recovers(
    make_manager: Callable[..., JobManager], emulator: Emulator, tmp_outputs: Path
) -> None:
    job, ledger, data = _one_job_saved_then_video_deleted(make_manager, tmp_outputs)
    assert data.splitlines()[-1].startswith(b'{"v":2')
    assert b'"downloaded"' in data.splitlines()[-1]
    ledger.write_bytes(data[:-20])  # the "downloaded" record cut in half, as by a crash
    emulator.reset_stats()
    second = make_manager(tmp_outputs)
    (again,) = second.jobs()
    assert again.local_id == job.local_id
    assert again.wait(WAIT).is_file()
    assert emulator.stats()["create"] == 0
    assert emulator.stats()["download"] == 1
    # The file stayed appendable: every record after the torn one is whole.
    records = Ledger(ledger).read()
    assert records[-1]["event"] == "downloaded"


def test_a_resumed_download_first_removes_the_half_download_its_dead_writer_left(
    make_manager: Callable[..., JobManager], emulator: Emulator, tmp_outputs: Path
) -> None:
    job, ledger, data = _one_job_saved_then_video_deleted(make_manager, tmp_outputs)
    ledger.write_bytes(data[: data.rindex(b"\n", 0, len(data) - 1) + 1])  # killed before "downloaded"
    # The dead kernel's half download, too fresh for the start-up sweep (its writer might be on
    # another machine): the job is this manager's now, so its download removes it.
    part = tmp_outputs / "videos" / f"..incoming-{job.local_id}.mp4.k1ll.part"
    part.write_bytes(b"half a video")
    second = make_manager(tmp_outputs)
    (again,) = second.jobs()
    assert again.wait(WAIT).is_file()
    assert not part.exists()
    assert emulator.stats()["create"] == 1


def test_restart_turns_an_unanswered_create_into_may_exist_and_an_unsent_one_into_cancelled(
    make_manager: Callable[..., JobManager], emulator: Emulator, tmp_outputs: Path
) -> None:
    # Records as an earlier release wrote them (version 1: no client_business_id to look up).
    ledger = Ledger(tmp_outputs / "ledger.jsonl")
    body = quick_request("in flight when the kernel died").to_body()
    ledger.append("intent", v=1, job="job-a", request_hash="h-a", request=body, state="intent")
    ledger.append("status", v=1, job="job-a", state="submitting", body=body)
    unsent = quick_request("never sent").to_body()
    ledger.append("intent", v=1, job="job-b", request_hash="h-b", request=unsent, state="intent")
    manager = make_manager(tmp_outputs)
    a, b = manager.get("job-a"), manager.get("job-b")
    assert isinstance(a, Job)
    assert isinstance(b, Job)
    assert a.status == JobState.MAY_EXIST
    assert "may exist" in a.error  # type: ignore[operator]
    assert b.status == JobState.CANCELLED
    assert "nothing was created" in b.error  # type: ignore[operator]
    assert isinstance(a.snapshot(), JobSnapshot)
    assert a.request is not None
    assert a.request.prompt == "in flight when the kernel died"
    # Nothing of theirs is sent: the manager's next create (creates run in order) is its only one.
    later = manager.submit(quick_request("a new request after the restart"))
    assert isinstance(later, Job)
    assert later.wait(WAIT).is_file()
    assert emulator.stats()["create"] == 1
    assert emulator.task_ids() == [later.task_id]
    assert (a.status, b.status) == (JobState.MAY_EXIST, JobState.CANCELLED)


def test_may_exist_with_a_local_image_survives_a_restart_and_resubmits_with_it(
    make_manager: Callable[..., JobManager], emulator: Emulator, tmp_outputs: Path
) -> None:
    picture = _png_bytes()
    emulator.fail_next("create", "reset")
    lookups_unclear(emulator)  # the lookup by client_business_id cannot tell
    first = make_manager(tmp_outputs)
    job = first.submit(quick_request(), images=[("first_frame", picture)])
    _wait_for(lambda: job.status == JobState.MAY_EXIST)  # type: ignore[union-attr]
    clear_faults(emulator)
    first.shutdown()
    second = make_manager(tmp_outputs)
    restored = second.get(job.local_id)  # type: ignore[union-attr]
    assert restored is not None
    assert restored.status == JobState.MAY_EXIST
    again = second.resubmit(restored, confirm=True)
    assert again.wait(WAIT).is_file()
    assert emulator.stats()["upload"] == 1  # the recorded upload URL was re-used
    assert again.snapshot().request_hash == restored.snapshot().request_hash
    assert emulator.stats()["tasks"] == 2


def _png_bytes(colour: tuple[int, int, int] = (250, 200, 0)) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_gateway_saying_gone_on_download_ends_as_expired(manager: JobManager, emulator: Emulator) -> None:
    job = manager.submit(quick_request())
    path = job.wait(WAIT)  # type: ignore[union-attr]
    path.unlink()
    emulator.configure(expiry_seconds=0.0)  # the gateway now answers 410 for the URL
    again = manager.submit(quick_request())
    assert again is job
    with pytest.raises(JobExpiredError, match="expired"):
        again.wait(WAIT)  # type: ignore[union-attr]
    assert emulator.stats()["create"] == 1


def test_eta_is_exposed_while_running(make_manager: Callable[..., JobManager], emulator: Emulator) -> None:
    emulator.configure(profile="realistic", speed=60.0)
    manager = make_manager(time_scale=60.0)
    job = manager.submit(quick_request())
    etas: list[float] = []
    job.subscribe(lambda snap: etas.append(snap.eta_seconds) if snap.eta_seconds is not None else None)  # type: ignore[union-attr]
    _wait_for(lambda: bool(etas))
    assert etas[0] > 0
    assert job.snapshot().state == JobState.RUNNING  # type: ignore[union-attr]
    job.cancel()  # type: ignore[union-attr]


def test_truncated_download_is_fetched_again_and_never_kept_half(
    manager: JobManager, emulator: Emulator
) -> None:
    emulator.fail_next("download", "truncate")
    job = manager.submit(quick_request())
    path = job.wait(WAIT)  # type: ignore[union-attr]
    assert emulator.stats()["download"] == 2
    assert hashlib.sha256(path.read_bytes()).hexdigest() == job.snapshot().sha256  # type: ignore[union-attr]
    assert not list(manager.store.videos.glob(".*"))  # no partial file left behind


def test_a_second_live_manager_on_the_folder_leaves_the_first_ones_jobs_alone(
    make_manager: Callable[..., JobManager], emulator: Emulator, tmp_outputs: Path
) -> None:
    emulator.configure(profile="realistic")
    first = make_manager(tmp_outputs)
    job = first.submit(quick_request())
    _wait_for(lambda: job.task_id is not None)  # type: ignore[union-attr]
    second = make_manager(tmp_outputs)  # another kernel on the same folder, while the first lives
    assert second.get(job.local_id) is None  # type: ignore[union-attr]
    assert job.status not in FINAL_STATES  # type: ignore[union-attr]
    first.shutdown()  # its owner lock goes: now its unfinished job is up for adoption
    third = make_manager(tmp_outputs)
    adopted = third.get(job.local_id)  # type: ignore[union-attr]
    assert adopted is not None
    assert adopted.task_id == job.task_id  # type: ignore[union-attr]
    assert adopted.status not in FINAL_STATES
    adopted.cancel()
    assert emulator.stats()["create"] == 1


@pytest.mark.parametrize(
    ("latency", "jitter", "with_image"),
    [(0.0, 0.0, False), (0.02, 0.0, False), (0.02, 0.01, False), (0.02, 0.01, True)],
    ids=["at-once", "slow-gateway", "jittered", "jittered-upload"],
)
def test_cancel_right_after_submit_never_creates_a_task_it_said_was_not_created(
    manager: JobManager, emulator: Emulator, latency: float, jitter: float, with_image: bool
) -> None:
    """30 submit+cancel pairs; the cancels land before, during and after the create (or upload)."""
    emulator.configure(profile="realistic", latency=latency)  # tasks outlive the test
    rng = random.Random(7)
    jobs = []
    for i in range(30):
        images = [("first_frame", _png_bytes((i, 100, 200)))] if with_image else []
        job = manager.submit(quick_request(f"a paper boat, race {i}"), images=images)
        assert isinstance(job, Job)
        time.sleep(rng.uniform(0.0, jitter))
        job.cancel()
        jobs.append(job)
    # Every create on the wire comes back before the count is read.
    manager.shutdown(timeout=30.0)
    snaps = [job.snapshot() for job in jobs]
    assert all(s.state == JobState.CANCELLED for s in snaps)
    not_sent = [s for s in snaps if "nothing was created" in (s.error or "")]
    maybe_billed = [s for s in snaps if s not in not_sent]
    assert all(s.task_id is None for s in not_sent)
    for snap in maybe_billed:
        assert "billed" in (snap.error or "")
    created = {s.task_id for s in maybe_billed if s.task_id}
    assert emulator.stats()["create"] == len(maybe_billed)
    assert set(emulator.task_ids()) == created
    # The ledger tells the same story: a job said to be unsent never reached "submitting".
    submitting = {r["job"] for r in manager.store.ledger.read() if r.get("state") == JobState.SUBMITTING}
    assert not submitting & {s.local_id for s in not_sent}
