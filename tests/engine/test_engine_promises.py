"""The engine's money and safety promises, each attacked the way it could break.

Every test here fails when its promise is broken (each was run once against a broken engine).
The gateway is the emulator, behind a recording loopback proxy (``engine_support.GatewayProxy``)
when a test needs a reply the emulator never gives, a reply held on purpose, or the timeline of
what reached the gateway.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import os
import resource
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import clear_faults, lookups_unclear, quick_request
from engine_support import GatewayProxy, driving, json_reply, read_only_folder, spawn_child, wait_for

from seedance_widgets.api import GenerationRequest, ImageRole, MediaRole, SeedanceClient, ValidationError
from seedance_widgets.emulator import Emulator
from seedance_widgets.engine import (
    AdaptivePolicy,
    Job,
    JobManager,
    JobMayExistError,
    JobSnapshot,
    JobState,
    JobTimedOutError,
)
from seedance_widgets.engine.clock import ManualClock
from seedance_widgets.engine.creating import CREATE_RETRY_DEADLINE
from seedance_widgets.engine.errors import OutputFolderError
from seedance_widgets.engine.ledger import Ledger
from seedance_widgets.engine.restore import fold
from seedance_widgets.engine.scheduler import MAX_ACCOUNT_BACKOFF
from seedance_widgets.engine.store import request_key

pytestmark = pytest.mark.reliability

WAIT = 30.0


@pytest.fixture
def proxy(emulator: Emulator) -> Iterator[GatewayProxy]:
    gateway = GatewayProxy(emulator.base_url)
    yield gateway
    gateway.close()


@pytest.fixture
def via_proxy(
    make_manager: Callable[..., JobManager], emulator: Emulator, proxy: GatewayProxy
) -> Callable[..., JobManager]:
    """Managers whose every API call goes through the recording proxy."""

    def make(**kwargs: Any) -> JobManager:
        kwargs.setdefault("client", SeedanceClient(api_key=emulator.api_key, base_url=proxy.base_url))
        return make_manager(**kwargs)

    return make


def _events(ledger_path: Path, local_id: str) -> list[tuple[str, str | None]]:
    return [(r["event"], r.get("state")) for r in Ledger(ledger_path).read() if r.get("job") == local_id]


def _png(colour: tuple[int, int, int] = (250, 200, 0)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(buffer, format="PNG")
    return buffer.getvalue()


# ---- intent before create ------------------------------------------------------------------------
def test_intent_and_submitting_are_on_disk_while_the_create_is_on_the_wire(
    via_proxy: Callable[..., JobManager], proxy: GatewayProxy, emulator: Emulator, tmp_outputs: Path
) -> None:
    manager = via_proxy()
    held = proxy.hold_next("create")
    job = manager.submit(quick_request())
    assert isinstance(job, Job)
    assert held.arrived.wait(WAIT)  # the gateway has made the task; its reply is held here
    assert emulator.stats()["tasks"] == 1
    # Read while the create hangs: the ledger already says a create may be out.
    assert _events(tmp_outputs / "ledger.jsonl", job.local_id) == [
        ("intent", JobState.INTENT),
        ("status", JobState.SUBMITTING),
    ]
    held.release.set()
    assert job.wait(WAIT).is_file()
    assert ("created", JobState.QUEUED) in _events(tmp_outputs / "ledger.jsonl", job.local_id)


def test_a_kill_while_the_create_hangs_is_found_by_business_id_and_nothing_resent(
    make_manager: Callable[..., JobManager], emulator: Emulator, tmp_outputs: Path
) -> None:
    emulator.configure(hang_seconds=60.0)
    emulator.fail_next("create", "hang")
    child = spawn_child(emulator, tmp_outputs, count=1, tail="time.sleep(60)")
    try:
        wait_for(lambda: emulator.stats()["tasks"] == 1, WAIT, "the child's create reaching the gateway")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        assert child.stdout is not None
        child.stdout.close()
    (made,) = emulator.task_ids()
    manager = make_manager(tmp_outputs)
    (job,) = manager.jobs()
    # The restart looks the task up by the client_business_id its intent recorded, and watches it.
    assert job.wait(WAIT).is_file()
    assert job.task_id == made
    # Nothing was sent again: a later job of this manager is the only create after the kill.
    other = manager.submit(quick_request("a different request, after the kill"))
    assert isinstance(other, Job)
    assert other.wait(WAIT).is_file()
    assert emulator.stats()["create"] == 2
    assert emulator.stats()["tasks"] == 2


# ---- the cache key -------------------------------------------------------------------------------
_URL_A, _URL_B = "https://img.example/a.png", "https://img.example/b.png"
_VID_A, _VID_B = "https://media.example/a.mp4", "https://media.example/b.mp4"
_AUD_A, _AUD_B = "https://media.example/a.wav", "https://media.example/b.wav"
#: Valid requests with every field they take set away from its default where it can be: one per
#: kind of model, since some fields are only valid for some models (media, last frame, web search).
_BASES: dict[str, GenerationRequest] = {
    "1.5": GenerationRequest(
        prompt="a lantern on a pier",
        duration=6,
        aspect_ratio="4:3",
        resolution="480p",
        audio=False,
        seed=11,
        camera_fixed=False,
        image_with_roles=(ImageRole(_URL_A, "first_frame"), ImageRole(_URL_B, "reference_image")),
    ),
    "2.0": GenerationRequest(
        prompt="a lantern on a pier",
        model="doubao-seedance-2-0",
        duration=6,
        aspect_ratio="4:3",
        resolution="480p",
        audio=False,
        seed=11,
        image_with_roles=(ImageRole(_URL_B, "reference_image"),),
        video_with_roles=(MediaRole(_VID_A, "reference_video"),),
        audio_with_roles=(MediaRole(_AUD_A, "reference_audio"),),
    ),
    # Valid for several models as it is: only its model changes.
    "plain": GenerationRequest(
        prompt="a lantern on a pier", duration=5, aspect_ratio="16:9", resolution="720p", audio=False, seed=3
    ),
}
_BASE = _BASES["1.5"]
#: For each request field, (base, new value) changes that must change the cache key. A field added
#: to GenerationRequest without an entry here fails the test below, so it cannot be forgotten.
_CHANGES: dict[str, list[tuple[str, Any]]] = {
    "prompt": [("1.5", "a lantern on a pier."), ("1.5", "A lantern on a pier")],
    "duration": [("1.5", 7), ("2.0", -1)],
    "aspect_ratio": [("1.5", "16:9"), ("2.0", "adaptive")],
    "resolution": [("1.5", "720p"), ("2.0", "720p")],
    "audio": [("1.5", True), ("2.0", True)],
    "seed": [("1.5", 12), ("1.5", None), ("1.5", -1), ("2.0", 12)],
    "camera_fixed": [("1.5", True)],
    "image_urls": [("1.5", (_URL_A,)), ("1.5", (_URL_A, _URL_B))],
    "image_with_roles": [
        ("1.5", (ImageRole(_URL_B, "first_frame"), ImageRole(_URL_B, "reference_image"))),  # another url
        ("1.5", (ImageRole(_URL_A, "last_frame"), ImageRole(_URL_B, "reference_image"))),  # another role
        ("1.5", (ImageRole(_URL_B, "reference_image"), ImageRole(_URL_A, "first_frame"))),  # another order
        ("1.5", (ImageRole(_URL_A, "first_frame"),)),  # one fewer
        ("1.5", ()),
        ("2.0", (ImageRole(_URL_A, "reference_image"),)),
    ],
    "model": [
        ("plain", "doubao-seedance-2-0"),
        ("plain", "seedance-2"),
        ("plain", "doubao-seedance-1-0-pro-fast"),
    ],
    "video_with_roles": [
        ("2.0", (MediaRole(_VID_B, "reference_video"),)),
        ("2.0", (MediaRole(_VID_A, "reference_video"), MediaRole(_VID_B, "reference_video"))),
        ("2.0", ()),
    ],
    "audio_with_roles": [("2.0", (MediaRole(_AUD_B, "reference_audio"),)), ("2.0", ())],
    "return_last_frame": [("2.0", True)],
    "web_search": [("2.0", True)],
    "service_tier": [("1.5", "flex")],
}


def _changed(base: GenerationRequest, name: str, value: Any) -> GenerationRequest:
    if name == "image_urls":
        base = base.replace(image_with_roles=())
    return base.replace(**{name: value})


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(GenerationRequest)])
def test_every_request_field_is_part_of_the_cache_key(name: str) -> None:
    assert name in _CHANGES, (
        f"GenerationRequest.{name} is new: add the changes that must change the cache key"
    )
    for base_name, value in _CHANGES[name]:
        base = _BASES[base_name]
        variant = _changed(base, name, value)
        assert getattr(variant, name) != getattr(base, name)
        assert request_key(variant) != request_key(base), f"{name}={value!r} keys like the {base_name} base"


def test_equal_requests_key_equal_however_they_were_made() -> None:
    for base in _BASES.values():
        assert request_key(GenerationRequest.from_body(base.to_body())) == request_key(base)
        assert request_key(GenerationRequest.from_dict(base.to_dict())) == request_key(base)
    same = GenerationRequest.from_body(dict(reversed(list(_BASE.to_body().items()))))
    assert request_key(same) == request_key(_BASE)
    whole_float = _BASE.replace(duration=6.0, seed=11.0)
    assert request_key(whole_float) == request_key(_BASE)
    # Roles by count or by name: the same intent.
    by_count = _BASE.replace(image_with_roles=(), image_urls=(_URL_A, _URL_B))
    by_name = _BASE.replace(
        image_with_roles=(ImageRole(_URL_A, "first_frame"), ImageRole(_URL_B, "last_frame"))
    )
    assert request_key(by_count) == request_key(by_name)
    # Inputs given apart (as submit's images=/media=) key like the same URLs in the request.
    bare = _BASES["2.0"].replace(image_with_roles=(), video_with_roles=(), audio_with_roles=())
    apart = [("reference_image", _URL_B), ("reference_video", _VID_A), ("reference_audio", _AUD_A)]
    assert request_key(bare, apart) == request_key(_BASES["2.0"])
    # A local file is keyed by its content, whatever URL an upload gave it.
    marker = "sha256:" + "ab" * 32
    plain = _BASE.replace(image_with_roles=())
    assert request_key(plain, [("first_frame", marker)]) == request_key(plain, [("first_frame", marker)])
    assert request_key(plain, [("first_frame", marker)]) != request_key(
        plain, [("first_frame", "sha256:" + "cd" * 32)]
    )
    assert request_key(plain, [("first_frame", marker)]) != request_key(plain, [("last_frame", marker)])
    video = _BASES["2.0"].replace(video_with_roles=())
    assert request_key(video, [("reference_video", marker)]) != request_key(
        video, [("reference_video", _VID_A)]
    )


def test_the_manager_keys_requests_with_the_same_rule(manager: JobManager, emulator: Emulator) -> None:
    picture = _png()
    plain = quick_request()
    hashes = {
        manager.submit(plain, dry_run=True).request_hash,  # type: ignore[union-attr]
        manager.submit(plain.replace(seed=3), dry_run=True).request_hash,  # type: ignore[union-attr]
        manager.submit(plain, images=[("first_frame", picture)], dry_run=True).request_hash,  # type: ignore[union-attr]
        manager.submit(plain, images=[("last_frame", picture)], dry_run=True).request_hash,  # type: ignore[union-attr]
        manager.submit(plain, images=[("first_frame", _png((1, 2, 3)))], dry_run=True).request_hash,  # type: ignore[union-attr]
    }
    assert len(hashes) == 5
    again = manager.submit(quick_request(), images=[("first_frame", bytes(picture))], dry_run=True)
    assert again.request_hash in hashes  # type: ignore[union-attr]
    assert emulator.stats()["create"] == 0


# ---- the account-wide back-off -------------------------------------------------------------------
# These run the engine on a ManualClock: its waits end only when the test moves the clock, and the
# proxy stamps each request with that clock, so "nobody called for N seconds" is read off the
# timeline exactly, whatever the load on the machine.
def _first_poll(scale: float) -> float:
    """When a new task is first polled, on the engine's clock."""
    return AdaptivePolicy().next_delay([]) / scale


