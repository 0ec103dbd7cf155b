"""An Ark cancel never holds its caller (issue 14): the engine's workers send it.

``Job.cancel()`` is called from the kernel's shell thread (the card's stop button), from
``%seedance cancel`` and from user code; Ark's cancel is a GET then a DELETE that may take up to
the client's whole-call deadline. So ``cancel()`` only records the intent (``cancel_outcome ==
"cancelling"``) and returns a handle; the pool asks Ark, and the outcome reaches observers like
any other change. Against the real emulator's Ark side, with its ``hang`` fault holding every reply
of the task's URL (the cancel's GET and DELETE among them).

Money promises guarded here: a queued task cancelled this way is not billed (``/_emulator/stats``),
and a second cancel while the first is on its way sends no second DELETE.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import engine_threads
from engine_support import wait_for

from seedance_widgets.api import GenerationRequest, SeedanceClient
from seedance_widgets.emulator import Emulator, EmulatorConfig
from seedance_widgets.engine import CancelHandle, Job, JobManager, JobSnapshot, JobState
from seedance_widgets.magic import link

#: A task stays queued for the whole test (emulator seconds).
FOREVER = 100_000.0
#: How long the emulator holds each faulty reply (real seconds): a cancel made in the caller's
#: thread would take at least this long (its GET alone), twice with its DELETE.
HANG = 8.0
#: "At once", generously: far more than a cancel that sends nothing needs, far less than ``HANG``.
AT_ONCE = HANG / 2


def _request(prompt: str = "a paper boat that never sails") -> GenerationRequest:
    return GenerationRequest(prompt=prompt, duration=4, resolution="480p")


@pytest.fixture
def ark_manager(ark_env: Emulator, tmp_outputs: Path) -> Iterator[JobManager]:
    """A manager speaking Ark to the test's emulator; after it, no fault is left and every engine
    thread has ended (a worker in a held reply ends when the emulator lets it go)."""
    before = set(engine_threads())
    manager = JobManager(tmp_outputs, client=SeedanceClient(provider="ark"), time_scale=ark_env.config.speed)
    yield manager
    ark_env.configure(fail_next={})
    manager.shutdown()
    wait_for(
        lambda: not [t for t in engine_threads() if t not in before and t.is_alive()],
        timeout=3 * HANG,
        what="engine threads ended",
    )


def _queued_job(manager: JobManager) -> Job:
    job = manager.submit(_request())
    assert isinstance(job, Job)
    wait_for(lambda: job.snapshot().state == JobState.QUEUED and job.task_id is not None, what="queued")
    return job


def _stats(emulator: Emulator) -> dict[str, Any]:
    """The emulator's counters as a client sees them: ``/_emulator/stats`` over HTTP."""
    with urllib.request.urlopen(emulator.base_url + "/_emulator/stats", timeout=10) as reply:
        data: dict[str, Any] = json.load(reply)
    return data


