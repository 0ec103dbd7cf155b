"""Several managers, one output folder: exactly one paid task per request.

Managers in one process or in many (two kernels, a script beside a notebook) may share an
output folder. The ledger is their common memory, and every create is decided under its
exclusive lock, so two askers can never both decide to pay for the same request.

The rule, applied by ``JobManager.submit`` (without ``rerun``) while it holds the ledger's
exclusive lock, after folding in every record appended since it last read (by anyone):

1. This manager's own identical job in flight: that job is returned.
2. Another manager's identical job in flight (same request hash):

   - its manager alive (its owner lock is held, see ``Store.owner_alive``): the asker gets a
     *follower*, a job of its own that watches the same task. It follows the ledger until the
     other job's ``created`` record names the task id, then polls the gateway itself (reads are
     free) and saves the video; when the other job's ``downloaded`` record comes first with an
     intact file, that file is used (the store is content-addressed: same bytes, same name).
     The follower writes an ``attached`` record (with ``follows``) once it knows the task id,
     and nothing before: no ledger record ever makes a follower look like a second create.
   - its manager dead: the job is adopted as a restart would: with a task id it is watched;
     ``submitting`` becomes ``may_exist`` (never re-sent silently); ``intent``/``uploading``
     means nothing was sent, so it is closed as cancelled and this ask creates.

3. A finished identical job (anyone's) whose saved file is intact: a cache hit, no HTTP.
4. Otherwise the ``intent`` record is appended before the lock is released: whoever reads the
   ledger next sees this job in flight and follows it.

A follower whose leader stops before naming a task:

- leader ``submitting`` when its manager died, or ended ``may_exist``: the follower ends
  ``may_exist`` too (the task may exist and be billed; nothing is sent again silently);
- leader failed before a task existed (e.g. refused at create): the follower fails the same way;
- leader never sent anything (``intent``/``uploading`` with a dead manager, or cancelled before
  sending): the follower takes the create over, again under the lock, after checking that no
  other manager did so first (then it follows that one instead).

``rerun=True`` skips all of this and always makes a new, paid task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from seedance_widgets.api import GenerationRequest

from . import adoption, creating
from .cache import own_in_flight
from .core import Engine
from .errors import BudgetExceededError
from .job import Job
from .providers import provider_of
from .restore import LedgerJob, is_in_flight
from .state import POLLED_STATES, JobSnapshot, JobState
from .tracked import Image, Tracked, new_local_id, relative

log = logging.getLogger("seedance_widgets.engine")

#: Wall seconds between two looks at the ledger while a follower waits for the task id
#: (a local file read, so no gateway pacing applies).
FOLLOW_INTERVAL = 0.2

#: A leader's states before its create went out or came back, shown by its followers as theirs.
PRE_TASK_STATES = frozenset({JobState.INTENT, JobState.UPLOADING, JobState.SUBMITTING})


def new_follower(
    core: Engine,
    leader: LedgerJob,
    *,
    request: GenerationRequest,
    request_hash: str,
    estimate: float | None,
    images: list[Image],
) -> tuple[Job, Callable[[], None]]:
    """A job watching another manager's identical job (caller holds the lock), and what to start
    once the lock is released. It costs nothing and writes no record until it knows the task id."""
    state = leader.state if leader.state in PRE_TASK_STATES else JobState.INTENT
    snap = JobSnapshot(
        local_id=new_local_id(),
        request=request,
        state=state,
        submitted_at=core.clock.time(),
        cost_estimate=estimate,
        request_hash=request_hash,
    )
    tracked = core.new_job(snap, images=images, client=core.given_client, follows=leader.local_id)
    log.info("job %s follows %s of another manager (same request)", snap.local_id, leader.local_id)
    return tracked.job, lambda: core.schedule(tracked, 0.0)


def look(core: Engine, tracked: Tracked) -> bool:
    """One look at the followed job (from the scheduler). True when handled; False when the
    follower should poll the gateway itself (it knows the task id)."""
    snap = tracked.job.snapshot()
    if snap.is_final:
        return True
    core.refresh()
    leader = core.view.jobs.get(tracked.follows or "")
    if snap.task_id is not None:
        # Polling on our own: the leader's saved file, once there, spares the download.
        if leader is not None and snap.state in POLLED_STATES and _has_our_video(core, leader, snap):
            _follow_done(core, tracked, leader)
            return True
        return False
    if leader is not None and leader.task_id is not None:
        _follow_task(core, tracked, leader)
    elif leader is not None and leader.state == JobState.FAILED:
        error = leader.error or "the identical job of another kernel failed"
        core.finish(tracked, JobState.FAILED, error=error, error_code=leader.error_code or "failed")
    elif leader is not None and is_in_flight(leader) and _alive(core, leader):
        _wait_for_task(core, tracked, leader)
    else:
        # The leader stopped before naming a task: its manager died, or it ended without one.
        _take_over(core, tracked)
    return True


def _has_our_video(core: Engine, leader: LedgerJob, snap: JobSnapshot) -> bool:
    """Whether the leader saved the video of the task we poll (same task, intact file)."""
    return (
        leader.task_id == snap.task_id
        and leader.state == JobState.DONE
        and core.store.file_matches(leader.path, leader.sha256)
    )


def _alive(core: Engine, leader: LedgerJob) -> bool:
    return bool(leader.owner) and core.store.owner_alive(leader.owner or "")


def _wait_for_task(core: Engine, tracked: Tracked, leader: LedgerJob) -> None:
    """The leader is still before its task: show its state, look again shortly (or give up at
    the deadline: this job sent nothing)."""
    snap = tracked.job.snapshot()
    watched = (core.clock.time() - tracked.watch_since) * core.settings.time_scale
    if watched > core.settings.deadline_s:
        core.finish(
            tracked,
            JobState.TIMED_OUT,
            error=(
                f"the identical job {leader.local_id} of another kernel sent nothing for "
                f"{core.settings.deadline_s / 60:g} minutes; stopped following it (this job sent nothing)"
            ),
            error_code="timed_out",
        )
        return
    if leader.state != snap.state:
        tracked.job._update(when=PRE_TASK_STATES, state=leader.state)
    core.schedule(tracked, FOLLOW_INTERVAL)


def _follow_task(core: Engine, tracked: Tracked, leader: LedgerJob) -> None:
    """The leader's create named the task: watch it from here on, as an attached job."""
    job = tracked.job
    now = core.clock.time()
    if job._update(when=PRE_TASK_STATES, task_id=leader.task_id, state=JobState.QUEUED) is None:
        return  # cancelled meanwhile
    with core.lock:
        tracked.created_at = leader.created_at or now
        tracked.watch_since = now
        generation = tracked.generation
    snap = job.snapshot()
    assert snap.request is not None
    core.record(
        "attached",
        job=snap.local_id,
        task_id=leader.task_id,
        request_hash=snap.request_hash,
        request=snap.request.to_dict(),
        protocol=leader.protocol or provider_of(core.client_for(tracked)),
        images=tracked.image_records(),
        state=JobState.QUEUED,
        cost_estimate=snap.cost_estimate,
        follows=leader.local_id,
    )
    if leader.state == JobState.DONE and core.store.file_matches(leader.path, leader.sha256):
        _follow_done(core, tracked, leader)
        return
    first = tracked.created_at + core.settings.ours(core.settings.poll_policy.next_delay([])) - now
    core.schedule(tracked, max(0.0, first), generation)


