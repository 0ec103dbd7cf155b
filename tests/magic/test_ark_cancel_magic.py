"""``%seedance cancel`` on Ark never hangs the kernel (issue 14): when Ark does not answer within a
few seconds it says the cancel is on its way and where its outcome will show; the engine's workers
carry on and the job ends cancelled, not billed. Real InteractiveShell, real emulator (its ``hang``
fault holds every reply of the task's URL, the cancel's GET and DELETE among them)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from magic_session import Session

from seedance_widgets.emulator import Emulator
from seedance_widgets.engine import Job, JobSnapshot, JobState
from seedance_widgets.magic import link

#: Emulator seconds a task stays queued: longer than the test.
LONG_QUEUE = 100_000.0
#: Real seconds the emulator holds each faulty reply: longer than the magic waits.
HANG = link.CANCEL_WAIT_SECONDS + 6.0


def _reached(job: Job, test: Callable[[JobSnapshot], bool], timeout: float) -> JobSnapshot:
    """Wait on the job's observer for a snapshot that passes ``test``."""
    seen = threading.Event()
    unsubscribe = job.subscribe(lambda snap: seen.set() if test(snap) else None)
    try:
        if not test(job.snapshot()):
            assert seen.wait(timeout), f"not reached: {job.snapshot()}"
    finally:
        unsubscribe()
    return job.snapshot()


def test_cancel_says_it_is_on_its_way_when_ark_is_slow_and_the_outcome_follows(
    ark_ip: Session, ark_env: Emulator
) -> None:
    ark_env.configure(ark_queue_seconds=LONG_QUEUE, hang_seconds=HANG)
    job = ark_ip.run("%seedance --resolution 480p -d 4 a queue that never moves")
    assert isinstance(job, Job)
    _reached(job, lambda s: s.state == JobState.QUEUED and s.task_id is not None, 60)
    ark_env.fail_next("get", "hang", count=100)
    ark_ip.capsys.readouterr()
    started = time.monotonic()
    ark_ip.run(f"%seedance cancel {job.local_id}")
    took = time.monotonic() - started
    out = ark_ip.capsys.readouterr().out
    assert f"Job {job.local_id}: the cancel is on its way to Ark" in out, out
    assert "cancel_outcome" in out  # where to see the outcome
    assert took < HANG, f"%seedance cancel held the kernel {took:.1f}s"
    snap = _reached(job, lambda s: s.cancel_outcome == "cancelled", 6 * HANG)
    assert (snap.state, snap.usage_tokens) == (JobState.CANCELLED, 0)
    stats = ark_env.stats()
    assert (stats["ark_cancels"], stats["ark_billed_tokens"]) == (1, 0)