def test_cancel_returns_at_once_while_ark_hangs_and_the_outcome_reaches_observers_later(
    ark_env: Emulator, ark_manager: JobManager
) -> None:
    ark_env.configure(ark_queue_seconds=FOREVER, hang_seconds=HANG)
    job = _queued_job(ark_manager)
    told: list[tuple[str | None, str]] = []
    outcome = threading.Event()

    def observe(snap: JobSnapshot) -> None:
        told.append((snap.cancel_outcome, threading.current_thread().name))
        if snap.cancel_outcome not in (None, "cancelling"):
            outcome.set()

    job.subscribe(observe)
    # Every look at the task from now on is held: the cancel's GET, its DELETE, and polls.
    ark_env.fail_next("get", "hang", count=100)
    returned = threading.Event()
    handles: list[CancelHandle] = []
    returned_at: list[float] = []

    def press_stop() -> None:  # as the card's button does, on a thread of its own (the kernel's)
        handles.append(job.cancel())
        returned_at.append(time.time())
        returned.set()

    threading.Thread(target=press_stop, name="kernel-shell", daemon=True).start()
    assert returned.wait(AT_ONCE), f"cancel() held its caller while Ark hung (over {AT_ONCE:g}s)"
    handle = handles[0]
    snap = job.snapshot()
    assert (snap.state, snap.cancel_outcome, snap.error_code) == (JobState.QUEUED, "cancelling", "cancelling")
    assert snap.error is not None
    assert "asking Ark to cancel" in snap.error
    shown = [name for word, name in told if word == "cancelling"]
    assert shown[0] == "kernel-shell"  # the intent is shown by the caller, at once
    # Pressed again while Ark has not answered: the same cancel, no second request.
    again = job.cancel()

    assert outcome.wait(6 * HANG), f"no cancel outcome reached the observer: {told}"
    assert handle.wait(HANG) == "cancelled"
    assert handle.done
    snap = job.snapshot()
    assert (snap.state, snap.cancel_outcome, snap.usage_tokens) == (JobState.CANCELLED, "cancelled", 0)
    assert snap.error is not None
    assert "not billed" in snap.error
    # Ark's answer came through the engine's own workers, after the held reply was let go.
    final_thread = next(name for outcome_word, name in told if outcome_word == "cancelled")
    assert final_thread.startswith("seedance-"), told
    assert snap.at - returned_at[0] >= HANG * 0.9
    stats = _stats(ark_env)
    assert (stats["ark_cancels"], stats["ark_billed_tokens"]) == (1, 0)
    assert again is handle


def test_a_queued_ark_cancel_without_faults_ends_cancelled_and_unbilled_in_order(
    ark_env: Emulator, ark_manager: JobManager
) -> None:
    ark_env.configure(ark_queue_seconds=FOREVER)
    job = _queued_job(ark_manager)
    outcomes: list[str | None] = []
    job.subscribe(lambda snap: outcomes.append(snap.cancel_outcome))
    handle = job.cancel()
    assert handle.wait(60) == "cancelled"
    # Polls before the cancel said nothing of it; then the intent; then Ark's answer, last.
    first = outcomes.index("cancelling")
    assert set(outcomes[:first]) <= {None}
    assert outcomes[-1] == "cancelled"
    assert set(outcomes[first:]) <= {"cancelling", "cancelled"}
    snap = job.snapshot()
    assert (snap.state, snap.usage_tokens, snap.cost_usd) == (JobState.CANCELLED, 0, 0.0)
    assert ark_manager.spent_usd == 0.0
    stats = _stats(ark_env)
    assert (stats["ark_cancels"], stats["ark_billed_tokens"], stats["ark_queued"]) == (1, 0, 0)
    # A cancel of the ended job is decided at once and asks Ark nothing.
    again = job.cancel()
    assert again.done
    assert _stats(ark_env)["ark_cancels"] == 1


def test_the_magics_cancel_waits_briefly_then_says_the_cancel_is_on_its_way(
    ark_env: Emulator, ark_manager: JobManager
) -> None:
    ark_env.configure(ark_queue_seconds=FOREVER, hang_seconds=HANG)
    job = _queued_job(ark_manager)
    ark_env.fail_next("get", "hang", count=100)
    started = time.monotonic()
    snap = link.cancel_and_wait(job, timeout=0.5)
    took = time.monotonic() - started
    assert snap.cancel_outcome == "cancelling"  # not known in time: said so, not waited for
    assert took < AT_ONCE
    assert job.cancel().wait(6 * HANG) == "cancelled"  # the same cancel, still on its way


