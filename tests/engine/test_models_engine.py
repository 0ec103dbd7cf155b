"""The engine with every model: neutral ledger records, lost replies found by business id, reference
media, last frames, prices that may be unknown, and output folders of the earlier release.

All against the emulator over loopback; the earlier release's folders are made by that release's
own code (``old_release_support``).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import clear_faults, lookups_unclear, quick_request
from old_release_support import (
    FIXTURE,
    FRAMED_PROMPT,
    LATE_PROMPT,
    PLAIN_PROMPT,
    REQUEST_FIELDS,
    OldRun,
    has_old_release,
)

from seedance_widgets.api import GenerationRequest, ValidationError, request_estimate_usd
from seedance_widgets.api.media import mp4_facts, sniff_image_type
from seedance_widgets.emulator import Emulator
from seedance_widgets.emulator.mp4 import RenderSpec, render_mp4
from seedance_widgets.engine import (
    BudgetExceededError,
    Job,
    JobFailedError,
    JobManager,
    JobMayExistError,
    JobState,
)
from seedance_widgets.engine.ledger import LEDGER_VERSION, Ledger
from seedance_widgets.engine.lookup import LOOKUP_GRACE
from seedance_widgets.engine.store import request_key

WAIT = 60.0
HTTP_KINDS = ("create", "get", "upload", "download")


def _ledger(out: Path) -> list[dict[str, Any]]:
    return Ledger(out / "ledger.jsonl").read()


def _of(out: Path, job: Job, event: str) -> list[dict[str, Any]]:
    return [r for r in _ledger(out) if r.get("job") == job.local_id and r["event"] == event]


def _http(emulator: Emulator) -> dict[str, int]:
    stats = emulator.stats()
    return {kind: stats[kind] for kind in HTTP_KINDS}


def _clip(path: Path, seconds: int, seed: int = 1) -> Path:
    """A small real MP4 of ``seconds`` seconds (made by the emulator's renderer)."""
    spec = RenderSpec(
        prompt=f"a reference clip {seed}", width=320, height=180, duration=seconds, audio=False, seed=seed
    )
    return render_mp4(spec, path)


# ---- every model ---------------------------------------------------------------------------------
def test_a_seedance_2_clip_of_15_seconds_at_1080p_is_made_and_recorded_neutrally(
    manager: JobManager, emulator: Emulator, tmp_outputs: Path
) -> None:
    request = GenerationRequest(
        prompt="a harbour at dawn", model="seedance-2", duration=15, resolution="1080p", aspect_ratio="16:9"
    )
    job = manager.submit(request)
    assert isinstance(job, Job)
    path = job.wait(WAIT)
    facts = mp4_facts(path)
    # The real MP4's own size: the nominal 1080p 16:9 size (no page gives seedance-2's exact one).
    assert (facts["width"], facts["height"]) == request.size == (1920, 1088)
    assert facts["duration"] == pytest.approx(15, abs=0.1)
    (intent,) = _of(tmp_outputs, job, "intent")
    assert intent["v"] == LEDGER_VERSION == 2
    assert intent["request"] == request.to_dict()
    assert intent["protocol"] == "toapis"
    assert intent["client_business_id"] == "sw-" + job.local_id
    assert intent["request_hash"] == request_key(request) == job.snapshot().request_hash
    assert job.snapshot().cost_estimate == request_estimate_usd(request) == pytest.approx(2.5 * 15 / 5)
    assert emulator.stats()["create"] == 1


def test_a_local_reference_video_is_uploaded_once_and_keyed_by_its_content(
    make_manager: Callable[..., JobManager], emulator: Emulator, tmp_outputs: Path, tmp_path: Path
) -> None:
    manager = make_manager()
    video = _clip(tmp_path / "reference.mp4", 3)
    prompts = ["the dancer from the clip, on a roof", "the dancer from the clip, in the rain"]
    base = {"model": "doubao-seedance-2-0", "duration": 4, "resolution": "480p"}
    jobs = [
        manager.submit(GenerationRequest(prompt=p, **base), media=[("reference_video", video)])
        for p in prompts
    ]
    for job in jobs:
        assert isinstance(job, Job)
        assert job.wait(WAIT).is_file()
    stats = emulator.stats()
    assert stats["upload"] == 1  # one upload for both jobs (same content)
    assert stats["create"] == 2
    (uploaded,) = [r for r in _ledger(tmp_outputs) if r["event"] == "uploaded"]
    sent = [r["request"] for r in _ledger(tmp_outputs) if r.get("state") == JobState.SUBMITTING]
    assert [s["video_with_roles"] for s in sent] == [
        [{"url": uploaded["url"], "role": "reference_video"}]
    ] * 2
    # The same clip as bytes (another "file") is the same request: a saved video, no HTTP.
    before = _http(emulator)
    again = GenerationRequest(prompt=prompts[0], **base)
    assert manager.is_cached(again, media=[("reference_video", video.read_bytes())])
    hit = manager.submit(again, media=[("reference_video", video.read_bytes())])
    assert isinstance(hit, Job)
    assert hit.snapshot().from_cache
    assert _http(emulator) == before
    # A restart re-uses the recorded upload when sending it again.
    manager.shutdown()
    second = make_manager()
    redo = second.resubmit(second.get(jobs[0].local_id), confirm=True)  # type: ignore[arg-type]
    assert redo.wait(WAIT).is_file()
    assert emulator.stats()["upload"] == 1


def test_local_media_is_checked_before_anything_is_sent(
    manager: JobManager, emulator: Emulator, tmp_outputs: Path, tmp_path: Path
) -> None:
    two_0 = GenerationRequest(
        prompt="checked first", model="doubao-seedance-2-0", duration=4, resolution="480p"
    )
    wav = tmp_path / "voice.wav"
    wav.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(24))
    with pytest.raises(ValidationError, match="no audio upload"):
        manager.submit(
            two_0.replace(image_with_roles=[{"url": "https://x.example/a.png", "role": "reference_image"}]),
            media=[("reference_audio", wav)],
        )
    not_video = tmp_path / "notes.mp4"
    not_video.write_bytes(b"these are notes, not a video" * 10)
    with pytest.raises(ValidationError, match="judged by its content"):
        manager.submit(two_0, media=[("reference_video", not_video)])
    with pytest.raises(ValidationError, match="1 s long"):
        manager.submit(two_0, media=[("reference_video", _clip(tmp_path / "short.mp4", 1))])
    long_ones = [("reference_video", _clip(tmp_path / f"long{n}.mp4", 8, seed=n)) for n in range(2)]
    with pytest.raises(ValidationError, match="add up to 16 s"):
        manager.submit(two_0, media=long_ones)
    with pytest.raises(ValidationError, match="reference videos"):
        manager.submit(quick_request(), media=[("reference_video", long_ones[0][1])])  # 1.5 Pro takes none
    with pytest.raises(ValidationError, match="role is one of reference_video, reference_audio"):
        manager.submit(two_0, media=[("first_frame", long_ones[0][1])])
    assert _http(emulator) == dict.fromkeys(HTTP_KINDS, 0)
    assert not (tmp_outputs / "ledger.jsonl").exists() or not _ledger(tmp_outputs)


