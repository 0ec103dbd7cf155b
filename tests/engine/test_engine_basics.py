"""The job engine over real HTTP to the emulator: submit, watch, save, cache, cost."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from engine_helpers import clear_faults, engine_threads, lookups_unclear, quick_request
from PIL import Image

import seedance_widgets
from seedance_widgets.api import SeedanceError, request_cost_usd
from seedance_widgets.emulator import Emulator
from seedance_widgets.engine import (
    BudgetExceededError,
    DryRun,
    Job,
    JobFailedError,
    JobManager,
    JobSnapshot,
    JobState,
    set_default_manager,
)

WAIT = 30.0


def _requests(stats: dict[str, object]) -> int:
    return sum(int(stats[k]) for k in ("create", "get", "upload", "download"))  # type: ignore[call-overload]


def _ledger(manager: JobManager) -> list[dict[str, object]]:
    return manager.store.ledger.read()


def _png(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 36), color).save(buffer, format="PNG")
    return buffer.getvalue()


def test_submit_returns_at_once_and_saves_the_video(manager: JobManager, emulator: Emulator) -> None:
    seen: list[tuple[str, str]] = []
    job = manager.submit(quick_request())
    assert isinstance(job, Job)
    job.subscribe(lambda snap: seen.append((snap.state, threading.current_thread().name)))
    assert not job.done  # returned before the task finished
    path = job.wait(WAIT)
    snap = job.snapshot()
    assert snap.state == JobState.DONE
    assert job.status == "done"
    assert job.result == path
    assert path.parent == manager.store.videos
    assert path.suffix == ".mp4"
    assert path.name.startswith(snap.sha256[:16] + "-a-red-kite-over-green-hills")  # type: ignore[index]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == snap.sha256
    assert snap.task_id
    assert snap.seed is not None
    assert snap.polls >= 1
    assert snap.submitted_at
    assert snap.finished_at
    assert snap.finished_at >= snap.submitted_at
    assert snap.cost_estimate == pytest.approx(request_cost_usd(quick_request()))
    # Observers ran on the engine's threads, never the caller's.
    assert seen
    assert all(name.startswith("seedance-") for _, name in seen)
    assert seen[-1][0] == JobState.DONE
    events = [r["event"] for r in _ledger(manager) if r.get("job") == job.local_id]
    assert events[0] == "intent"
    assert "created" in events
    assert events[-1] == "downloaded"
    assert events.index("intent") < events.index("created")
    assert emulator.stats()["create"] == 1
    assert "done" in repr(job)
    assert snap.local_id in repr(job)


def test_many_jobs_at_once_use_one_scheduler_and_a_small_pool(
    manager: JobManager, emulator: Emulator
) -> None:
    jobs = [manager.submit(quick_request(f"a lantern number {i} floating on a lake")) for i in range(16)]
    peak = 0
    for job in jobs:
        peak = max(peak, len(engine_threads()))
        assert isinstance(job, Job)
        job.wait(WAIT)
    assert all(j.status == JobState.DONE for j in jobs)  # type: ignore[union-attr]
    assert len({j.snapshot().path for j in jobs}) == 16  # type: ignore[union-attr]
    assert emulator.stats()["create"] == 16
    assert emulator.stats()["tasks"] == 16
    assert len(engine_threads()) <= 1 + 4
    assert peak <= 1 + 4


def test_finished_request_is_a_cache_hit_with_zero_requests(
    make_manager: Callable[..., JobManager], emulator: Emulator, tmp_outputs: Path
) -> None:
    first = make_manager()
    job = first.submit(quick_request())
    path = job.wait(WAIT)  # type: ignore[union-attr]
    emulator.reset_stats()
    again = first.submit(quick_request())
    assert isinstance(again, Job)
    assert again is not job
    snap = again.snapshot()
    assert snap.from_cache
    assert snap.state == JobState.DONE
    assert snap.path == path
    assert again.wait(0) == path
    # A new manager on the same folder (a restarted kernel) hits the cache too.
    first.shutdown()
    second = make_manager(tmp_outputs)
    third = second.submit(quick_request())
    assert third.snapshot().from_cache
    assert third.wait(0) == path
    assert _requests(emulator.stats()) == 0


def test_in_flight_request_returns_the_same_job_and_rerun_makes_a_new_one(
    manager: JobManager, emulator: Emulator
) -> None:
    emulator.configure(profile="realistic")  # long enough to still be in flight
    job = manager.submit(quick_request())
    assert manager.submit(quick_request()) is job
    rerun = manager.submit(quick_request(), rerun=True)
    assert rerun is not job
    for each in (job, rerun):
        each.cancel()  # type: ignore[union-attr]
    assert len(manager.jobs()) == 2


def test_deleted_file_is_fetched_again_without_a_new_task(manager: JobManager, emulator: Emulator) -> None:
    job = manager.submit(quick_request())
    path = job.wait(WAIT)  # type: ignore[union-attr]
    path.unlink()
    emulator.reset_stats()
    again = manager.submit(quick_request())
    assert again is job
    assert again.wait(WAIT) == path
    assert path.is_file()
    stats = emulator.stats()
    assert stats["create"] == 0
    assert stats["download"] == 1


def test_dry_run_returns_the_exact_body_and_calls_nothing(manager: JobManager, emulator: Emulator) -> None:
    request = quick_request(seed=42, audio=True)
    dry = manager.submit(request, dry_run=True)
    assert isinstance(dry, DryRun)
    assert dry.body == request.to_body()
    assert dry.estimate_usd == request_cost_usd(request)
    assert dry.request_hash == manager.submit(request, dry_run=True).request_hash  # type: ignore[union-attr]
    picture = _png((200, 10, 10))
    with_image = manager.submit(request, images=[("first_frame", picture)], dry_run=True)
    roles = with_image.body["image_with_roles"]  # type: ignore[union-attr, index]
    assert roles == [{"url": "sha256:" + hashlib.sha256(picture).hexdigest(), "role": "first_frame"}]
    same = manager.submit(request, images=[("first_frame", bytes(picture))], dry_run=True)
    other = manager.submit(request, images=[("first_frame", _png((0, 0, 0)))], dry_run=True)
    assert same.request_hash == with_image.request_hash  # type: ignore[union-attr]
    assert other.request_hash != with_image.request_hash  # type: ignore[union-attr]
    assert "nothing sent" in repr(dry)
    assert _requests(emulator.stats()) == 0
    assert manager.jobs() == []


def test_budget_refuses_a_create_before_any_call(
    make_manager: Callable[..., JobManager], emulator: Emulator
) -> None:
    manager = make_manager(budget_usd=0.09)
    with pytest.raises(BudgetExceededError, match=r"estimated at \$0\.13.*budget of \$0\.09") as caught:
        manager.submit(quick_request(resolution="720p", duration=5))
    assert isinstance(caught.value, SeedanceError)
    assert _requests(emulator.stats()) == 0
    assert manager.jobs() == []
    cheap = manager.submit(quick_request())  # 480p 4 s: about $0.05
    assert manager.spent_usd == pytest.approx(0.048)
    with pytest.raises(BudgetExceededError):
        manager.submit(quick_request("a second clip"))
    manager.budget_usd = 1.0  # settable
    manager.submit(quick_request("a second clip")).wait(WAIT)  # type: ignore[union-attr]
    cheap.wait(WAIT)  # type: ignore[union-attr]
    assert emulator.stats()["create"] == 2


def test_failed_task_and_refused_prompt_end_with_clear_errors(
    manager: JobManager, emulator: Emulator
) -> None:
    failing = manager.submit(quick_request("please failme now"))
    refused = manager.submit(quick_request("something forbidden"))
    with pytest.raises(JobFailedError, match="Generation failed") as caught:
        failing.wait(WAIT)  # type: ignore[union-attr]
    assert isinstance(caught.value.snapshot, JobSnapshot)
    with pytest.raises(JobFailedError, match="content policy"):
        refused.wait(WAIT)  # type: ignore[union-attr]
    assert refused.snapshot().task_id is None  # type: ignore[union-attr]
    assert manager.spent_usd == pytest.approx(request_cost_usd(quick_request()))  # refused one released


def test_local_image_is_uploaded_once_and_reused_on_rerun(manager: JobManager, emulator: Emulator) -> None:
    picture = _png((10, 120, 200))
    first = manager.submit(quick_request(), images=[("first_frame", picture)])
    first.wait(WAIT)  # type: ignore[union-attr]
    second = manager.submit(quick_request(), images=[("first_frame", picture)], rerun=True)
    second.wait(WAIT)  # type: ignore[union-attr]
    assert emulator.stats()["upload"] == 1
    assert emulator.stats()["create"] == 2
    assert first.snapshot().request_hash == second.snapshot().request_hash  # type: ignore[union-attr]
    digest = hashlib.sha256(picture).hexdigest()
    assert (manager.store.uploads / f"{digest[:16]}.png").read_bytes() == picture
    uploaded = [r for r in _ledger(manager) if r["event"] == "uploaded"]
    assert len(uploaded) == 1
    assert uploaded[0]["sha256"] == digest


def test_api_key_never_reaches_ledger_or_reprs(manager: JobManager, emulator: Emulator) -> None:
    job = manager.submit(quick_request())
    job.wait(WAIT)  # type: ignore[union-attr]
    key = emulator.api_key
    texts = [
        manager.store.ledger.path.read_text(),
        repr(manager),
        repr(job),
        repr(job.snapshot()),  # type: ignore[union-attr]
        json.dumps([str(v) for v in vars(job.snapshot()).values()]),  # type: ignore[union-attr]
    ]
    assert not any(key in text for text in texts)


def test_public_front_door_generate_attach_jobs(
    make_manager: Callable[..., JobManager], emulator: Emulator
) -> None:
    manager = make_manager()
    set_default_manager(manager)
    try:
        job = seedance_widgets.generate("a glass of water on a table", duration=4, resolution="480p")
        assert isinstance(job, seedance_widgets.Job)
        path = job.wait(WAIT)
        assert path.is_file()
        assert job in seedance_widgets.jobs()
        assert seedance_widgets.attach(job.task_id) is job  # type: ignore[arg-type]
        dry = seedance_widgets.generate("a glass of water", dry_run=True)
        assert isinstance(dry, seedance_widgets.DryRun)
    finally:
        set_default_manager(None)


def test_default_manager_uses_the_output_dir_from_the_environment(
    emu_env: Emulator, tmp_outputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEEDANCE_OUTPUT_DIR", str(tmp_outputs))
    monkeypatch.setenv("SEEDANCE_TIME_SCALE", "20")
    set_default_manager(None)
    try:
        manager = seedance_widgets.default_manager()
        assert manager.store.root == tmp_outputs.resolve()
        assert seedance_widgets.default_manager() is manager
        assert manager.client.base_url == emu_env.base_url
        assert manager.time_scale == 20.0
    finally:
        manager.shutdown()
        set_default_manager(None)
    assert not engine_threads()


def test_resubmit_needs_confirmation(manager: JobManager, emulator: Emulator) -> None:
    emulator.fail_next("create", "reset")  # the task is made, the reply is lost
    lookups_unclear(emulator)  # and its lookup by client_business_id cannot tell
    job = manager.submit(quick_request())
    with pytest.raises(seedance_widgets.engine.JobMayExistError, match="may exist"):
        job.wait(WAIT)  # type: ignore[union-attr]
    clear_faults(emulator)
    assert job.status == JobState.MAY_EXIST  # type: ignore[union-attr]
    assert manager.submit(quick_request()) is job  # not re-sent by asking again
    assert emulator.stats()["tasks"] == 1
    assert emulator.stats()["create"] == 1
    with pytest.raises(SeedanceError, match="confirm=True"):
        manager.resubmit(job)  # type: ignore[arg-type]
    assert emulator.stats()["create"] == 1
    again = manager.resubmit(job, confirm=True)  # type: ignore[arg-type]
    assert again is not job
    assert again.wait(WAIT).is_file()
    assert emulator.stats()["tasks"] == 2


def test_a_failed_rerun_does_not_hide_the_saved_video(manager: JobManager, emulator: Emulator) -> None:
    path = manager.submit(quick_request()).wait(WAIT)  # type: ignore[union-attr]
    emulator.configure(task_fail_rate=1.0)
    rerun = manager.submit(quick_request(), rerun=True)
    with pytest.raises(JobFailedError):
        rerun.wait(WAIT)  # type: ignore[union-attr]
    emulator.reset_stats()
    again = manager.submit(quick_request())
    assert again.snapshot().from_cache  # type: ignore[union-attr]
    assert again.wait(0) == path  # type: ignore[union-attr]
    assert _requests(emulator.stats()) == 0


def test_concurrent_jobs_sharing_images_upload_each_image_once(
    manager: JobManager, emulator: Emulator
) -> None:
    emulator.configure(latency=0.2)  # every upload is still on the wire when the next job wants it
    first, reference = _png((200, 40, 40)), _png((40, 200, 40))
    images = [("first_frame", first), ("reference_image", reference)]
    prompts = [f"the scene comes alive, take {i}" for i in range(3)]
    jobs = [manager.submit(quick_request(prompt), images=images) for prompt in prompts]
    for job in jobs:
        job.wait(WAIT)  # type: ignore[union-attr]
    stats = emulator.stats()
    assert stats["create"] == 3
    assert stats["upload"] == 2
    assert len([r for r in _ledger(manager) if r["event"] == "uploaded"]) == 2
    bodies = [r["body"] for r in _ledger(manager) if r["event"] == "status" and r.get("body")]
    assert len({json.dumps(b["image_with_roles"], sort_keys=True) for b in bodies}) == 1  # type: ignore[index]


def test_is_cached_says_whether_submit_would_answer_from_the_saved_file(
    make_manager: Callable[..., JobManager], emulator: Emulator, tmp_outputs: Path
) -> None:
    manager = make_manager()
    picture = _png((90, 90, 200))
    request = quick_request("a glass of water on a windowsill")
    assert not manager.is_cached(request)
    job = manager.submit(request, images=[("first_frame", picture)])
    assert not manager.is_cached(request, images=[("first_frame", picture)])  # in flight: not a file yet
    path = job.wait(WAIT)  # type: ignore[union-attr]
    assert manager.is_cached(request, images=[("first_frame", picture)])
    assert not manager.is_cached(request)  # without the image it is another request
    assert not manager.is_cached(request, images=[("first_frame", _png((1, 2, 3)))])
    assert not manager.is_cached(request.replace(seed=7), images=[("first_frame", picture)])
    emulator.reset_stats()
    manager.shutdown()
    fresh = make_manager(tmp_outputs)  # a restarted kernel reads the ledger
    assert fresh.is_cached(request, images=[("first_frame", picture)])
    assert _requests(emulator.stats()) == 0  # asking sends nothing
    hit = fresh.submit(request, images=[("first_frame", picture)])
    assert hit.snapshot().from_cache  # type: ignore[union-attr]
    path.write_bytes(b"altered")
    assert not fresh.is_cached(request, images=[("first_frame", picture)])
    fresh.shutdown()
    assert not fresh.is_cached(request, images=[("first_frame", picture)])  # submit would refuse