def test_a_gateway_cancel_still_stops_watching_in_the_call_with_no_network(
    emu_env: Emulator, tmp_outputs: Path
) -> None:
    before = set(engine_threads())
    manager = JobManager(tmp_outputs, client=SeedanceClient(), time_scale=emu_env.config.speed)
    try:
        emu_env.configure(hang_seconds=HANG)
        emu_env.fail_next("get", "hang", count=100)  # the task stays unfinished: its polls are held
        job = manager.submit(_request())
        assert isinstance(job, Job)
        wait_for(lambda: job.task_id is not None, what="created")
        handle = job.cancel()
        assert handle.done  # decided in the call: ToAPIs has no cancel to send
        assert handle.wait(0) == "stopped_watching"
        snap = job.snapshot()
        assert snap.state == JobState.CANCELLED
        assert snap.error is not None
        assert "may still finish and be billed" in snap.error
    finally:
        emu_env.configure(fail_next={})
        manager.shutdown()
        wait_for(
            lambda: not [t for t in engine_threads() if t not in before and t.is_alive()],
            timeout=3 * HANG,
            what="engine threads ended",
        )


@pytest.fixture
def slow_ark(monkeypatch: pytest.MonkeyPatch, tmp_outputs: Path) -> Iterator[tuple[Emulator, JobManager]]:
    """An emulator whose Ark tasks queue a few real seconds, then run for tens of seconds (so a
    task is still running when a held cancel's DELETE arrives), and a manager on it."""
    before = set(engine_threads())
    with Emulator(EmulatorConfig(speed=2.0, profile="realistic")) as emu:
        for name in ("TOAPIS_API_KEY", "SEEDANCE_BASE_URL", "SEEDANCE_PROVIDER", "ARK_REGION"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("ARK_API_KEY", emu.api_key)
        monkeypatch.setenv("ARK_BASE_URL", emu.base_url + "/api/v3")
        manager = JobManager(tmp_outputs, client=SeedanceClient(provider="ark"), time_scale=emu.config.speed)
        try:
            yield emu, manager
        finally:
            emu.configure(fail_next={})
            manager.shutdown()
            wait_for(
                lambda: not [t for t in engine_threads() if t not in before and t.is_alive()],
                timeout=3 * HANG,
                what="engine threads ended",
            )


def test_a_task_that_starts_while_the_cancel_is_on_its_way_is_not_cancelled_and_stays_watched(
    slow_ark: tuple[Emulator, JobManager],
) -> None:
    emulator, manager = slow_ark
    # Controlled race: the cancel's GET reaches Ark while the task is queued (its reply is then
    # held HANG seconds); the task starts HANG / 2 after its create, so before the DELETE goes.
    emulator.configure(ark_queue_seconds=HANG / 2 * emulator.config.speed, hang_seconds=HANG)
    job = _queued_job(manager)
    emulator.fail_next("get", "hang", count=100)
    handle = job.cancel()
    assert handle.wait(6 * HANG) == "not_cancellable"
    snap = job.snapshot()
    assert not snap.is_final  # still watched: it will finish and be billed
    assert snap.error is not None
    assert "cannot cancel a task once it is running" in snap.error
    assert _stats(emulator)["ark_cancels"] == 0  # Ark refused the DELETE: nothing was cancelled
    # A second cancel stops watching, at once (no call to Ark).
    again = job.cancel()
    assert again.done
    assert (job.snapshot().state, again.outcome) == (JobState.CANCELLED, "stopped_watching")


def test_a_task_that_finishes_while_a_held_cancel_is_on_its_way_is_never_said_unbilled(
    ark_env: Emulator, ark_manager: JobManager
) -> None:
    # The cancel's look at the task says "queued" but is held HANG seconds; meanwhile the task
    # runs and succeeds, so the DELETE that follows removes a finished task's record (Ark's rule).
    ark_env.configure(ark_queue_seconds=HANG / 4 * ark_env.config.speed, hang_seconds=HANG)
    job = _queued_job(ark_manager)
    ark_env.fail_next("get", "hang", count=100)
    handle = job.cancel()
    handle.wait(8 * HANG)
    assert handle.done
    wait_for(lambda: job.snapshot().is_final, timeout=4 * HANG, what="job ended")
    snap = job.snapshot()
    assert _stats(ark_env)["ark_billed_tokens"] > 0  # it ran and was billed
    assert snap.state != JobState.CANCELLED
    assert snap.cancel_outcome != "cancelled"
    assert "not billed" not in (snap.error or "")