def test_the_last_frame_is_saved_beside_the_video_and_restored(
    make_manager: Callable[..., JobManager], emulator: Emulator, tmp_outputs: Path
) -> None:
    manager = make_manager()
    request = GenerationRequest(
        prompt="a paper boat, last frame please",
        model="seedance-2",
        duration=4,
        resolution="480p",
        return_last_frame=True,
    )
    job = manager.submit(request)
    assert isinstance(job, Job)
    video = job.wait(WAIT)
    frame = job.snapshot().last_frame
    assert frame is not None
    assert frame == video.with_name(video.stem + ".last.png")
    assert sniff_image_type(frame.read_bytes()[:16]) == "image/png"
    (downloaded,) = _of(tmp_outputs, job, "downloaded")
    assert downloaded["last_frame"] == str(frame.relative_to(tmp_outputs))
    assert job.snapshot().error is None
    manager.shutdown()
    second = make_manager()
    restored = second.get(job.local_id)
    assert restored is not None
    assert restored.snapshot().last_frame == frame
    hit = second.submit(request)
    assert isinstance(hit, Job)
    assert hit.snapshot().from_cache
    assert hit.snapshot().last_frame == frame
    # A clip that did not ask for it has none.
    plain = second.submit(quick_request("no last frame asked"))
    assert isinstance(plain, Job)
    plain.wait(WAIT)
    assert plain.snapshot().last_frame is None