def _live_job(manager: JobManager, clock: ManualClock, scale: float, prompt: str) -> Job:
    """A job whose task exists and whose first poll is scheduled (the engine waits for it)."""
    due = clock.monotonic() + _first_poll(scale)
    job = manager.submit(quick_request(prompt))
    assert isinstance(job, Job)
    clock.wait_for_waits(lambda waits: any(abs(w - due) < 1e-9 for w in waits), WAIT, "the first poll")
    return job


def _two_live_jobs(manager: JobManager, clock: ManualClock, scale: float) -> list[Job]:
    """Two jobs with tasks; the second made half a first-poll later, so their polls never coincide."""
    first = _live_job(manager, clock, scale, "a long slow tide, take 0")
    clock.advance(_first_poll(scale) / 2)
    second = manager.submit(quick_request("a long slow tide, take 1"))
    assert isinstance(second, Job)
    wait_for(lambda: second.task_id is not None, WAIT, "the second task")
    return [first, second]


def _first_poll_meets_a_429(
    clock: ManualClock, proxy: GatewayProxy, emulator: Emulator, jobs: list[Job], scale: float
) -> None:
    """Move the clock to the first job's first poll (answered 429), and return once the jobs say
    they are rate limited. The clock then stands still: the 429 is at the proxy's "now"."""
    limited = threading.Event()
    for job in jobs:
        job.subscribe(lambda snap: limited.set() if snap.error_code == "rate_limited" else None)
    emulator.fail_next("get", "429")
    clock.advance(_first_poll(scale) + 1e-6 - clock.monotonic())
    wait_for(lambda: [hit.status for hit in proxy.kinds("get")] == [429], WAIT, "the first poll answered")
    assert limited.wait(WAIT), "no job said it was rate limited"


