"""The watch path: polling a task until it ends, within its deadline, at the policy's pace.

A poll that gets no usable answer is not an error: the job says it is reconnecting and polls
again after a growing wait, its deadline still bounding the whole. A 429 holds the whole account
(the scheduler waits it out). ``Watcher`` is what the scheduler calls when a poll is due.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from seedance_widgets.api import (
    COMPLETED,
    FAILED,
    QUEUED,
    APIError,
    GenerationRequest,
    NotFoundError,
    RateLimitError,
    ServerError,
    Task,
    TransportError,
    ValidationError,
    request_estimate_usd,
)
from seedance_widgets.api.models import CANCELLED, EXPIRED

from . import follow
from .core import Engine
from .job import Job
from .policy import PollSample
from .providers import is_flex, name_of, provider_of, real_cost, reports_cost
from .scheduler import Work
from .state import POLLED_STATES, JobSnapshot, JobState
from .tracked import Tracked, new_local_id
from .transfers import start_download

log = logging.getLogger("seedance_widgets.engine")

#: Samples kept per job for the poll policy.
_MAX_SAMPLES = 200
#: Gateway seconds between polls of a flex task still in the provider's queue (it may wait there
#: for up to its expiry window, two days by default).
FLEX_QUEUED_POLL = 60.0
#: Gateway seconds before a poll that failed unexpectedly is tried again.
_AFTER_A_SURPRISE = 10.0


class Watcher:
    """The scheduler's hooks for one engine: what a due poll runs, and deadlines."""

    def __init__(self, core: Engine) -> None:
        self._core = core

    def poll_work(self, local_id: str, generation: int) -> Work | None:
        with self._core.lock:
            due = self._core.tracked.get(local_id)
            if due is None or due.generation != generation:
                return None
        return functools.partial(_poll_safely, self._core, due, generation)

    def past_deadline(self) -> tuple[list[str], float | None]:
        return self._core.past_deadline()

    def timed_out(self, local_id: str) -> None:
        tracked = self._core.tracked.get(local_id)
        if tracked is not None:
            timed_out(self._core, tracked)

    def rate_limit_over(self) -> None:
        self._core.end_rate_notice()


def _poll_safely(core: Engine, tracked: Tracked, generation: int) -> None:
    try:
        if tracked.follows is None or not follow.look(core, tracked):
            poll(core, tracked)
    except Exception:
        log.exception("polling job %s failed unexpectedly; retrying later", tracked.job.local_id)
        core.schedule(tracked, core.settings.ours(_AFTER_A_SURPRISE), generation)


def poll(core: Engine, tracked: Tracked) -> None:
    """One GET of the job's task, and what follows from its answer."""
    snap = tracked.job.snapshot()
    if snap.state not in POLLED_STATES or snap.task_id is None:
        return
    generation = tracked.generation
    if core.journal.has_unwritten:
        core.journal.flush()  # records kept since the ledger failed: try them again
    if past_deadline(core, tracked):
        timed_out(core, tracked)
        return
    task = _ask(core, tracked, snap, generation)
    if task is None:
        return
    core.scheduler.answered()
    tracked.failures = 0
    with core.lock:
        if tracked.generation != generation:
            return  # cancelled while the GET was in flight
    _progress(core, tracked, snap, task, generation)


def past_deadline(core: Engine, tracked: Tracked) -> bool:
    """Whether the job has been watched longer than its deadline (gateway seconds)."""
    watched = (core.clock.time() - tracked.watch_since) * core.settings.time_scale
    return watched > core.deadline_for(tracked)