# ---- lost create replies -------------------------------------------------------------------------
def test_a_lost_create_reply_is_found_by_business_id_and_never_sent_again(
    make_manager: Callable[..., JobManager], emulator: Emulator, tmp_outputs: Path
) -> None:
    manager = make_manager(budget_usd=1.0)
    emulator.fail_next("create", "reset")  # the gateway makes the task, the reply is lost
    job = manager.submit(quick_request("found by its business id"))
    assert isinstance(job, Job)
    assert job.wait(WAIT).is_file()
    snap = job.snapshot()
    assert emulator.task_ids() == [snap.task_id]
    assert emulator.stats()["create"] == 1
    business_id = "sw-" + job.local_id
    events = [r["event"] for r in _of(tmp_outputs, job, "intent") + _of(tmp_outputs, job, "created")]
    assert events == ["intent", "created"]
    (intent,) = _of(tmp_outputs, job, "intent")
    (created,) = _of(tmp_outputs, job, "created")
    assert intent["client_business_id"] == created["found_by"] == business_id
    assert manager.spent_usd == pytest.approx(snap.cost_estimate)  # the task exists: its budget is kept


def test_no_task_for_the_business_id_ends_not_created_after_a_grace(
    make_manager: Callable[..., JobManager], emulator: Emulator, tmp_outputs: Path
) -> None:
    manager = make_manager(budget_usd=1.0)
    emulator.fail_next("create", "500")  # answered instead of the route: no task is made
    request = quick_request("the gateway made nothing")
    job = manager.submit(request)
    assert isinstance(job, Job)
    with pytest.raises(JobFailedError, match="not created"):
        job.wait(WAIT)
    snap = job.snapshot()
    assert snap.error_code == "not_created"
    assert f"client_business_id sw-{job.local_id}" in (snap.error or "")
    assert emulator.stats()["create"] == 1
    assert emulator.task_ids() == []
    assert emulator.stats()["get"] >= 2  # looked up more than once
    (sent,) = [r for r in _of(tmp_outputs, job, "status") if r.get("state") == JobState.SUBMITTING]
    assert snap.finished_at is not None
    grace = LOOKUP_GRACE / manager.time_scale
    assert snap.finished_at - sent["at"] >= grace * 0.9  # a 404 is believed only after the grace
    assert manager.spent_usd == 0.0  # nothing was created: the reservation is given back
    # Asking again is a new, paid task (the first made none).
    again = manager.submit(request)
    assert isinstance(again, Job)
    assert again is not job
    assert again.wait(WAIT).is_file()
    assert emulator.stats()["create"] == 2
    assert len(emulator.task_ids()) == 1


def _left_in_flight(out: Path, local_id: str, request: GenerationRequest) -> None:
    """The records a kernel killed during a create leaves: intent and submitting, no reply."""
    ledger = Ledger(out / "ledger.jsonl")
    common = {"job": local_id, "request": request.to_dict(), "protocol": "toapis"}
    business = {"client_business_id": "sw-" + local_id}
    ledger.append("intent", request_hash=request_key(request), state="intent", **common, **business)
    ledger.append("status", state="submitting", **common, **business)


