"""Which job answers a request: the canonical request hash, the reuse rules, the saved-file match,
and the budget of a batch (a sweep, a grid) counted the same way.

The rules for an identical request (same hash) asked again without ``rerun``, newest job first:
one still in flight is returned; else a finished job whose saved file is intact is a cache hit (a
new, finished job: no HTTP, nothing billed); else the newest job's own story decides (may exist or
expired: returned as is; timed out: watched again; done but its file gone: fetched again while the
URL lives, else an expired job that says so; failed or cancelled: a new task).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

from seedance_widgets.api import GenerationRequest, request_estimate_usd
from seedance_widgets.api.protocols import for_provider

from .core import Engine
from .environment import environment_target
from .job import Job
from .providers import provider_of
from .restore import is_in_flight
from .state import DryRun, JobSnapshot, JobState
from .store import canonical_body, request_key
from .tracked import Image, Tracked, new_local_id

#: What to do, once the lock is released, with the job a reuse hands back.
Followup = Literal["resume", "fetch_again"]


@dataclasses.dataclass(frozen=True)
class Reuse:
    """The job that answers an identical request, and what to start for it (if anything)."""

    job: Job
    then: Followup | None = None
    tracked: Tracked | None = None


def request_hash(request: GenerationRequest, images: list[Image]) -> str:
    """The cache key of a request with its inputs (local ones by content): a hash of the neutral
    request (``store.request_key``), whatever protocol sends it."""
    return request_key(request, [(i.role, i.stable_url()) for i in images])


def dry_run(
    core: Engine, request: GenerationRequest, images: list[Image], request_hash: str, estimate: float | None
) -> DryRun:
    """The exact body a submit would send (uploaded URLs where known, else the local file's
    marker) and its estimate; nothing is sent."""
    known = [(i.role, core.uploaded.get(i.sha256 or "", i.stable_url())) for i in images]
    provider, region = _target(core)
    body = canonical_body(request, known, provider=provider, region=region)
    path = for_provider(provider).CREATE_PATH
    return DryRun(body=body, estimate_usd=estimate, request_hash=request_hash, path=path)


def _target(core: Engine) -> tuple[str, str | None]:
    """The provider and region the next create would go to: the manager's client's if it has
    one, else the environment's choice (no client is made: a dry run starts nothing)."""
    client = core.given_client
    if client is not None:
        return provider_of(client), getattr(client, "region", None)
    return environment_target()


def own_in_flight(core: Engine, request_hash: str, besides: str | None = None) -> Job | None:
    """This manager's newest identical job still in progress (caller holds the lock)."""
    for job in reversed(core.by_hash.get(request_hash) or []):
        if job.local_id != besides and not job.snapshot().is_final:
            return job
    return None


def reuse(core: Engine, request_hash: str) -> Reuse | None:
    """The job to hand back for an identical request (None: create a new task). Caller holds the
    lock; the follow-up is started after it is released (job updates call observers)."""
    same = core.by_hash.get(request_hash) or []
    if not same:
        return None
    for job in reversed(same):
        if not job.snapshot().is_final:
            return Reuse(job)
    saved = saved_match(core, same)
    if saved is not None:
        return Reuse(_cache_hit(core, saved))
    snap = same[-1].snapshot()
    tracked = core.tracked[snap.local_id]
    if snap.state in (JobState.MAY_EXIST, JobState.EXPIRED):
        return Reuse(tracked.job)
    if snap.state == JobState.TIMED_OUT and snap.task_id:
        return Reuse(tracked.job, "resume", tracked)
    if snap.state != JobState.DONE:
        return None  # failed or cancelled: asking again means trying again
    # The file is gone or altered: fetch it again. Only the gateway's answer says whether its URL
    # still lives (our clock, or its expires_at, may be off): an expired one ends the job "expired".
    if snap.video_url and snap.task_id:
        tracked.download_attempts = 0
        return Reuse(tracked.job, "fetch_again", tracked)
    return Reuse(_expired_copy(core, snap))


def saved_match(core: Engine, same: list[Job]) -> JobSnapshot | None:
    """The finished job whose saved video answers a request (jobs ``same`` share its hash),
    or None: also when one of them is still in flight, since submit then returns that one.
    The single rule behind both submit's cache hits and ``is_cached``."""
    snaps = [job.snapshot() for job in reversed(same)]
    if any(not snap.is_final for snap in snaps):
        return None
    for snap in snaps:
        if snap.state == JobState.DONE and core.store.file_matches(snap.path, snap.sha256):
            return snap
    return None


def _cache_hit(core: Engine, snap: JobSnapshot) -> Job:
    """A new, already finished job for a saved video (no request, nothing billed)."""
    copy = dataclasses.replace(
        snap, local_id=new_local_id(), from_cache=True, cost_estimate=0.0, polls=0, at=core.clock.time()
    )
    return core.new_job(copy, same_request=False).job


def _expired_copy(core: Engine, snap: JobSnapshot) -> Job:
    """A new job saying the saved video is gone and no URL is known to fetch it again (only a
    rerun makes it again)."""
    message = (
        f"the saved video of task {snap.task_id} is missing or altered and no URL to fetch it again "
        "is known; pass rerun=True to make (and pay for) a new task"
    )
    expired = dataclasses.replace(
        snap,
        local_id=new_local_id(),
        state=JobState.EXPIRED,
        error=message,
        error_code="url_expired",
        path=None,
        cost_estimate=0.0,
        at=core.clock.time(),
    )
    return core.new_job(expired, same_request=False).job


def has_saved(core: Engine, request_hash: str) -> bool:
    """Whether a finished, intact saved video answers ``request_hash`` (see ``is_cached``).

    Looks at the ledger's new records first, and changes nothing: another manager's job is only
    read here (submit adopts it)."""
    with core.store.ledger.exclusive():
        core.refresh()
        with core.lock:
            known = set(core.tracked)
            own = list(core.by_hash.get(request_hash) or [])
        others = [e for e in core.view.with_hash(request_hash) if e.local_id not in known]
    if any(is_in_flight(e) for e in others):
        return False  # submit would follow it: not free of HTTP
    with core.lock:
        if any(not job.snapshot().is_final for job in own):
            return False
        if saved_match(core, own) is not None:
            return True
    return any(e.state == JobState.DONE and core.store.file_matches(e.path, e.sha256) for e in others)


def check_batch(
    core: Engine,
    requests: Sequence[GenerationRequest],
    images: list[Image],
    *,
    rerun: bool,
    name: str,
    outcome: str,
) -> None:
    """The budget check of a whole batch before any of it is sent: requests whose video is saved
    are free unless ``rerun``; one still in flight is counted (erring towards refusing)."""
    if core.budget.limit_usd is None:
        return
    paid = [r for r in requests if rerun or not has_saved(core, request_hash(r, images))]
    cached = len(requests) - len(paid)
    free = f" ({cached} already saved, free)" if cached else ""
    what = f"this {name} of {len(requests)} jobs{free}"
    estimates = [request_estimate_usd(r) for r in paid]
    unpriced = sorted({r.model for r, usd in zip(paid, estimates, strict=True) if usd is None})
    if unpriced:
        core.budget.check_priced(None, what=f"{what}: {', '.join(unpriced)}", outcome=outcome)
    total = sum(usd for usd in estimates if usd is not None)
    core.budget.check(total, what=what, outcome=outcome)
