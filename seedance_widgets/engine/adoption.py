"""Jobs from the ledger: a new manager adopts its folder's history, and submit adopts other
managers' jobs for the same request when they are finished or their manager died.

An adopted job in flight is picked up as a restart would: with a task id it is watched again (a
download in progress starts over from a fresh poll); ``submitting`` without a task id is looked up
by the ``client_business_id`` its create carried (creating.resolve_lost: attached when found, "not
created" on the gateway's 404, else ``may_exist``; an earlier release's job has no such id and
becomes ``may_exist``), and is never re-sent silently; ``intent``/``uploading`` means nothing was
sent, so it is closed as cancelled.
"""

from __future__ import annotations

from seedance_widgets.api import request_estimate_usd

from . import creating, ledger_index
from .core import Engine
from .providers import name_of, provider_of
from .restore import LedgerJob, is_in_flight
from .state import FINAL_STATES, JobSnapshot, JobState
from .tracked import Image, Tracked


def restore_all(core: Engine) -> None:
    """Adopt the ledger's jobs still in flight, except those another live manager is watching.

    The finished ones are adopted when asked for (:func:`adopt_deferred`; a request's own by
    :func:`settle`): a folder used for months holds thousands of them, and a new manager must
    open it at once (issue 16: a 100,000-record ledger in under a second)."""
    ledger = core.store.ledger
    with ledger.exclusive():
        uploads = ledger_index.load(core.view, ledger.path)  # the fold of a long ledger, if kept
        if uploads:
            with core.lock:
                core.uploaded.update(uploads)
        core.refresh()
        ledger_index.save_later(core.view, ledger.path)  # in the background; a failure only logs
        entries = list(core.view.jobs.values())
        core.view.opened = [entry.local_id for entry in entries]
        core.view.deferred = {entry.local_id: None for entry in entries if entry.state in FINAL_STATES}
    _adopt_entries(core, [entry for entry in entries if entry.state not in FINAL_STATES])


def adopt_deferred(core: Engine, local_ids: list[str] | None = None) -> None:
    """Adopt the finished jobs the open left for later: all of them (``jobs()`` lists every
    job, oldest first), or those of ``local_ids``. Each is adopted once, as it is now."""
    view = core.view
    if not view.deferred:
        return
    with core.store.ledger.exclusive():  # as settle: nobody adopts the same entry meanwhile
        wanted = list(view.deferred) if local_ids is None else [i for i in local_ids if i in view.deferred]
        for local_id in wanted:
            del view.deferred[local_id]
        with core.lock:
            entries = [view.jobs[i] for i in wanted if i in view.jobs and i not in core.tracked]
        _adopt_entries(core, entries)
    hashes = {entry.request_hash for entry in entries if entry.request_hash}
    with core.lock:
        for request_hash in hashes:
            # Keep "newest last" (the rules read the newest job's story) with the adopted ones in.
            core.by_hash[request_hash].sort(key=lambda job: job.snapshot().submitted_at or 0.0)
        if local_ids is None:
            # Oldest first: the jobs the ledger held at open (in its order), then this session's.
            first = [i for i in view.opened if i in core.tracked]
            earlier = set(first)
            for local_id in first + [i for i in core.tracked if i not in earlier]:
                core.tracked[local_id] = core.tracked.pop(local_id)


def _adopt_entries(core: Engine, entries: list[LedgerJob]) -> None:
    """Adopt ``entries``, except those in flight that another live manager is watching."""
    alive: dict[str, bool] = {}
    for entry in entries:
        if entry.state not in FINAL_STATES and entry.owner:
            if entry.owner not in alive:
                alive[entry.owner] = core.store.owner_alive(entry.owner)
            if alive[entry.owner]:
                continue  # another live process is watching it
        adopt(core, entry)


def settle(core: Engine, request_hash: str, *, besides: str | None = None) -> LedgerJob | None:
    """Other managers' jobs for ``request_hash``: adopt the finished ones (so the cache rules
    see them) and those whose manager died. Returns the newest still in flight under a live
    manager, to follow. Caller holds the ledger's exclusive lock, not the engine's lock."""
    leader: LedgerJob | None = None
    with core.lock:
        known = set(core.tracked)
    adopted = False
    for entry in core.view.with_hash(request_hash):
        if entry.local_id in known or entry.local_id == besides:
            continue
        if is_in_flight(entry) and entry.owner and core.store.owner_alive(entry.owner):
            leader = entry
            continue
        adopt(core, entry)
        adopted = True
    if adopted:
        with core.lock:
            # Keep "newest last" (the rules read the newest job's story) with the adopted ones in.
            core.by_hash[request_hash].sort(key=lambda job: job.snapshot().submitted_at or 0.0)
    return leader