def test_a_restart_looks_up_a_create_left_in_flight(
    make_manager: Callable[..., JobManager], emulator: Emulator, tmp_outputs: Path
) -> None:
    """The task is found, or the gateway has none, or it cannot tell; never created again."""
    found = quick_request("created before the kernel died")
    made = make_manager().client.create(found, client_business_id="sw-job-found")
    _left_in_flight(tmp_outputs, "job-found", found)
    _left_in_flight(tmp_outputs, "job-absent", quick_request("never reached the gateway"))
    emulator.reset_stats()
    first = make_manager()
    jobs = {j.local_id: j for j in first.jobs()}
    assert jobs["job-found"].wait(WAIT).is_file()
    assert jobs["job-found"].task_id == made.id
    with pytest.raises(JobFailedError, match="not created"):
        jobs["job-absent"].wait(WAIT)
    first.shutdown()
    _left_in_flight(tmp_outputs, "job-unclear", quick_request("no clear answer"))
    lookups_unclear(emulator)
    unclear = make_manager().get("job-unclear")
    assert unclear is not None
    with pytest.raises(JobMayExistError, match="could not tell"):
        unclear.wait(WAIT)
    clear_faults(emulator)
    assert emulator.stats()["create"] == 0
    assert emulator.task_ids() == [made.id]


# ---- prices and ids --------------------------------------------------------------------------------
def test_a_request_with_no_price_is_refused_under_a_budget_before_anything_is_sent(
    make_manager: Callable[..., JobManager], emulator: Emulator, tmp_outputs: Path
) -> None:
    request = GenerationRequest(prompt="a 4k sunrise", model="seedance-2", duration=5, resolution="4k")
    assert request_estimate_usd(request) is None
    manager = make_manager(budget_usd=100.0)
    with pytest.raises(BudgetExceededError, match="no price is known for seedance-2"):
        manager.submit(request)
    with pytest.raises(BudgetExceededError, match="no price is known"):
        manager.check_budget([request, quick_request()], name="grid")
    assert manager.spent_usd == 0.0
    dry = manager.submit(request, dry_run=True)
    assert "no estimate" in repr(dry)
    assert _http(emulator) == dict.fromkeys(HTTP_KINDS, 0)
    assert not (tmp_outputs / "ledger.jsonl").exists() or not _ledger(tmp_outputs)


def test_a_task_id_that_cannot_be_polled_fails_the_job_at_once(
    manager: JobManager, emulator: Emulator
) -> None:
    job = manager.attach("task with spaces")
    with pytest.raises(JobFailedError, match="cannot be polled"):
        job.wait(WAIT)
    assert job.snapshot().error_code == "bad_task_id"
    assert emulator.stats()["get"] == 0


def test_a_saved_video_gone_is_fetched_again_whatever_its_recorded_expiry_says(
    make_manager: Callable[..., JobManager], emulator: Emulator, tmp_outputs: Path
) -> None:
    request = quick_request("fetched again")
    first = make_manager()
    job = first.submit(request)
    assert isinstance(job, Job)
    path = job.wait(WAIT)
    first.shutdown()
    path.unlink()
    # The recorded expiry says "long gone" (a clock off by a day): only the gateway can tell.
    ledger = tmp_outputs / "ledger.jsonl"
    lines = [json.loads(line) for line in ledger.read_text().splitlines()]
    for record in lines:
        if record.get("expires_at"):
            record["expires_at"] = time.time() - 86_400
    ledger.write_text("".join(json.dumps(r) + "\n" for r in lines))
    emulator.reset_stats()
    again = make_manager().submit(request)
    assert isinstance(again, Job)
    assert again.wait(WAIT) == path
    assert emulator.stats()["download"] == 1
    assert emulator.stats()["create"] == 0