def _ask(core: Engine, tracked: Tracked, snap: JobSnapshot, generation: int) -> Task | None:
    """The task as the gateway reports it; None when the answer was handled here."""
    assert snap.task_id is not None
    polls = snap.polls + 1
    try:
        task = core.single_for(tracked).get(snap.task_id)
    except RateLimitError as err:
        core.account_backoff(err.retry_after)
        tracked.job._update(when=POLLED_STATES, polls=polls)
        core.schedule(tracked, 0.0, generation)  # the scheduler itself waits out the back-off
        return None
    except (TransportError, ServerError) as err:
        # Also an unreadable 2xx reply (BadReplyError): one bad reply is a network fault.
        _poll_failed(core, tracked, err, polls, generation)
        return None
    except NotFoundError as err:
        error = f"the gateway does not know task {snap.task_id}: {err}"
        core.finish(tracked, JobState.FAILED, error=error, error_code="task_not_found", polls=polls)
        return None
    except ValidationError as err:
        # Refused before any call (e.g. a task id that cannot be a path segment): asking again
        # would be refused the same way, so the job ends now and says why.
        error = f"task id {snap.task_id!r} cannot be polled: {err}. Check the id, then attach() it again"
        core.finish(tracked, JobState.FAILED, error=error, error_code="bad_task_id", polls=polls)
        return None
    except APIError as err:
        if err.status is not None and 200 <= err.status < 300:
            # A 2xx whose body is unusable says nothing about the task: poll again.
            _poll_failed(core, tracked, err, polls, generation)
        else:
            code = str(err.code or err.status)
            core.finish(tracked, JobState.FAILED, error=str(err), error_code=code, polls=polls)
        return None
    return task


def _progress(core: Engine, tracked: Tracked, snap: JobSnapshot, task: Task, generation: int) -> None:
    """Show the task's progress, end the job when the task ended, and schedule the next poll."""
    job = tracked.job
    now = core.clock.time()
    elapsed = (now - (tracked.created_at or now)) * core.settings.time_scale
    tracked.samples.append(PollSample(elapsed, task.progress, task.status))
    del tracked.samples[:-_MAX_SAMPLES]
    common: dict[str, Any] = {
        "polls": snap.polls + 1,
        "reconnecting": False,
        "gateway_status": task.status,
        "progress": task.progress,
    }
    if task.seed is not None:
        common["seed"] = task.seed
    common.update(_bill(core, tracked, task))
    if task.status == COMPLETED:
        tracked.last_frame_url = task.last_frame_url or tracked.last_frame_url
        start_download(core, tracked, task.video_url, task.expires_at, common)
        return
    if task.is_final and task.status in (CANCELLED, EXPIRED):
        _ended_at_provider(core, tracked, task, common)
        return
    if task.status == FAILED:
        message = task.error_message or "the gateway reports the task failed (no reason given)"
        core.finish(tracked, JobState.FAILED, error=message, error_code=task.error_code or "failed", **common)
        return
    state = JobState.QUEUED if task.status == QUEUED and task.progress == 0 else JobState.RUNNING
    if task.status not in (QUEUED, "in_progress"):
        log.info("task %s has an unknown status %r; still watching", snap.task_id, task.status)
    if state != snap.state:
        core.record("status", job=job.local_id, task_id=snap.task_id, state=state, progress=task.progress)
        if state == JobState.RUNNING and snap.started_at is None:
            common["started_at"] = now
    settings = core.settings
    eta = settings.poll_policy.eta(tracked.samples)
    common["eta_seconds"] = None if eta is None else settings.ours(eta)
    # `error` of a job at work: the problem the engine works around now, if any.
    if job._update(when=POLLED_STATES, state=state, **common, **core.live_notice(job.local_id)) is None:
        return  # cancelled or ended meanwhile
    delay = settings.ours(settings.poll_policy.next_delay(tracked.samples))
    if state == JobState.QUEUED and is_flex(job.request):
        # A flex task may wait in Ark's queue for up to two days: look at it calmly meanwhile.
        delay = max(delay, settings.ours(FLEX_QUEUED_POLL))
    remaining = settings.ours(core.deadline_for(tracked)) - (now - tracked.watch_since)
    core.schedule(tracked, max(0.0, min(delay, remaining + 0.01)), generation)


def _bill(core: Engine, tracked: Tracked, task: Task) -> dict[str, Any]:
    """The task's real bill once the provider reports it (tokens, and USD from the catalogue's
    token price, flex aware); the budget counts it from now on instead of the estimate."""
    tokens = task.usage_tokens
    if tokens is None:
        return {}
    # Token prices are Ark's: a gateway reporting tokens bills by its own list price.
    cost = real_cost(tracked.job.request, tokens) if reports_cost(core.protocol_of(tracked)) else None
    core.settle_cost(tracked, cost)
    return {"usage_tokens": tokens, "cost_usd": cost}


