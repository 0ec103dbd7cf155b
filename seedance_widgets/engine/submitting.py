"""The submit path: which job answers a request, decided and recorded as one step.

Check and intent are one step for every manager of the folder (see follow.py): under the ledger's
exclusive lock, read what anyone appended since we last looked, decide (this manager's job in
flight, another manager's to follow, a saved video, the newest job's own story: see cache.py),
and write a new job's intent before anyone else can decide the same. Job updates (observers) and
the create itself only start once the locks are released.
"""

from __future__ import annotations

from collections.abc import Callable

from seedance_widgets.api import GenerationRequest

from . import adoption, cache, creating, follow, transfers, watching
from .core import Engine
from .job import Job
from .state import JobSnapshot, JobState
from .tracked import Image, Tracked, business_id_for, new_local_id


def submit(
    core: Engine,
    request: GenerationRequest,
    images: list[Image],
    *,
    request_hash: str,
    estimate: float | None,
    rerun: bool,
) -> Job:
    """The job that answers ``request``: an existing one (its follow-up started), or a new one
    whose intent is on disk and whose create is queued."""
    reused, followup, tracked = _decide(core, request, images, request_hash, estimate=estimate, rerun=rerun)
    if tracked is not None:
        creating.start(core, tracked)
        return tracked.job
    if followup is not None:
        followup()
    assert reused is not None
    return reused


def _decide(
    core: Engine,
    request: GenerationRequest,
    images: list[Image],
    request_hash: str,
    *,
    estimate: float | None,
    rerun: bool,
) -> tuple[Job | None, Callable[[], None] | None, Tracked | None]:
    followup: Callable[[], None] | None = None
    with core.store.ledger.exclusive():
        leader = None
        if not rerun:
            core.refresh()
            leader = adoption.settle(core, request_hash)
        with core.lock:
            reused = None if rerun else cache.own_in_flight(core, request_hash)
            if reused is None and leader is not None:
                reused, followup = follow.new_follower(
                    core, leader, request=request, request_hash=request_hash, estimate=estimate, images=images
                )
            elif reused is None and not rerun:
                reused, followup = _reuse(core, request_hash)
            if reused is None:
                tracked = _new_job(core, request, images, request_hash, estimate)
        if reused is None:
            creating.record_intent(core, tracked)  # durable before the lock goes
            return None, None, tracked
    return reused, followup, None


def _reuse(core: Engine, request_hash: str) -> tuple[Job | None, Callable[[], None] | None]:
    """The cache rules' answer, with its follow-up as a step to run after the locks."""
    found = cache.reuse(core, request_hash)
    if found is None:
        return None, None
    tracked = found.tracked
    if found.then == "resume" and tracked is not None:
        return found.job, lambda: watching.resume(core, tracked)
    if found.then == "fetch_again" and tracked is not None:
        return found.job, lambda: transfers.fetch_again(core, tracked)
    return found.job, None


def _new_job(
    core: Engine, request: GenerationRequest, images: list[Image], request_hash: str, estimate: float | None
) -> Tracked:
    """Register a new job, its estimate reserved against the budget (caller holds the lock)."""
    reserved = core.budget.reserve(
        estimate, what=f"{request.model} at {request.resolution}, {request.duration} s"
    )
    local_id = new_local_id()
    snap = JobSnapshot(
        local_id=local_id,
        request=request,
        state=JobState.INTENT,
        submitted_at=core.clock.time(),
        cost_estimate=estimate,
        request_hash=request_hash,
    )
    return core.new_job(
        snap,
        images=images,
        reserved_usd=reserved,
        client=core.given_client,
        business_id=business_id_for(local_id),
    )