# ---- output folders of the earlier release ------------------------------------------------------
def _old_requests() -> tuple[GenerationRequest, GenerationRequest]:
    return (
        GenerationRequest(prompt=PLAIN_PROMPT, **REQUEST_FIELDS),  # type: ignore[arg-type]
        GenerationRequest(prompt=FRAMED_PROMPT, **REQUEST_FIELDS),  # type: ignore[arg-type]
    )


def _assert_old_jobs_are_cache_hits(manager: JobManager, emulator: Emulator, out: Path) -> None:
    """Both finished jobs of the old folder are listed, and asking for them again costs no HTTP."""
    plain, framed = _old_requests()
    (picture,) = (out / "uploads").glob("*.png")  # the first frame as the old release kept it
    listed = {j.snapshot().prompt: j.snapshot() for j in manager.jobs()}
    for prompt in (PLAIN_PROMPT, FRAMED_PROMPT):
        snap = listed[prompt]
        assert snap.state == JobState.DONE
        assert snap.request is not None
        assert snap.path is not None
        assert snap.path.is_file()
    before = _http(emulator)
    images = [("first_frame", picture.read_bytes())]
    assert manager.is_cached(plain)
    assert manager.is_cached(framed, images=images)
    hits = [manager.submit(plain), manager.submit(framed, images=images)]
    for hit, prompt in zip(hits, (PLAIN_PROMPT, FRAMED_PROMPT), strict=True):
        assert isinstance(hit, Job)
        assert hit.snapshot().from_cache
        assert hit.wait(0) == listed[prompt].path
    assert _http(emulator) == before  # zero creates, zero HTTP


def test_an_output_folder_of_the_earlier_release_reopens_with_zero_creates(
    make_manager: Callable[..., JobManager], emulator: Emulator, tmp_outputs: Path
) -> None:
    """The committed folder made by the earlier release (see old_release_support)."""
    shutil.copytree(FIXTURE, tmp_outputs, dirs_exist_ok=True)
    assert {r["v"] for r in _ledger(tmp_outputs)} == {1}
    manager = make_manager()
    assert len(manager.jobs()) == 2
    _assert_old_jobs_are_cache_hits(manager, emulator, tmp_outputs)
    # Cache hits write nothing: the old records are left as they were.
    assert {r["v"] for r in _ledger(tmp_outputs)} == {1}


@pytest.mark.skipif(not has_old_release(), reason="needs the git history holding commit c7bfa44")
def test_a_folder_the_earlier_release_left_mid_task_is_reattached_with_zero_creates(
    make_manager: Callable[..., JobManager], emulator: Emulator, tmp_path: Path
) -> None:
    """Made now by the earlier release's own code; its kernel dies after a create, before the download."""
    out = tmp_path / "old_outputs"
    run = OldRun(emulator.base_url, emulator.api_key, out, unfinished=True, work=tmp_path)
    run.expect("done")
    emulator.configure(speed=1.0)  # the next task takes a few seconds: the child dies before it ends
    run.go_on()
    late_task = run.expect("created").split()[1]
    run.finish()
    emulator.configure(speed=20.0)
    assert emulator.stats()["create"] == 3
    emulator.reset_stats()
    manager = make_manager(out)
    late = next(j for j in manager.jobs() if j.snapshot().prompt == LATE_PROMPT)
    assert late.task_id == late_task
    assert late.wait(WAIT).is_file()  # re-attached: polled and downloaded
    assert emulator.stats()["create"] == 0
    _assert_old_jobs_are_cache_hits(manager, emulator, out)
    hit = manager.submit(GenerationRequest(prompt=LATE_PROMPT, **REQUEST_FIELDS))  # type: ignore[arg-type]
    assert isinstance(hit, Job)
    assert hit.snapshot().from_cache
    assert emulator.stats()["create"] == 0
    assert len(emulator.task_ids()) == 3
