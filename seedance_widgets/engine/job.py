"""``Job``: a thread-safe handle on one generation, updated by the engine's threads."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, Protocol

from seedance_widgets.api import GenerationRequest

from .errors import (
    JobCancelledError,
    JobError,
    JobExpiredError,
    JobFailedError,
    JobMayExistError,
    JobTimedOutError,
    WaitTimeoutError,
)
from .state import JobSnapshot, JobState

log = logging.getLogger("seedance_widgets.engine")

Observer = Callable[[JobSnapshot], None]


class Canceller(Protocol):
    """What a job needs from the engine that runs it: a way to cancel it (at once; the provider's
    answer, when one is needed, arrives later through the returned handle and the observers)."""

    def cancel(self, job: Job) -> CancelHandle: ...


#: ``cancel_outcome`` while the provider is being asked (the engine's workers send the cancel).
CANCELLING = "cancelling"


class CancelHandle:
    """What ``Job.cancel()`` returns: the cancel's outcome once known, without blocking anyone.

    On Ark a queued job's cancel is sent by the engine's workers (a GET, then a DELETE while Ark
    still calls the task queued), so ``cancel()`` never holds the kernel for the network; the job's
    ``snapshot().cancel_outcome`` is ``"cancelling"`` meanwhile, then the outcome. Every other
    cancel is decided at once and its handle is already :attr:`done`.
    """

    def __init__(self, job: Job, *, done: bool = True) -> None:
        self.job = job
        self._done = threading.Event()
        if done:
            self._done.set()

    @property
    def done(self) -> bool:
        """True once the outcome is known (the job's snapshot says it)."""
        return self._done.is_set()

    @property
    def outcome(self) -> str | None:
        """The job's ``cancel_outcome`` now: ``"cancelling"`` while the provider is asked."""
        return self.job.snapshot().cancel_outcome

    def wait(self, timeout: float | None = None) -> str | None:
        """Block up to ``timeout`` seconds (None: until known) for the outcome and return it;
        None when it is not known in time (the cancel carries on in the background)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._done.is_set():
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            # Short slices keep Ctrl-C responsive in the kernel's main thread.
            self._done.wait(0.25 if remaining is None else min(0.25, remaining))
        return self.outcome

    def _settle(self) -> None:
        """The engine has applied the outcome to the job (its observers were told): wake waiters."""
        self._done.set()

    def __repr__(self) -> str:
        state = self.outcome if self.done else CANCELLING
        return f"<CancelHandle {self.job.local_id}: {state}>"


_WAIT_ERRORS: dict[str, type[JobError]] = {
    JobState.FAILED: JobFailedError,
    JobState.CANCELLED: JobCancelledError,
    JobState.TIMED_OUT: JobTimedOutError,
    JobState.EXPIRED: JobExpiredError,
    JobState.MAY_EXIST: JobMayExistError,
}


class Job:
    """One video generation, watched in the background by a ``JobManager``.

    All reads go through immutable :class:`JobSnapshot` objects, so a job can be read
    from any thread. Observers registered with :meth:`subscribe` are called with a new
    snapshot on every change, **from the engine's threads** (the scheduler or a pool
    worker), in the order the changes happened. An observer must be quick and must not
    block on the kernel's main thread; widgets only assign traits there. An exception
    in an observer is logged and does not stop the engine. :meth:`wait` returns only after
    every observer has been told of the final state.
    """

    def __init__(self, snapshot: JobSnapshot, manager: Canceller | None = None) -> None:
        self._snapshot = snapshot
        # What waiters see: a change reaches them only after every observer has had it, so
        # wait() returns once a view has shown the final state (e.g. before a cell ends).
        self._settled = snapshot
        self._manager = manager
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        # Held while observers run so they see changes in order; re-entrant so an
        # observer may itself cancel the job.
        self._notify_lock = threading.RLock()
        self._observers: list[Observer] = []

    # ---- reading ---------------------------------------------------------------------
    def snapshot(self) -> JobSnapshot:
        with self._lock:
            return self._snapshot

    @property
    def local_id(self) -> str:
        return self._snapshot.local_id

    @property
    def task_id(self) -> str | None:
        return self.snapshot().task_id

    @property
    def request(self) -> GenerationRequest | None:
        return self._snapshot.request

    @property
    def status(self) -> str:
        """The job's state (a :class:`JobState` value)."""
        return self.snapshot().state

    @property
    def progress(self) -> int:
        return self.snapshot().progress

    @property
    def result(self) -> Path | None:
        """The local video file once done, else None (``wait()`` blocks for it)."""
        snap = self.snapshot()
        return snap.path if snap.state == JobState.DONE else None

    @property
    def error(self) -> str | None:
        return self.snapshot().error

    @property
    def done(self) -> bool:
        """True once the job is final, whatever the outcome."""
        return self.snapshot().is_final

    # ---- observing -------------------------------------------------------------------
    def subscribe(self, fn: Observer) -> Callable[[], None]:
        """Call ``fn(snapshot)`` on every change (from the engine's threads). Returns an unsubscriber."""
        with self._notify_lock:
            self._observers.append(fn)

        def unsubscribe() -> None:
            with self._notify_lock:
                if fn in self._observers:
                    self._observers.remove(fn)

        return unsubscribe

    def wait(self, timeout: float | None = None) -> Path:
        """Block until the video is saved and return its path.

        Raises a :class:`JobError` subclass saying why when the job ends otherwise
        (failed, cancelled, timed out, expired, may exist), and :class:`WaitTimeoutError`
        when ``timeout`` seconds pass first (the job carries on).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while not self._settled.is_final:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    snap = self._settled
                    raise WaitTimeoutError(
                        f"job {snap.local_id} is still {snap.state} after waiting {timeout:g}s "
                        "(it carries on in the background; call wait() again)",
                        snap,
                    )
                # Short slices keep Ctrl-C responsive in the kernel's main thread.
                self._changed.wait(0.25 if remaining is None else min(0.25, remaining))
            snap = self._settled
        if snap.state == JobState.DONE and snap.path is not None:
            return snap.path
        error_type = _WAIT_ERRORS.get(snap.state, JobFailedError)
        where = f" (task {snap.task_id})" if snap.task_id else ""
        raise error_type(f"job {snap.local_id}{where} {snap.state}: {snap.error or 'no detail'}", snap)

    # ---- acting ----------------------------------------------------------------------
    def cancel(self, wait: bool = False, timeout: float | None = None) -> CancelHandle:
        """Cancel this job; returns at once with a :class:`CancelHandle` (``wait=True``: after the
        outcome is known, or ``timeout`` seconds). On Ark a queued task is cancelled there by the
        engine's workers (not billed; meanwhile ``snapshot().cancel_outcome == "cancelling"``) and
        a running one keeps being watched (call again to stop watching); on ToAPIs, which has no
        cancel, the job stops being watched and the task may still finish and be billed.
        ``snapshot().cancel_outcome`` says which happened; observers see each change."""
        if self._manager is not None:
            handle = self._manager.cancel(self)
        else:
            self._update(
                state=JobState.CANCELLED,
                error="cancelled: no longer watched; the task may still finish on the gateway and be billed",
                finished_at=time.time(),
            )
            handle = CancelHandle(self)
        if wait:
            handle.wait(timeout)
        return handle

    # ---- engine side -----------------------------------------------------------------
    def _update(self, when: Collection[str] | None = None, **changes: Any) -> JobSnapshot | None:
        """Apply changes, wake waiters and tell observers. Called by the engine only.

        ``when``: apply only if the job is in one of these states at that instant (checked
        atomically, so a poll answering late can never undo a cancel); None if skipped.
        """
        with self._notify_lock:
            with self._changed:
                if when is not None and self._snapshot.state not in when:
                    return None
                snap = dataclasses.replace(self._snapshot, at=time.time(), **changes)
                self._snapshot = snap
            for fn in list(self._observers):
                try:
                    fn(snap)
                except Exception:
                    log.exception("a job observer failed (ignored)")
            with self._changed:
                self._settled = snap
                self._changed.notify_all()
            return snap

    def __repr__(self) -> str:
        snap = self.snapshot()
        prompt = snap.prompt
        if len(prompt) > 40:
            prompt = prompt[:37] + "..."
        task = f" task={snap.task_id}" if snap.task_id else ""
        return f"<Job {snap.local_id}{task} {prompt!r}: {snap.status_line()}>"
