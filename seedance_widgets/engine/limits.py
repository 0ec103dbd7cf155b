"""The provider's per-account queue limit: at most ``Settings.ark_max_queued`` of our jobs hold a
place in Ark's queue at once (Ark refuses the 121st queued task of an account).

A job takes a place before its create is sent and gives it back once the job leaves the states
that can be queued at the provider (``HOLDING``: it runs, ends, or was never sent). Jobs beyond
the limit wait their turn in ``intent``, in the order they were asked for, and say so
(``error_code="waiting_for_queue"``); the next one is started as soon as a place frees. Providers
without such a limit (ToAPIs) start at once. Places are counted per manager.
"""

from __future__ import annotations

from collections.abc import Callable

from .core import Engine
from .providers import ARK, provider_of
from .state import JobSnapshot, JobState
from .tracked import NOT_SENT, WAITING_FOR_QUEUE, QueueLimit, Tracked

#: States in which a job may hold a place in the provider's queue.
HOLDING = frozenset({JobState.INTENT, JobState.UPLOADING, JobState.SUBMITTING, JobState.QUEUED})


def enter(core: Engine, tracked: Tracked, start: Callable[[], None]) -> None:
    """Run ``start`` (which queues the job's create) now if the job may take a place in its
    provider's queue, else when one frees."""
    if provider_of(core.client_for(tracked)) != ARK:
        start()
        return
    limit = core.queue_limit
    note = (
        f"waiting for a place in Ark's queue: {core.settings.ark_max_queued} of this session's tasks are "
        "queued there (Ark's per-account limit); this one is sent when one of them starts or ends"
    )
    with limit.lock:
        while limit.waiting and limit.waiting[0][0].job.snapshot().is_final:
            limit.waiting.popleft()  # cancelled while waiting
        room = len(limit.holders) < core.settings.ark_max_queued and not limit.waiting
        if room:
            limit.holders.add(tracked.job.local_id)
        else:
            # Said before anyone can admit it (under the lock), so the note is never stale.
            tracked.queue_note = note
            tracked.job._update(when=NOT_SENT, error=note, error_code=WAITING_FOR_QUEUE)
            limit.waiting.append((tracked, start))
    if room:
        _hold(core, limit, tracked, start)


def _hold(core: Engine, limit: QueueLimit, tracked: Tracked, start: Callable[[], None]) -> None:
    """The job holds a place until it leaves HOLDING (watched by an observer); then start it."""
    local_id = tracked.job.local_id

    def watch(snap: JobSnapshot) -> None:
        if snap.state not in HOLDING:
            leave(core, local_id)

    tracked.job.subscribe(watch)
    if tracked.queue_note is not None:
        tracked.queue_note = None
        tracked.job._update(when=NOT_SENT, error=None, error_code=None)
    if tracked.job.snapshot().state not in HOLDING:
        leave(core, local_id)
        return
    start()


def leave(core: Engine, local_id: str) -> None:
    """Give back a job's place (idempotent) and start the jobs waiting, as places allow."""
    limit = core.queue_limit
    with limit.lock:
        limit.holders.discard(local_id)
    admit_waiting(core)


def admit_waiting(core: Engine) -> None:
    """Start waiting jobs while there is room (after a place freed or the limit was raised)."""
    limit = core.queue_limit
    while True:
        with limit.lock:
            if not limit.waiting or len(limit.holders) >= core.settings.ark_max_queued:
                return
            tracked, start = limit.waiting.popleft()
            if tracked.job.snapshot().is_final or core.stopping:
                continue  # cancelled while it waited: nothing to send
            limit.holders.add(tracked.job.local_id)
        _hold(core, limit, tracked, start)


def waiting_count(core: Engine) -> int:
    """Jobs waiting for a place now."""
    limit = core.queue_limit
    with limit.lock:
        return sum(1 for t, _ in limit.waiting if not t.job.snapshot().is_final)
