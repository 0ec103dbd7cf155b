"""The account's pace: creates and task GETs never outrun what the gateway says is left.

The gateway limits each account (ToAPIs default tier: creates 300/min, 5/s, 50 per 10 s; task
GETs 3,000/min, 50/s) and says on every reply how many calls are left and when the next slot
frees (``X-RateLimit-*``; the client keeps the newest in ``client.rate_info``). The engine sends
a call of a bucket only while its *budget* is positive: the newest reply's Remaining, less every
call of that bucket still on its way (sent or about to be: the gateway may not have counted them
yet). While the budget is above ``MARGIN`` calls go side by side; below it they go one at a time,
so each reply tells the exact budget; at zero the engine waits for the Reset the reply named,
then sends one call alone (a probe) whose reply tells the new budget. So a manager meets no 429
of its own making, whatever the tier, and another kernel on the same account shows up in the
headers and slows us down too.

Nothing is known before the first reply, and a reply with no rate headers means no limit: then
nothing waits (the gateway's 429 and the account back-off remain the safety net). Times here
are ``time.monotonic()`` (the headers speak of real seconds), not the engine's clock.

Which polls get the budget when it is short: the scheduler pops its heap in due order, and the
poll policy puts each job's next poll where its completion is predicted, so a scarce budget
goes first to the jobs most likely to have finished.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from seedance_widgets.api.ratelimits import RateInfo

CREATE = "create"
QUERY = "query"
#: Longest wait for a call's reply before looking again (a lost reply frees its place on return).
_PROBE_WAIT = 0.25
#: Calls kept in hand while several are on their way: replies on parallel connections can come
#: back out of the order the gateway counted them, so the newest-sent reply may not yet count a
#: call sent just before it (at most one per pool worker). Below this, calls go one at a time and
#: each reply tells the exact budget.
MARGIN = 4


class _Bucket:
    __slots__ = ("budget", "outstanding", "reset_at", "seen")

    def __init__(self) -> None:
        self.seen: tuple[int, int] = (0, 0)  # (id of the RateInfo, serial) of the sample applied
        self.budget = 0
        self.reset_at = 0.0
        self.outstanding = 0  # calls taken and not yet released


class Pacer:
    """Account-wide budgets of one manager, per bucket (``create``, ``query``); thread-safe.

    ``source()`` gives the RateInfo of the client polls go through (None: nothing known).
    ``on_release`` is called (outside the pacer's lock) when a call ends, so a waiter can look again.
    """

    def __init__(
        self,
        source: Callable[[], RateInfo | None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self._clock = clock
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._buckets = {CREATE: _Bucket(), QUERY: _Bucket()}
        self.on_release: Callable[[], None] | None = None
        #: Calls each bucket held back at least once (for benchmarks and tests).
        self.waits = {CREATE: 0, QUERY: 0}

    def delay(self, bucket: str, info: RateInfo | None = None) -> float:
        """Seconds until a call of ``bucket`` may be sent (0: now)."""
        with self._lock:
            return self._delay(bucket, self.source() if info is None else info)

    def take(self, bucket: str) -> None:
        """Count a call as on its way (after ``delay`` said 0)."""
        with self._lock:
            state = self._buckets[bucket]
            state.outstanding += 1
            state.budget -= 1

    def try_take(self, bucket: str, info: RateInfo | None = None) -> float:
        """Take a call's place if one is free now (0.0), else the seconds to wait."""
        with self._lock:
            wait = self._delay(bucket, self.source() if info is None else info)
            if wait <= 0:
                state = self._buckets[bucket]
                state.outstanding += 1
                state.budget -= 1
            else:
                self.waits[bucket] += 1
            return wait

    def release(self, bucket: str) -> None:
        """The call has its answer (or failed): its place is no longer on the way."""
        with self._lock:
            state = self._buckets[bucket]
            state.outstanding = max(0, state.outstanding - 1)
            self._changed.notify_all()
        if self.on_release is not None:
            self.on_release()

    def wait_turn(self, bucket: str, info: RateInfo | None, stopped: threading.Event) -> bool:
        """Wait until a call may go (a released call wakes us), then take its place.
        True: ``stopped`` was set, nothing taken."""
        while not stopped.is_set():
            wait = self.try_take(bucket, info)
            if wait <= 0:
                return False
            with self._changed:
                self._changed.wait(min(wait, _PROBE_WAIT))
        return True

    def _delay(self, bucket: str, info: RateInfo | None) -> float:
        state = self._buckets[bucket]
        sample = None if info is None else info.latest(bucket)
        if sample is None:
            return 0.0  # no limit reported: nothing to pace against
        seen = (id(info), sample.serial)
        if seen != state.seen:
            # Calls still on their way may not be counted in this Remaining yet.
            state.seen = seen
            state.budget = sample.remaining - state.outstanding
            state.reset_at = sample.reset_at
        if state.budget > MARGIN:
            return 0.0
        if state.outstanding > 0:
            return _PROBE_WAIT  # one at a time now: the call out wakes the waiter when it ends
        if state.budget > 0:
            return 0.0
        now = self._clock()
        if now < state.reset_at:
            return state.reset_at - now
        return 0.0  # a slot has freed: one probe, whose reply gives the new budget