def _ended_at_provider(core: Engine, tracked: Tracked, task: Task, common: dict[str, Any]) -> None:
    """The provider ended the task before it ran: cancelled (by someone) or expired unrun."""
    where = name_of(core.protocol_of(tracked))
    billed = "not billed" if not common.get("usage_tokens") else f"billed {common['usage_tokens']} tokens"
    if task.status == EXPIRED:
        error = (
            f"task {task.id} expired unrun at {where}: it was still queued when its execution window "
            f"(execution_expires_after) ran out, so it was {billed}. Submit it again to generate."
        )
        core.finish(tracked, JobState.EXPIRED, error=error, error_code="task_expired", **common)
        return
    error = f"task {task.id} was cancelled at {where} before it ran ({billed})"
    core.finish(
        tracked, JobState.CANCELLED, error=error, error_code="cancelled", cancel_outcome="cancelled", **common
    )


def _poll_failed(core: Engine, tracked: Tracked, err: Exception, polls: int, generation: int) -> None:
    """A poll got no usable answer: not an error yet. The job says it is reconnecting and polls
    again after a growing wait; its deadline still bounds the whole."""
    tracked.failures += 1
    log.info("poll of %s failed (%s); reconnecting", tracked.job.task_id, err)
    tracked.job._update(when=POLLED_STATES, polls=polls, reconnecting=True)
    core.schedule(tracked, core.scheduler.reconnect_wait(tracked.failures), generation)


def timed_out(core: Engine, tracked: Tracked) -> None:
    task_id = tracked.job.task_id
    core.finish(
        tracked,
        JobState.TIMED_OUT,
        error=(
            f"no result after {core.deadline_for(tracked) / 60:g} minutes; stopped watching. Task {task_id} "
            f"may still finish: seedance_widgets.attach({task_id!r}) watches it again."
        ),
        error_code="timed_out",
    )


def resume(core: Engine, tracked: Tracked) -> None:
    """Watch a timed-out, cancelled or failed-download job's task again."""
    with core.lock:
        tracked.generation += 1
        tracked.created_at = tracked.watch_since = core.clock.time()
        tracked.samples.clear()
        tracked.failures = 0
        tracked.download_attempts = 0
    job = tracked.job
    core.record("attached", job=job.local_id, task_id=job.task_id, state=JobState.QUEUED)
    job._update(state=JobState.QUEUED, error=None, error_code=None, finished_at=None)
    core.schedule(tracked, 0.0)


def attach(core: Engine, task_id: str, *, created_at: float | None, request: GenerationRequest | None) -> Job:
    """Watch a task by id: a known one is resumed (if it ended), a new one gets a job of its own
    whose first poll follows the policy from ``created_at`` (at once when unknown)."""
    with core.lock:
        known = next((t for t in core.tracked.values() if t.job.task_id == task_id), None)
    if known is not None:
        if known.job.status in (JobState.TIMED_OUT, JobState.CANCELLED, JobState.FAILED):
            resume(core, known)
        return known.job
    now = core.clock.time()
    client = core.client
    with core.lock:
        snap = JobSnapshot(
            local_id=new_local_id(),
            request=request,
            task_id=task_id,
            state=JobState.QUEUED,
            submitted_at=created_at or now,
            cost_estimate=request_estimate_usd(request) if request is not None else 0.0,
        )
        tracked = core.new_job(snap, same_request=False, created_at=created_at or now, client=client)
    core.record(
        "attached",
        job=snap.local_id,
        task_id=task_id,
        state=JobState.QUEUED,
        request=request.to_dict() if request is not None else None,
        protocol=provider_of(client),
    )
    first = 0.0
    if created_at is not None:
        first = created_at + core.settings.ours(core.settings.poll_policy.next_delay([])) - core.clock.time()
    core.schedule(tracked, first)
    return tracked.job