def _quiet_after_429(proxy: GatewayProxy) -> tuple[float, float]:
    """(when the 429 was answered, seconds until the account's next request reached the gateway),
    on the proxy's clock."""
    hits = proxy.kinds("create", "get", "upload")
    (limited,) = [hit for hit in hits if hit.status == 429]
    later = [hit.at for hit in hits if hit.at > limited.replied]
    assert later, "work never resumed after the 429"
    return limited.replied, min(later) - limited.replied


def test_after_a_429_nobody_on_the_account_calls_for_retry_after_seconds(
    via_proxy: Callable[..., JobManager], proxy: GatewayProxy, emulator: Emulator
) -> None:
    emulator.configure(profile="realistic", speed=60.0, retry_after=1.0)
    clock = ManualClock()
    proxy.clock = clock.monotonic
    manager = via_proxy(time_scale=60.0, clock=clock)
    jobs = _two_live_jobs(manager, clock, 60.0)
    notices: list[str | None] = []
    jobs[0].subscribe(lambda snap: notices.append(snap.error_code))
    _first_poll_meets_a_429(clock, proxy, emulator, jobs, 60.0)
    with driving(clock):
        for job in jobs:
            assert job.wait(WAIT).is_file()
    _, quiet = _quiet_after_429(proxy)
    assert quiet >= 1.0, f"a request reached the gateway {quiet:.3f} s after a 429 asking for 1 s"
    assert "rate_limited" in notices  # the jobs said why they waited
    assert all(job.snapshot().error is None for job in jobs)
    assert emulator.stats()["create"] == 2