def _follow_done(core: Engine, tracked: Tracked, leader: LedgerJob) -> None:
    """Finish with the leader's saved file (same task, same bytes): no download."""
    done = tracked.job._update(
        when=POLLED_STATES,
        state=JobState.DONE,
        path=leader.path,
        sha256=leader.sha256,
        last_frame=leader.last_frame,
        progress=100,
        seed=leader.seed,
        video_url=leader.video_url,
        expires_at=leader.expires_at,
        finished_at=core.clock.time(),
        eta_seconds=None,
        error=None,
        reconnecting=False,
    )
    if done is None or leader.path is None:
        return
    core.record(
        "downloaded",
        job=done.local_id,
        task_id=done.task_id,
        state=JobState.DONE,
        path=relative(leader.path, core.store.root),
        sha256=leader.sha256,
        last_frame=relative(leader.last_frame, core.store.root) if leader.last_frame else None,
        request_hash=done.request_hash,
        finished_at=round(done.finished_at or core.clock.time(), 3),
    )


def _take_over(core: Engine, tracked: Tracked) -> None:
    """The followed job stopped before naming a task. Decide again under the ledger's lock, as
    submit does: follow another live one; end as the finished or may-exist one ends; else
    (nothing was ever sent) create it here, the intent written before the lock goes."""
    with core.store.ledger.exclusive():
        decision, other = _decide(core, tracked)
        if decision == "create":
            # Still under the lock: whoever reads the ledger next follows this job.
            creating.record_intent(core, tracked)
    # Job updates (observers) only after the lock is released.
    if decision == "follow":
        core.schedule(tracked, 0.0)
    elif decision == "join" and other is not None:
        _join(core, tracked, other)
    elif decision == "create":
        if tracked.job._update(when=PRE_TASK_STATES, state=JobState.INTENT) is None:
            core.release(tracked)  # cancelled meanwhile: its record says so; nothing is sent
            return
        log.info("job %s: the job it followed never sent its create; sending it here", tracked.job.local_id)
        creating.start(core, tracked)
    else:
        core.finish(tracked, JobState.FAILED, error=decision, error_code="budget_exceeded")


