"""The engine's clock: what time it is, and how its threads wait.

Every timed wait of the engine (the scheduler's sleep until the next poll, the account's back-off,
a create's retry wait, a download's retry wait) goes through a :class:`Clock`, so a test can run
the engine on a :class:`ManualClock`: time stands still until the test moves it, and the test can
see what each engine thread is waiting for instead of sleeping and hoping.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    """Wall time, monotonic time, and waits measured on them."""

    def time(self) -> float:
        """Wall-clock seconds (unix time): stamps, deadlines kept across restarts."""
        ...

    def monotonic(self) -> float:
        """Seconds that never go back: when the next poll is due, back-off ends."""
        ...

    def wait(self, condition: threading.Condition, timeout: float | None) -> bool:
        """``condition.wait(timeout)`` in this clock's seconds (the caller holds ``condition``).
        True when notified; a caller re-checks its state either way."""
        ...

    def sleep(self, stop: threading.Event, seconds: float) -> bool:
        """Wait ``seconds`` unless ``stop`` is set first; True when ``stop`` is set."""
        ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, condition: threading.Condition, timeout: float | None) -> bool:
        return condition.wait(timeout)

    def sleep(self, stop: threading.Event, seconds: float) -> bool:
        return stop.wait(max(0.0, seconds))

    def __repr__(self) -> str:
        return "<SystemClock>"


#: Real seconds between two looks at a manual clock while waiting on it.
_SLICE = 0.005


class ManualClock:
    """A clock that moves only when told (:meth:`advance`), for tests.

    Waits on it end when the clock is moved past their deadline (or when they are notified /
    stopped, as on the real clock); a wait on a condition may also end early, as a real one may,
    since its caller re-checks its state anyway. :meth:`waits` lists the deadlines of the waits
    in progress, so a test can wait for the engine to be waiting for a given time: an event, not
    a sleep.
    """

    def __init__(self, start: float | None = None) -> None:
        self._wall0 = time.time() if start is None else start
        self._now = 0.0
        self._lock = threading.Condition()
        #: Deadline (on ``monotonic``) of each wait in progress, by a token per wait.
        self._waits: dict[object, float] = {}

    def time(self) -> float:
        return self._wall0 + self._now

    def monotonic(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock on by ``seconds``; waits whose deadline has come end."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._lock:
            self._now += seconds
            self._lock.notify_all()

    def waits(self) -> list[float]:
        """The deadlines (on ``monotonic``) of the waits in progress, soonest first (inf: none)."""
        with self._lock:
            return sorted(self._waits.values())

    def wait_for_waits(
        self, predicate: Callable[[list[float]], bool], timeout: float = 10.0, what: str = "waits"
    ) -> list[float]:
        """Block (in real seconds, at most ``timeout``) until ``predicate(self.waits())`` holds."""
        end = time.monotonic() + timeout
        with self._lock:
            while not predicate(sorted(self._waits.values())):
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{what}: not met within {timeout:g} s (waits: {self.waits()})")
                self._lock.wait(min(left, 0.05))
            return sorted(self._waits.values())

    def wait(self, condition: threading.Condition, timeout: float | None) -> bool:
        deadline = math.inf if timeout is None else self._now + max(0.0, timeout)
        if self._now >= deadline:
            return False
        token = self._enter(deadline)
        try:
            # One real slice, then back to the caller, which re-checks its state and waits again:
            # a notify that races a slice's end is seen as a timeout by Condition.wait, so looping
            # here could lose it.
            return condition.wait(_SLICE)
        finally:
            self._leave(token)

    def sleep(self, stop: threading.Event, seconds: float) -> bool:
        deadline = self._now + max(0.0, seconds)
        token = self._enter(deadline)
        try:
            while self._now < deadline:
                if stop.wait(_SLICE):
                    return True
            return stop.is_set()
        finally:
            self._leave(token)

    def _enter(self, deadline: float) -> object:
        token = object()
        with self._lock:
            self._waits[token] = deadline
            self._lock.notify_all()
        return token

    def _leave(self, token: object) -> None:
        with self._lock:
            self._waits.pop(token, None)
            self._lock.notify_all()

    def __repr__(self) -> str:
        return f"<ManualClock at +{self._now:g} s, {len(self._waits)} waiting>"