def test_a_huge_retry_after_is_capped_and_said(
    via_proxy: Callable[..., JobManager], proxy: GatewayProxy, emulator: Emulator
) -> None:
    emulator.configure(profile="realistic", speed=60.0, retry_after=86400.0)
    scale = 300.0
    cap = MAX_ACCOUNT_BACKOFF / scale  # one second on the engine's clock
    clock = ManualClock()
    proxy.clock = clock.monotonic
    manager = via_proxy(time_scale=scale, deadline_s=WAIT * scale, clock=clock)
    jobs = _two_live_jobs(manager, clock, scale)
    said: list[str] = []
    jobs[1].subscribe(lambda snap: said.append(snap.error or ""))
    _first_poll_meets_a_429(clock, proxy, emulator, jobs, scale)
    with driving(clock):
        for job in jobs:
            assert job.wait(WAIT).is_file()  # a day's Retry-After froze nothing for a day
    _, quiet = _quiet_after_429(proxy)
    assert cap <= quiet < cap + 5.0
    assert any("rate limited" in text and "capped" in text for text in said)


def test_a_deadline_passes_on_time_even_while_the_back_off_holds_every_poll(
    via_proxy: Callable[..., JobManager], proxy: GatewayProxy, emulator: Emulator
) -> None:
    emulator.configure(profile="realistic", retry_after=86400.0)  # tasks of 3-15 s at speed 20
    clock = ManualClock()
    proxy.clock = clock.monotonic
    # One second of the engine's clock at speed 20; the back-off's cap is 15 s.
    manager = via_proxy(deadline_s=20.0, clock=clock)
    job = _live_job(manager, clock, emulator.config.speed, "a red kite over green hills")
    _first_poll_meets_a_429(clock, proxy, emulator, [job], emulator.config.speed)
    with driving(clock), pytest.raises(JobTimedOutError):
        job.wait(8.0)
    snap = job.snapshot()
    assert snap.finished_at is not None
    assert snap.submitted_at is not None
    # Watched from its creation (the clock stood still from submit to then) for one second.
    assert snap.finished_at - snap.submitted_at <= 1.0 + 0.125, "the deadline passed late"
    assert snap.finished_at - snap.submitted_at < MAX_ACCOUNT_BACKOFF / emulator.config.speed
    assert job.task_id in (snap.error or "")
    assert [hit.status for hit in proxy.kinds("get")] == [429]  # no poll happened after the 429


# ---- creates that can never be sent --------------------------------------------------------------
def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_gateway_fails_the_create_as_not_sent_after_its_deadline(
    make_manager: Callable[..., JobManager],
) -> None:
    scale = CREATE_RETRY_DEADLINE / 1.0  # the create's deadline is one second of the engine's clock
    clock = ManualClock()
    client = SeedanceClient(api_key="k-test-0123456789", base_url=f"http://127.0.0.1:{_closed_port()}")
    manager = make_manager(client=client, time_scale=scale, budget_usd=1.0, clock=clock)
    job = manager.submit(quick_request())
    assert isinstance(job, Job)
    seen: list[JobSnapshot] = []
    job.subscribe(seen.append)
    with driving(clock), pytest.raises(Exception, match="not sent, nothing billed"):
        job.wait(10.0)
    snap = job.snapshot()
    assert snap.state == JobState.FAILED
    assert snap.error_code == "not_sent"
    assert "could not connect" in (snap.error or "")
    assert snap.finished_at is not None
    assert snap.submitted_at is not None
    assert 1.0 <= snap.finished_at - snap.submitted_at <= 1.0 + 0.25  # at its deadline, not before
    assert manager.spent_usd == 0.0  # the reservation was given back
    assert any(s.reconnecting for s in seen)


