"""Cancel that means it: a queued task is cancelled at the provider (Ark) so it is never billed.

``Job.cancel()`` lands here (through ``Engine.cancel``). What happens, by what is known:

- nothing sent yet, no task, a provider without a cancel (ToAPIs), or a second cancel after the
  provider refused one: the engine stops watching (``Engine.stop_watching``), as before;
- Ark and our last poll saw the task queued: the job shows ``cancel_outcome="cancelling"`` and
  the pool sends ``client.cancel``, which reads the task once more and sends the DELETE only if
  Ark still calls it queued (a DELETE of a *finished* task deletes its record, video and all):
  "cancelled" ends the job CANCELLED, not billed; "not_cancellable" (it started meanwhile) keeps
  the job watched with a note saying so; an error leaves it watched as ``cancel_failed``;
- Ark and the task runs: no DELETE is sent; the job stays watched with that note.

Only the pool makes the network calls: the caller may be the kernel's shell thread (the card's
stop button), and Ark's calls may take up to the client's whole-call deadline. ``cancel()``
returns a :class:`CancelHandle` at once; the observers see the outcome when it lands, and
``handle.wait(timeout)`` waits for it (``%seedance cancel`` does, briefly). While one cancel is on
its way, another ``cancel()`` of the job returns the same handle and asks nothing more.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

from seedance_widgets.api import NotFoundError, SeedanceError

from .core import CANCELLING_CODE, CANCELLING_NOTE, RUNNING_CANCEL_MESSAGE, Engine
from .job import CANCELLING, CancelHandle, Job
from .providers import can_cancel, provider_of
from .scheduler import POLL
from .state import POLLED_STATES, JobState
from .tracked import IN_PROGRESS, NOT_CANCELLABLE, Tracked

if TYPE_CHECKING:
    from seedance_widgets.api import SeedanceClient

log = logging.getLogger("seedance_widgets.engine")

CANCELLED_AT_PROVIDER = "cancelled at Ark before it ran: not billed"
ON_THE_WAY = (
    "cancelled while its create was on the way to Ark: once Ark names the task it is cancelled "
    "there, and is not billed if it has not started"
)
DELETED_AFTER_FINISH = (
    "task {task_id} finished at Ark while the cancel was on its way, so Ark's DELETE removed its "
    "record: it was billed, and its video can no longer be fetched through the API. Generate it "
    "again if you still want it."
)
NOT_CANCELLABLE_NOTE = (
    "Ark cannot cancel a task once it is running: it will finish and be billed, so it is still "
    "watched and its video will be saved. cancel() again (or the stop button) stops watching."
)


def cancel(core: Engine, job: Job) -> CancelHandle:
    """Cancel ``job`` as well as its provider allows (see the module's text); never waits for
    the network."""
    with core.lock:
        tracked = core.tracked.get(job.local_id)
        pending = core.cancels.get(job.local_id)
    if pending is not None:
        return pending  # already on its way: a second click asks Ark nothing more
    snap = job.snapshot()
    if (
        tracked is not None
        and tracked.client is not None
        and snap.state == JobState.SUBMITTING
        and can_cancel(tracked.client)
    ):
        # The create is on the wire: its task is cancelled as soon as its id is known.
        core.stop_watching(job)
        job._update(when=(JobState.CANCELLED,), error=ON_THE_WAY)
        return CancelHandle(job)
    if (
        tracked is None
        or snap.task_id is None
        or snap.state not in POLLED_STATES
        or tracked.cancel_note is not None
        or tracked.follows is not None
        or not can_cancel(core.client_for(tracked))  # the client that polls it (pinned here)
    ):
        core.stop_watching(job)
        return CancelHandle(job)
    if snap.state != JobState.QUEUED:
        _refused(core, tracked, "it is running")
        return CancelHandle(job)
    return _send_later(core, tracked, snap.task_id)


def _send_later(core: Engine, tracked: Tracked, task_id: str) -> CancelHandle:
    """Show the cancel as on its way and queue it for the pool; the handle settles after."""
    job = tracked.job
    handle = CancelHandle(job, done=False)
    with core.lock:
        if job.local_id in core.cancels:
            return core.cancels[job.local_id]  # another thread's cancel got there first
        core.cancels[job.local_id] = handle
    shown = job._update(
        when=POLLED_STATES, cancel_outcome=CANCELLING, error=CANCELLING_NOTE, error_code=CANCELLING_CODE
    )
    with core.lock:
        # Queued under the scheduler's lock, so a shutdown either drops nothing or is seen here.
        queued = shown is not None and not core.stopping
        if queued:
            core.run_in_pool(functools.partial(_send, core, tracked, task_id, handle), POLL)
        else:
            core.cancels.pop(job.local_id, None)
    if not queued:
        if shown is not None:
            core.stop_watching(job)  # shutting down: nobody is left to ask Ark
        handle._settle()
    return handle


def _send(core: Engine, tracked: Tracked, task_id: str, handle: CancelHandle) -> None:
    """The pool's part: ask the provider, apply its answer, then wake whoever waits."""
    job = tracked.job
    try:
        if not job.snapshot().is_final and not core.stopping:
            cancel_queued(core, tracked, task_id)
    except Exception as err:
        log.exception("the cancel of job %s failed unexpectedly", job.local_id)
        _failed(core, tracked, f"an unexpected {type(err).__name__}")
    finally:
        _done_asking(core, job)
        snap = job.snapshot()
        if snap.cancel_outcome == CANCELLING:
            # The job ended some other way first (a poll saw it finish): this cancel did nothing.
            job._update(when=(snap.state,), cancel_outcome=None)
        handle._settle()


def _done_asking(core: Engine, job: Job) -> None:
    """The provider has answered: polls stop showing the job as being cancelled."""
    with core.lock:
        core.cancels.pop(job.local_id, None)


def cancel_queued(core: Engine, tracked: Tracked, task_id: str) -> None:
    """Cancel a task our last poll saw queued (in the pool: this waits for the network).
    ``client.cancel`` reads it once more and sends the DELETE only if the provider still calls it
    queued."""
    assert tracked.client is not None
    try:
        result = tracked.client.cancel(task_id)
    except SeedanceError as err:
        _done_asking(core, tracked.job)
        _failed(core, tracked, str(err))
        return
    if result.outcome == "cancelled" and not _still_known(tracked.client, task_id):
        _done_asking(core, tracked.job)
        _deleted_after_finish(core, tracked, task_id)
        return
    _done_asking(core, tracked.job)
    if result.outcome == "cancelled":
        _cancelled(core, tracked, task_id)
    elif result.outcome == "not_cancellable":
        _refused(core, tracked, result.message)
    else:
        log.info("cancel of %s: %s", task_id, result.message)
        core.stop_watching(tracked.job)


def _still_known(client: SeedanceClient, task_id: str) -> bool:
    """After a DELETE Ark answered: a cancelled queued task keeps its record, a finished one loses
    it. The look before the DELETE can be stale (a slow reply), so the record is looked for once
    more; False only when Ark says it has no such task."""
    try:
        client.get(task_id)
    except NotFoundError:
        return False
    except SeedanceError:
        return True  # cannot tell: the DELETE was answered as for a queued task
    return True


def _deleted_after_finish(core: Engine, tracked: Tracked, task_id: str) -> None:
    """The task finished while our look at it was on the way, so the DELETE removed its record:
    it was billed, and its video can no longer be found. Said plainly; the estimate stays counted.
    A poll that saw it finish first has its video on the way: that goes on."""
    if tracked.job._update(when=(JobState.DOWNLOADING,), cancel_outcome="not_cancellable") is not None:
        return
    core.finish(
        tracked,
        JobState.FAILED,
        error=DELETED_AFTER_FINISH.format(task_id=task_id),
        error_code="deleted_at_provider",
        cancel_outcome="not_cancellable",
    )


def _cancelled(core: Engine, tracked: Tracked, task_id: str) -> None:
    """The provider cancelled the queued task: the job ends, not billed (its reservation goes back)."""
    job = tracked.job
    with core.lock:
        tracked.generation += 1  # polls in flight or queued are stale now
    fields = {
        "error": CANCELLED_AT_PROVIDER,
        "error_code": "cancelled",
        "cancel_outcome": "cancelled",
        "usage_tokens": 0,
        "cost_usd": 0.0,
        "gateway_status": "cancelled",
    }
    if job._update(when=IN_PROGRESS, state=JobState.CANCELLED, **_ended(core), **fields) is None:
        return  # ended meanwhile
    core.release(tracked)
    core.record("cancelled", job=job.local_id, task_id=task_id, state=JobState.CANCELLED, **fields)


def _ended(core: Engine) -> dict[str, object]:
    return {"finished_at": core.clock.time(), "eta_seconds": None, "reconnecting": False}


def _refused(core: Engine, tracked: Tracked, why: str) -> None:
    """The task runs: it cannot be cancelled. The job stays watched and says so."""
    job = tracked.job
    tracked.cancel_note = NOT_CANCELLABLE_NOTE
    snap = job._update(
        when=IN_PROGRESS,
        cancel_outcome="not_cancellable",
        error=NOT_CANCELLABLE_NOTE,
        error_code=NOT_CANCELLABLE,
    )
    if snap is not None:
        core.record(
            "status",
            job=job.local_id,
            task_id=snap.task_id,
            state=snap.state,
            cancel_outcome="not_cancellable",
            error=f"{NOT_CANCELLABLE_NOTE} ({why})",
        )


def _failed(core: Engine, tracked: Tracked, why: str) -> None:
    """The provider could not be asked: nothing changed, the job is still watched."""
    provider = provider_of(tracked.client) if tracked.client is not None else "the provider"
    text = f"could not cancel at {provider}: {why}. Still watched; try cancel() again"
    tracked.job._update(
        when=IN_PROGRESS, cancel_outcome="cancel_failed", error=text, error_code="cancel_failed"
    )


def cancel_after_create(core: Engine, tracked: Tracked, task_id: str) -> None:
    """The job was cancelled while its create was in flight, and the task now exists: cancel it
    at the provider if it can (it is queued, so not billed); else the job says it may be billed."""
    client = tracked.client
    if client is None or not can_cancel(client):
        return
    job = tracked.job
    try:
        result = client.cancel(task_id)
    except SeedanceError as err:
        text = f"{RUNNING_CANCEL_MESSAGE} (Ark could not be asked to cancel task {task_id}: {err})"
        job._update(when=(JobState.CANCELLED,), error=text, cancel_outcome="cancel_failed")
        return
    if result.outcome != "cancelled":
        job._update(when=(JobState.CANCELLED,), error=f"{RUNNING_CANCEL_MESSAGE} ({result.message})")
        return
    fields = {
        "error": CANCELLED_AT_PROVIDER,
        "error_code": "cancelled",
        "cancel_outcome": "cancelled",
        "usage_tokens": 0,
        "cost_usd": 0.0,
    }
    if job._update(when=(JobState.CANCELLED,), **fields) is not None:
        core.release(tracked)
        core.record("cancelled", job=job.local_id, task_id=task_id, state=JobState.CANCELLED, **fields)
