"""When each job's next step runs: the poll heap, the worker pool and its caps, the account's pace.

One scheduler thread keeps a heap of (next poll time, job) and sleeps until the next one; a small
pool (at most ``MAX_WORKERS``) runs the polls' GETs, uploads, creates and downloads, so one slow
reply never delays the other jobs. Transfers (creates with their uploads, downloads) never take
every worker, and creates have their own cap. After a 429 the whole account waits (capped), while
deadlines still pass on time. All threads are daemons and all waits use the engine's clock.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Protocol

from .clock import Clock
from .pacing import QUERY, Pacer
from .settings import Settings

log = logging.getLogger("seedance_widgets.engine")

MAX_WORKERS = 4
# Kinds of pool work, in the order workers take them.
# Polls first (cheap, time-critical), then downloads (a finished video is waiting), then creates.
STOP, POLL, DOWNLOAD, CREATE = -1, 0, 1, 2
#: Longest wait after repeated network faults (gateway seconds).
MAX_RECONNECT_WAIT = 60.0
#: Longest account-wide back-off after a 429, whatever its Retry-After asks (gateway seconds):
#: "Retry-After: 86400" must not freeze every job of the session for a day.
MAX_ACCOUNT_BACKOFF = 5 * 60.0
#: Longest single wait of the scheduler (real seconds), so a stop is never missed for long.
_LONGEST_WAIT = 5.0

Work = Callable[[], None]
_Item = tuple[int, int, "Work | None"]
_Entry = tuple[float, int, str, int]


class Hooks(Protocol):
    """What the scheduler asks of the engine it serves."""

    def poll_work(self, local_id: str, generation: int) -> Work | None:
        """The poll to run for a due heap entry (None: the entry is stale)."""
        ...

    def past_deadline(self) -> tuple[list[str], float | None]:
        """Polled jobs past their deadline, and seconds until the next one's (under the lock)."""
        ...

    def timed_out(self, local_id: str) -> None:
        """End a job whose deadline passed while the back-off held its poll."""
        ...

    def rate_limit_over(self) -> None:
        """The account's wait is over: jobs stop saying they are rate limited."""
        ...