# ---- replies that must not make anyone pay twice -------------------------------------------------
_NESTED = b"[" * 200_000 + b"]" * 200_000  # so deep that a naive reader raises RecursionError


@pytest.mark.parametrize(
    "body",
    [b"", b"{}", b'{"status": "queued"}', b"<html>ok</html>", _NESTED],
    ids=["empty", "no-id", "status-only", "html", "nested"],
)
@pytest.mark.parametrize("lookup", ["answers", "unclear"])
def test_a_create_reply_without_a_task_id_is_looked_up_never_resent_and_keeps_the_budget(
    via_proxy: Callable[..., JobManager], proxy: GatewayProxy, emulator: Emulator, body: bytes, lookup: str
) -> None:
    manager = via_proxy(budget_usd=1.0)
    proxy.rewrite_next("create", lambda reply: (200, reply[1], body))
    if lookup == "unclear":
        lookups_unclear(emulator)
    request = quick_request()
    job = manager.submit(request)
    assert isinstance(job, Job)
    if lookup == "answers":
        # Found by the client_business_id the create carried: the job watches that task.
        assert job.wait(WAIT).is_file()
        assert emulator.task_ids() == [job.task_id]
    else:
        with pytest.raises(JobMayExistError):
            job.wait(WAIT)
        clear_faults(emulator)
    assert emulator.stats()["tasks"] == 1  # it does exist: "failed" would invite paying twice
    assert emulator.stats()["create"] == 1
    assert manager.spent_usd == pytest.approx(job.snapshot().cost_estimate)
    again = manager.submit(request)  # asking again does not pay again
    assert again is job or (isinstance(again, Job) and again.snapshot().from_cache)
    assert emulator.stats()["create"] == 1


@pytest.mark.parametrize("body", [b"", b"not json", b"{}"], ids=repr)
def test_one_unreadable_poll_reply_is_a_network_fault_not_a_failed_task(
    via_proxy: Callable[..., JobManager], proxy: GatewayProxy, emulator: Emulator, body: bytes
) -> None:
    manager = via_proxy()
    proxy.rewrite_next("get", lambda reply: (200, reply[1], body))
    job = manager.submit(quick_request())
    assert isinstance(job, Job)
    flags: list[bool] = []
    job.subscribe(lambda snap: flags.append(snap.reconnecting))
    assert job.wait(WAIT).is_file()
    assert True in flags
    assert emulator.stats()["create"] == 1


def test_an_expires_at_in_the_past_is_no_verdict_the_download_is_tried(
    via_proxy: Callable[..., JobManager], proxy: GatewayProxy, emulator: Emulator
) -> None:
    def skewed(task: dict[str, Any]) -> dict[str, Any]:
        if task.get("status") == "completed":
            task["expires_at"] = int(time.time()) - 3600  # our clock (or theirs) is off by an hour
        return task

    proxy.rewrite_every("get", json_reply(skewed))
    manager = via_proxy()
    job = manager.submit(quick_request())
    assert isinstance(job, Job)
    path = job.wait(WAIT)
    assert path.is_file()
    assert (job.snapshot().expires_at or 0) < time.time()
    assert emulator.stats()["download"] == 1


class _BugAfterSending(SeedanceClient):
    """A client with a bug that strikes after the create went out (the gateway made the task).
    The real client is careful; this stands for whatever bug the next change brings."""

    def create(self, request: GenerationRequest, *, client_business_id: str | None = None) -> Any:
        super().create(request, client_business_id=client_business_id)
        raise RuntimeError("a bug after the create was sent")


class _BugBeforeSending(SeedanceClient):
    """A client with a bug that strikes while preparing the images, before any create."""

    def upload_image(self, source: Any, *, filename: str | None = None) -> str:
        raise RuntimeError("a bug before anything was sent")


def test_a_surprise_after_the_create_was_sent_ends_may_exist_never_stuck(
    make_manager: Callable[..., JobManager], emulator: Emulator
) -> None:
    client = _BugAfterSending(api_key=emulator.api_key, base_url=emulator.base_url)
    manager = make_manager(client=client, budget_usd=1.0)
    job = manager.submit(quick_request())
    assert isinstance(job, Job)
    with pytest.raises(JobMayExistError, match="RuntimeError"):
        job.wait(WAIT)
    assert emulator.stats()["tasks"] == 1
    assert manager.spent_usd > 0  # still reserved: the task may be billed