def _decide(core: Engine, tracked: Tracked) -> tuple[str, JobSnapshot | None]:
    """What a follower whose leader stopped does: ("follow"|"join"|"create", the job to join),
    or (the budget's refusal, None). Caller holds the ledger's exclusive lock."""
    snap = tracked.job.snapshot()
    request_hash = snap.request_hash or ""
    core.refresh()
    leader = adoption.settle(core, request_hash, besides=snap.local_id)
    with core.lock:
        mine = own_in_flight(core, request_hash, besides=snap.local_id)
        same = [j for j in core.by_hash.get(request_hash, []) if j.local_id != snap.local_id]
        newest = same[-1].snapshot() if same else None
        if leader is None and mine is not None and mine.task_id is None:
            leader = core.view.jobs.get(mine.local_id)  # one of ours, not sent yet: follow it
        if leader is not None:
            tracked.follows = leader.local_id
            return "follow", None
        if mine is not None:
            return "join", mine.snapshot()  # we watch its task (e.g. just adopted)
        if newest is not None and newest.state in (JobState.MAY_EXIST, JobState.DONE):
            return "join", newest
        return _reserve_take_over(core, tracked), None


def _reserve_take_over(core: Engine, tracked: Tracked) -> str:
    """Make a follower an ordinary job that creates its own task (caller holds the lock).
    Returns "create", or the budget's refusal as a sentence."""
    try:
        snap = tracked.job.snapshot()
        what = snap.request.model if snap.request is not None else "this request"
        tracked.reserved_usd = core.budget.reserve(snap.cost_estimate, what=what)
    except BudgetExceededError as err:
        return str(err)
    tracked.follows = None
    tracked.watch_since = core.clock.time()
    return "create"


def _join(core: Engine, tracked: Tracked, other: JobSnapshot) -> None:
    """End (or re-aim) a follower from another job of this manager with the same request."""
    if other.task_id is not None and (not other.is_final or other.state == JobState.DONE):
        entry = LedgerJob(
            local_id=other.local_id,
            task_id=other.task_id,
            state=other.state,
            created_at=other.submitted_at,
            path=other.path,
            sha256=other.sha256,
            last_frame=other.last_frame,
            seed=other.seed,
        )
        _follow_task(core, tracked, entry)
    elif other.state == JobState.MAY_EXIST:
        core.may_exist(
            tracked,
            f"the identical job {other.local_id} that this one followed stopped while its create was "
            "in flight (its kernel ended), so that task may exist and be billed",
        )
    else:
        core.schedule(tracked, FOLLOW_INTERVAL)  # not sent yet: look again shortly