class Scheduler:
    """The heap, the pool and the account's back-off of one manager.

    ``lock`` is the manager's lock: the heap, the caps and the back-off share it with the jobs'
    bookkeeping, so one lock order holds everywhere.
    """

    def __init__(
        self,
        *,
        lock: threading.RLock,
        clock: Clock,
        settings: Settings,
        hooks: Hooks,
        max_workers: int = MAX_WORKERS,
        max_concurrent_creates: int = 2,
    ) -> None:
        if not 1 <= max_workers <= MAX_WORKERS:
            raise ValueError(f"max_workers must be 1 to {MAX_WORKERS}")
        self.clock = clock
        self._settings = settings
        self._hooks = hooks
        self.max_workers = max_workers
        self._lock = lock
        self._wake = threading.Condition(lock)
        self.stopped = threading.Event()
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        # (kind, seq, fn): polls sort before transfers; fn None tells a worker to stop.
        self._work: queue.PriorityQueue[_Item] = queue.PriorityQueue()
        # Transfers that did not fit their caps when a worker took them, oldest first per kind.
        self._parked: dict[int, collections.deque[_Item]] = {
            DOWNLOAD: collections.deque(),
            CREATE: collections.deque(),
        }
        self._active = {DOWNLOAD: 0, CREATE: 0}
        self._create_cap = max(1, max_concurrent_creates)
        self._transfer_cap = max(1, max_workers - 1)
        self._workers: list[threading.Thread] = []
        self.backoff_until = 0.0
        #: True while jobs show the account's rate-limit notice (the loop clears it after).
        self._rate_notice = False
        self._backoff_wall = 0.0
        self._backoff_asked: float | None = None
        self._rate_limit_streak = 0
        #: The account's pace from the gateway's X-RateLimit-* replies (the engine gives it a source).
        self.pacer = Pacer()
        self.pacer.on_release = self._poke
        self._thread = threading.Thread(target=self._loop, name="seedance-scheduler", daemon=True)
        self._thread.start()

    # ---- the heap ---------------------------------------------------------------------------
    def schedule(self, local_id: str, delay: float, generation: int) -> None:
        """Poll ``local_id`` in ``delay`` seconds (an entry whose generation is stale by then is
        skipped)."""
        with self._wake:
            entry = (self.clock.monotonic() + max(0.0, delay), next(self._seq), local_id, generation)
            heapq.heappush(self._heap, entry)
            self._wake.notify_all()

    def _loop(self) -> None:
        while True:
            entry, overdue, notice_over = self._next_due()
            if entry is None and not overdue and not notice_over:
                return  # stopping
            if notice_over:
                self._hooks.rate_limit_over()
            for local_id in overdue:
                self._hooks.timed_out(local_id)
            if entry is None:
                continue
            _, _, local_id, generation = entry
            work = self._hooks.poll_work(local_id, generation)
            if work is None:
                self.pacer.release(QUERY)
            else:
                # The GET runs in the pool, so one slow reply never delays the other jobs' polls.
                self.run_in_pool(_then_release(work, self.pacer), POLL)

    def _next_due(self) -> tuple[_Entry | None, list[str], bool]:
        """Wait for the next thing to do: a poll that is due (popped from the heap), jobs past
        their deadline while the back-off holds polls back, or the end of that back-off. All
        empty/False: the manager is stopping."""
        with self._wake:
            while not self.stopped.is_set():
                now = self.clock.monotonic()
                if self._rate_notice and now >= self.backoff_until:
                    self._rate_notice = False
                    return None, [], True
                head = self._heap[0][0] if self._heap else None
                pace = 0.0
                if head is not None and max(head, self.backoff_until) <= now:
                    # Due: it goes when the account's query budget has room (pacing.py).
                    pace = self.pacer.try_take(QUERY)
                    if pace <= 0:
                        return heapq.heappop(self._heap), [], False
                overdue, wait = self._wait_or_overdue(head, now)
                if overdue:
                    return None, overdue, False
                if pace > 0:
                    wait = pace if wait is None or wait <= 0 else min(wait, pace)
                self.clock.wait(self._wake, None if wait is None else min(max(wait, 0.001), _LONGEST_WAIT))
        return None, [], False

    def _wait_or_overdue(self, head: float | None, now: float) -> tuple[list[str], float | None]:
        """Jobs past their deadline (only looked for while the back-off holds a due poll), else
        how long to wait (None: until woken)."""
        wait = None if head is None else max(head, self.backoff_until) - now
        if self._rate_notice:
            left = self.backoff_until - now
            wait = left if wait is None else min(wait, left)
        if head is not None and self.backoff_until > head:
            # Polls wait for the back-off, but deadlines do not: a job whose poll would have
            # timed it out ends on time anyway.
            overdue, next_deadline = self._hooks.past_deadline()
            if overdue:
                return overdue, None
            if next_deadline is not None:
                wait = next_deadline if wait is None else min(wait, next_deadline)
        return [], wait

    # ---- the pool ---------------------------------------------------------------------------
    def run_in_pool(self, fn: Work, kind: int) -> None:
        """Queue work for the pool (``kind``: POLL, DOWNLOAD or CREATE)."""
        with self._lock:
            if self.stopped.is_set():
                return
            self._work.put((kind, next(self._seq), fn))
            if len(self._workers) < self.max_workers:
                worker = threading.Thread(
                    target=self._worker_loop, name=f"seedance-worker-{len(self._workers) + 1}", daemon=True
                )
                self._workers.append(worker)
                worker.start()

    def _may_start(self, kind: int) -> bool:
        """Whether a transfer of ``kind`` fits its caps now (caller holds the lock)."""
        if self._active[DOWNLOAD] + self._active[CREATE] >= self._transfer_cap:
            return False
        return kind != CREATE or self._active[CREATE] < self._create_cap

    def _worker_loop(self) -> None:
        while True:
            item = self._work.get()
            kind, _, fn = item
            if fn is None:
                return
            if kind != POLL and not self._take_slot(item):
                continue
            try:
                fn()
            except Exception:
                log.exception("a job engine task failed unexpectedly")
            finally:
                if kind != POLL:
                    self._give_slot(kind)

    def _take_slot(self, item: _Item) -> bool:
        """Count a transfer in, or park it until a transfer ends (the worker moves on)."""
        with self._lock:
            if not self._may_start(item[0]):
                _park(self._parked[item[0]], item)
                return False
            self._active[item[0]] += 1
            return True

    def _give_slot(self, kind: int) -> None:
        with self._lock:
            self._active[kind] -= 1
            self._unpark()

    def _unpark(self) -> None:
        """Hand the oldest parked transfers that now fit back to the pool, downloads first.

        Only as many as there are free slots: with 10,000 creates parked, handing every one back
        on each release made the backlog cost O(n) per transfer (O(n^2) in all) in queue churn,
        and that CPU was taken from the user's cells. Caller holds the lock.
        """
        free = self._transfer_cap - self._active[DOWNLOAD] - self._active[CREATE]
        creates_free = self._create_cap - self._active[CREATE]
        for kind in (DOWNLOAD, CREATE):
            parked = self._parked[kind]
            while free > 0 and parked and not self.stopped.is_set():
                if kind == CREATE:
                    if creates_free <= 0:
                        break
                    creates_free -= 1
                self._work.put(parked.popleft())
                free -= 1

    def _poke(self) -> None:
        """A paced call ended: the loop looks at the budget again."""
        with self._wake:
            self._wake.notify_all()

    def sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` unless shutting down; True when it is time to stop."""
        return self.clock.sleep(self.stopped, seconds)

    def stop(self, timeout: float) -> None:
        """Stop the scheduler and the workers, waiting up to ``timeout`` real seconds in all."""
        self.stopped.set()
        with self._wake:
            self._wake.notify_all()
        for _ in self._workers:
            self._work.put((STOP, next(self._seq), None))
        end = time.monotonic() + timeout
        for thread in [self._thread, *self._workers]:
            if thread is not threading.current_thread():
                thread.join(max(0.0, end - time.monotonic()))

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # ---- the account's pace -----------------------------------------------------------------
    def backoff(self, retry_after: float | None) -> bool:
        """After a 429, nobody on this account calls the gateway until the wait is over.

        The gateway's Retry-After is obeyed up to MAX_ACCOUNT_BACKOFF (gateway seconds): a huge
        one must not freeze every job for a day. True when this starts a longer wait than the
        one already holding (the jobs should then say so).
        """
        cap = self._settings.ours(MAX_ACCOUNT_BACKOFF)
        with self._wake:
            self._rate_limit_streak += 1
            if retry_after is not None:
                wait = min(retry_after, cap)  # the gateway's own word, in real seconds, within reason
            else:
                doubling = 2.0 * 2 ** min(self._rate_limit_streak - 1, 10)
                wait = self._settings.ours(min(MAX_RECONNECT_WAIT, doubling))
            until = self.clock.monotonic() + wait
            if until <= self.backoff_until:
                return False  # an earlier, longer wait already holds everyone
            self.backoff_until = until
            self._backoff_wall = self.clock.time() + wait
            self._backoff_asked = retry_after
            self._rate_notice = True
            self._wake.notify_all()
            return True

    def answered(self) -> None:
        """A call got a real answer: the next 429 starts the doubling afresh."""
        self._rate_limit_streak = 0

    @property
    def rate_limited(self) -> bool:
        """Whether jobs should show the account's rate-limit notice now."""
        return self._rate_notice and self.clock.monotonic() < self.backoff_until

    def rate_limit_text(self) -> str:
        until = time.strftime("%H:%M:%S", time.localtime(self._backoff_wall))
        text = f"rate limited by the gateway (HTTP 429): this account's requests wait until {until}"
        cap = self._settings.ours(MAX_ACCOUNT_BACKOFF)
        if self._backoff_asked is not None and self._backoff_asked > cap:
            text += f" (it asked for {self._backoff_asked:.0f} s; waits are capped at {cap:.0f} s)"
        return text

    def reconnect_wait(self, failures: int) -> float:
        """Seconds to wait after ``failures`` network faults in a row (doubling, capped)."""
        return self._settings.ours(min(MAX_RECONNECT_WAIT, 1.0 * 2 ** min(failures - 1, 6)))


def _park(parked: collections.deque[_Item], item: _Item) -> None:
    """Park ``item`` in submit order. Almost always it goes last; one that the pool's workers took
    out of order, or that _unpark handed back and that lost the race for its slot, goes back to its
    place (near the front), so the backlog keeps the order in which the jobs were submitted."""
    if not parked or item[1] > parked[-1][1]:
        parked.append(item)
        return
    at = next(i for i, other in enumerate(parked) if other[1] > item[1])
    parked.insert(at, item)


def _then_release(work: Work, pacer: Pacer) -> Work:
    """``work`` (one poll), then its place in the query budget is given back."""

    def run() -> None:
        try:
            work()
        finally:
            pacer.release(QUERY)

    return run