def test_a_surprise_before_the_create_was_sent_fails_as_not_sent(
    make_manager: Callable[..., JobManager], emulator: Emulator
) -> None:
    client = _BugBeforeSending(api_key=emulator.api_key, base_url=emulator.base_url)
    manager = make_manager(client=client, budget_usd=1.0)
    job = manager.submit(quick_request(), images=[("first_frame", _png())])
    assert isinstance(job, Job)
    with pytest.raises(Exception, match="nothing billed"):
        job.wait(WAIT)
    assert job.status == JobState.FAILED
    assert emulator.stats()["create"] == 0
    assert manager.spent_usd == 0.0


# ---- a record that cannot be written after the create ---------------------------------------------
@contextlib.contextmanager
def _unwritable_ledger(how: str, folder: Path) -> Iterator[Path]:
    """The ledger cannot be written while the block runs; yields where its records can be read.

    ``read-only``: the folder is read-only (the ledger opens, each write fails). ``replaced``: the
    ledger's path is a folder (it cannot even be opened). Both are OSErrors to the engine.
    """
    ledger = folder / "ledger.jsonl"
    if how == "read-only":
        with read_only_folder(folder):
            yield ledger
        return
    aside = folder / "ledger.aside"
    ledger.rename(aside)
    ledger.mkdir()
    try:
        yield aside
    finally:
        ledger.rmdir()
        aside.rename(ledger)


@pytest.mark.parametrize("how", ["read-only", "replaced"])
def test_a_created_record_that_cannot_be_written_never_loses_the_task_id(
    via_proxy: Callable[..., JobManager],
    make_manager: Callable[..., JobManager],
    proxy: GatewayProxy,
    emulator: Emulator,
    tmp_outputs: Path,
    how: str,
) -> None:
    emulator.configure(profile="realistic")  # the task lives for seconds: time to look at it
    ledger = tmp_outputs / "ledger.jsonl"
    manager = via_proxy()
    held = proxy.hold_next("create")
    job = manager.submit(quick_request())
    assert isinstance(job, Job)
    assert held.arrived.wait(WAIT)
    with _unwritable_ledger(how, tmp_outputs) as readable:
        held.release.set()
        wait_for(lambda: job.task_id is not None, WAIT, "the task id")
        snap = job.snapshot()
        assert snap.state in (JobState.QUEUED, JobState.RUNNING)
        assert snap.error_code == "ledger_write_failed"
        assert snap.task_id in (snap.error or "")
        assert not [r for r in Ledger(readable).read() if r["event"] == "created"]
    # Written at the next poll, in order, and the job no longer warns.
    written = ("created", JobState.QUEUED)
    wait_for(lambda: written in _events(ledger, job.local_id), WAIT, "the created record")
    wait_for(lambda: job.snapshot().error is None, WAIT, "the warning to go")
    job.cancel()
    assert [e for e, _ in _events(ledger, job.local_id)][-1] == "cancelled"
    manager.shutdown()
    restored = make_manager(tmp_outputs).get(job.local_id)
    assert restored is not None
    assert restored.task_id == job.task_id
    assert emulator.stats()["create"] == 1


def test_cancel_while_the_create_is_on_the_wire_keeps_the_task_id_and_says_billed(
    via_proxy: Callable[..., JobManager],
    make_manager: Callable[..., JobManager],
    proxy: GatewayProxy,
    emulator: Emulator,
    tmp_outputs: Path,
) -> None:
    emulator.configure(profile="realistic")
    manager = via_proxy()
    held = proxy.hold_next("create")
    job = manager.submit(quick_request())
    assert isinstance(job, Job)
    assert held.arrived.wait(WAIT)
    job.cancel()
    assert job.status == JobState.CANCELLED
    assert "billed" in (job.error or "")
    held.release.set()
    wait_for(lambda: job.task_id is not None, WAIT, "the task id of the cancelled job")
    snap = job.snapshot()
    assert snap.state == JobState.CANCELLED
    assert "billed" in (snap.error or "")
    assert "nothing was created" not in (snap.error or "")
    assert emulator.task_ids() == [snap.task_id]
    manager.shutdown()
    again = make_manager(tmp_outputs).get(job.local_id)  # a restart does not watch it again
    assert again is not None
    assert again.status == JobState.CANCELLED
    assert again.task_id == snap.task_id