def adopt(core: Engine, entry: LedgerJob) -> None:
    """Make a job of this manager from what the ledger says, and pick it up if it is live."""
    images = [
        Image(role=i.get("role", ""), url=i.get("url"), sha256=i.get("sha256"))
        for i in entry.images
        if isinstance(i, dict)
    ]
    with core.lock:
        tracked = core.new_job(
            _snapshot(entry),
            images=images,
            created_at=entry.created_at or entry.submitted_at,
            business_id=entry.client_business_id,
            sent_at=entry.sent_at,
            last_frame_url=entry.last_frame_url,
            protocol=entry.protocol,
            inherited=True,
        )
    job = tracked.job
    if entry.state in FINAL_STATES:
        return
    if entry.task_id is not None:
        if _elsewhere(core, tracked, entry):
            return
        # A live task: watch it again (a download in progress starts over from a fresh poll).
        if entry.state == JobState.DOWNLOADING:
            job._update(state=JobState.RUNNING)
        core.schedule(tracked, 0.0)
    elif entry.state == JobState.SUBMITTING:
        reason = (
            "the previous kernel stopped while this create was in flight, so the task may exist and be billed"
        )
        if entry.client_business_id is None:
            core.may_exist(tracked, reason)
            return
        # Ours from now on (the record names this manager): followers wait for its answer.
        core.record("lookup", job=entry.local_id, client_business_id=entry.client_business_id)
        creating.look_up_later(core, tracked, reason)
    else:
        core.record(
            "cancelled",
            job=entry.local_id,
            state=JobState.CANCELLED,
            error="stopped before it was sent: nothing was created or billed",
        )
        job._update(
            state=JobState.CANCELLED,
            error="the previous kernel stopped before this was sent: nothing was created or "
            "billed; run it again to generate",
            error_code="not_sent",
            finished_at=core.clock.time(),
        )


def _elsewhere(core: Engine, tracked: Tracked, entry: LedgerJob) -> bool:
    """A live task at another provider than this session's (e.g. made on Ark, and now only
    TOAPIS_API_KEY is set): it cannot be polled from here, so the job stops being watched and
    says how to watch it again. True when that is so."""
    provider = provider_of(core.client)
    if entry.protocol is None or entry.protocol == provider:
        return False
    task_id = entry.task_id
    error = (
        f"task {task_id} is at {name_of(entry.protocol)} ({entry.protocol}), but this session sends to "
        f"{provider}: not watched. Choose {entry.protocol} (its key, or SEEDANCE_PROVIDER={entry.protocol}), "
        f"then seedance_widgets.attach({task_id!r}) watches it again."
    )
    core.finish(tracked, JobState.TIMED_OUT, error=error, error_code="other_provider")
    return True


def _snapshot(entry: LedgerJob) -> JobSnapshot:
    return JobSnapshot(
        local_id=entry.local_id,
        request=entry.request,
        state=entry.state,
        task_id=entry.task_id,
        progress=entry.progress,
        submitted_at=entry.submitted_at,
        started_at=entry.started_at,
        finished_at=entry.finished_at,
        error=entry.error,
        error_code=entry.error_code,
        video_url=entry.video_url,
        expires_at=entry.expires_at,
        path=entry.path,
        sha256=entry.sha256,
        cost_estimate=_estimate(entry),
        seed=entry.seed,
        request_hash=entry.request_hash,
        last_frame=entry.last_frame,
        usage_tokens=entry.usage_tokens,
        cost_usd=entry.cost_usd,
        cancel_outcome=entry.cancel_outcome,
    )


def _estimate(entry: LedgerJob) -> float | None:
    """The recorded estimate; else the request's (None: no price known), or 0.0 without a request."""
    if entry.cost_estimate is not None:
        return entry.cost_estimate
    return request_estimate_usd(entry.request) if entry.request is not None else 0.0