def test_cancel_before_the_create_is_sent_sends_nothing(
    via_proxy: Callable[..., JobManager], proxy: GatewayProxy, emulator: Emulator
) -> None:
    emulator.configure(profile="realistic")
    manager = via_proxy(max_concurrent_creates=1)
    held = proxy.hold_next("create")
    first = manager.submit(quick_request("holds the only create slot"))
    waiting = manager.submit(quick_request("waits for the slot, then is cancelled"))
    assert isinstance(first, Job)
    assert isinstance(waiting, Job)
    assert held.arrived.wait(WAIT)
    assert waiting.status == JobState.INTENT  # provably not sent: the only slot is taken
    waiting.cancel()
    assert "nothing was created" in (waiting.error or "")
    held.release.set()
    # Creates run in submit order: once a later job's create is done, the cancelled one's turn
    # has come and gone.
    later = manager.submit(quick_request("submitted after the cancel"))
    assert isinstance(later, Job)
    wait_for(lambda: later.task_id is not None, WAIT, "the later create")
    assert emulator.stats()["create"] == 2
    assert waiting.task_id is None
    assert waiting.status == JobState.CANCELLED
    for job in (first, later):
        job.cancel()


# ---- a damaged or read-only output folder -----------------------------------------------------------
_GOOD_BODY = quick_request("from a damaged ledger").to_body()
#: Each field a record may carry, with a value of the wrong type.
_BAD_FIELDS: dict[str, Any] = {
    "event": 5,
    "at": "yesterday",
    "request_hash": 7,
    "task_id": {"id": 1},
    "error": ["boom"],
    "error_code": 3.5,
    "video_url": 1,
    "expires_at": "soon",
    "sha256": True,
    "seed": "seven",
    "owner": 12,
    "progress": "50",
    "cost_estimate": "a lot",
    "path": 5,
    "state": "exploded",
    "finished_at": [],
    "images": {"role": "first_frame"},
    "request": [1, 2],
    "body": "not a body",
}


@pytest.mark.parametrize("field", sorted(_BAD_FIELDS))
def test_a_wrong_typed_field_is_skipped_and_the_folder_still_opens(
    field: str, make_manager: Callable[..., JobManager], tmp_outputs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = [
        {"v": 1, "at": 1.0, "event": "intent", "job": "job-bad", "request_hash": "h", "request": _GOOD_BODY},
        {"v": 1, "at": 2.0, "event": "created", "job": "job-bad", "task_id": "task_1", "state": "queued"},
        {"v": 1, "at": 3.0, "event": "failed", "job": "job-bad", "state": "failed", "error": "it failed"},
    ]
    bad = {"v": 1, "at": 4.0, "event": "status", "job": "job-bad", field: _BAD_FIELDS[field]}
    lines = [*good, bad, bad]  # the same bad field twice: logged once
    (tmp_outputs / "ledger.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    with caplog.at_level(logging.WARNING, logger="seedance_widgets.engine"):
        jobs, _ = fold(Ledger(tmp_outputs / "ledger.jsonl").read(), tmp_outputs)
        manager = make_manager(tmp_outputs)
    assert jobs["job-bad"].task_id == "task_1"
    job = manager.get("job-bad")
    assert job is not None
    snap = job.snapshot()
    assert snap.state == JobState.FAILED
    assert snap.task_id == "task_1"
    assert snap.error == "it failed"
    assert snap.request is not None
    assert snap.status_line()  # shows without a TypeError
    assert repr(job)
    if field not in ("request", "body"):  # a dict that is not a request is reported as such
        warned = [r for r in caplog.records if field in r.getMessage() and "wrong type" in r.getMessage()]
        assert len(warned) == 1


def test_a_read_only_folder_serves_saved_videos_and_refuses_new_work_before_any_call(
    make_manager: Callable[..., JobManager], emulator: Emulator, tmp_outputs: Path
) -> None:
    first = make_manager(tmp_outputs)
    saved = first.submit(quick_request("saved before the folder went read-only"))
    assert isinstance(saved, Job)
    path = saved.wait(WAIT)
    first.shutdown()
    before = emulator.stats()
    with read_only_folder(tmp_outputs):
        manager = make_manager(tmp_outputs)
        assert manager.read_only
        assert [j.local_id for j in manager.jobs()] == [saved.local_id]  # the history
        hit = manager.submit(quick_request("saved before the folder went read-only"))
        assert isinstance(hit, Job)
        assert hit.snapshot().from_cache
        assert hit.wait(1) == path
        with pytest.raises(OutputFolderError, match="cannot be written") as caught:
            manager.submit(quick_request("a new one"))
        assert "nothing is sent" in str(caught.value) or "before anything is sent" in str(caught.value)
        manager.shutdown()
    after = emulator.stats()
    assert (after["create"], after["get"], after["download"]) == (
        before["create"],
        before["get"],
        before["download"],
    )


# ---- local images taken in by the Python API ---------------------------------------------------------
def _refused(manager: JobManager, source: Any, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        manager.submit(quick_request(), images=[("first_frame", source)])


def test_local_images_are_checked_before_anything_is_copied_or_sent(
    manager: JobManager, emulator: Emulator, tmp_path: Path
) -> None:
    text = tmp_path / "notes.png"
    text.write_text("not an image at all\n")
    _refused(manager, text, "not a JPEG, PNG, WebP or GIF image")
    system = tmp_path / "passwd.png"
    system.symlink_to("/etc/passwd")
    _refused(manager, system, "not a JPEG, PNG, WebP or GIF image")
    _refused(manager, b"GIF-ish but not", "not a JPEG, PNG, WebP or GIF image")
    _refused(manager, tmp_path / "missing.png", "no image file")
    _refused(manager, tmp_path, "a folder, not a regular image file")
    _refused(manager, Path("/dev/zero"), "a device")
    assert not list(manager.store.uploads.iterdir())  # nothing was copied in
    assert emulator.stats()["create"] == emulator.stats()["upload"] == 0
    # A symlink to a real image is followed (the documented rule).
    picture = tmp_path / "real.png"
    picture.write_bytes(_png())
    link = tmp_path / "link.png"
    link.symlink_to(picture)
    dry = manager.submit(quick_request(), images=[("first_frame", link)], dry_run=True)
    assert dry.request_hash  # type: ignore[union-attr]


def test_a_fifo_is_refused_without_blocking(manager: JobManager, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def attempt() -> None:
        try:
            manager.submit(quick_request(), images=[("first_frame", fifo)])
        except BaseException as err:
            outcome.append(err)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():  # unblock the reader before failing, so no thread is left hanging
        with open(fifo, "wb"):
            pass
        pytest.fail("submit blocked on a FIFO")
    assert isinstance(outcome[0], ValidationError)
    assert "FIFO" in str(outcome[0])


def test_a_huge_sparse_image_is_refused_by_its_size_without_being_read(
    manager: JobManager, tmp_path: Path
) -> None:
    huge = tmp_path / "huge.png"
    with huge.open("wb") as handle:
        handle.write(_png())
        handle.truncate(2 * 1024**3)  # 2 GB, sparse: costs no disk, but reading it would cost RAM
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    _refused(manager, huge, "at most 10 MB")
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert grown < 200 * 1024, f"the process grew by {grown // 1024} MiB: the file was read"
    assert not list(manager.store.uploads.iterdir())


# ---- leftovers of crashed writers --------------------------------------------------------------------
def test_a_manager_removes_temporary_files_no_live_writer_owns(
    make_manager: Callable[..., JobManager], tmp_outputs: Path
) -> None:
    live = make_manager(tmp_outputs)  # a live manager: its job's files are in use
    Ledger(tmp_outputs / "ledger.jsonl").append("intent", job="job-live", owner=live.owner_id, state="intent")
    Ledger(tmp_outputs / "ledger.jsonl").append(
        "intent", job="job-dead", owner="0deadbeef000", state="intent"
    )
    videos, uploads = tmp_outputs / "videos", tmp_outputs / "uploads"
    old = time.time() - 3600
    files = {
        "dead incoming": videos / ".incoming-job-dead.mp4",
        "dead part": videos / "..incoming-job-dead.mp4.x1y2.part",
        "unknown job": videos / ".incoming-job-nobody.mp4",
        "dead copy": uploads / f".abcd.png.{_dead_pid()}.part",
        "live incoming": videos / ".incoming-job-live.mp4",
        "our own copy": uploads / f".abcd.png.{os.getpid()}.part",
        "fresh": videos / ".incoming-job-fresh.mp4",
    }
    for name, path in files.items():
        path.write_bytes(b"half")
        if name != "fresh":
            os.utime(path, (old, old))
    make_manager(tmp_outputs)
    left = {name for name, path in files.items() if path.exists()}
    assert left == {"live incoming", "our own copy", "fresh"}


def _dead_pid() -> int:
    """The id of a process that has ended."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_an_intent_that_cannot_be_written_sends_nothing(
    make_manager: Callable[..., JobManager], emulator: Emulator, tmp_outputs: Path
) -> None:
    manager = make_manager(tmp_outputs)
    manager.submit(quick_request("writes the ledger once")).wait(WAIT)  # type: ignore[union-attr]
    with read_only_folder(tmp_outputs):  # the folder goes read-only under an open manager
        with pytest.raises(OutputFolderError, match="not sent, nothing billed"):
            manager.submit(quick_request("its intent cannot be written"))
        assert emulator.stats()["create"] == 1
    later = manager.submit(quick_request("writable again"))
    assert isinstance(later, Job)
    assert later.wait(WAIT).is_file()
    assert emulator.stats()["create"] == 2  # the refused one was never sent, then or later
    assert [j.snapshot().prompt for j in manager.jobs() if not j.snapshot().is_final] == []  # none stuck
    assert manager.spent_usd == pytest.approx(2 * later.snapshot().cost_estimate)  # its budget is back
