"""The gateway's per-account rate limits, imitated: a token bucket and sliding windows per bucket.

ToAPIs documents (default tier, see ``/work/shared/seedance-models.md`` section A): creates
300/min, 5/s and a burst of 50 per 10 s; queries (task GETs) 3,000/min and 50/s. The emulator
reads that as, per account: creates from a token bucket refilled at 5 a second holding at most 50
(so 50 may go at once, then 5 a second: "50 per 10 s"), and at most 300 in any 60 s; queries
from a bucket refilled at 50 a second holding 50, and at most 3,000 in any 60 s. Replies carry
``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``; a refusal is a 429
with ``Retry-After`` and the gateway's error JSON. The docs do not say which limit the headers
describe when several apply, nor whether Reset is a delta or an epoch: the emulator's choice is
the *binding* limit (fewest calls left; on a tie the one that frees a call last) and Reset in
seconds from now until that limit allows one more call.

Times are gateway seconds divided by the emulator's ``speed`` (as every task duration is): the
bucket refills ``speed`` times faster and windows are ``speed`` times shorter, so a sped-up
emulator keeps the limits in proportion to its tasks; header seconds are therefore wall seconds
and may be fractional (e.g. ``0.25``). Refused calls are not counted.

``EmulatorConfig.rate_tier``: ``"off"`` (default: no limits, no headers), ``"default"`` (the
documented numbers) or custom: ``{"create": {"rate": 2, "burst": 4, "windows": [[20, 60]]},
"query": {...}}`` (every key optional; ``rate`` calls per second refill a bucket of ``burst``,
default ``ceil(rate)``; each window ``[limit, seconds]`` allows ``limit`` calls in any ``seconds``).
"""

from __future__ import annotations

import collections
import dataclasses
import math
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

#: Request kinds (see middleware.request_kind) -> the limiter bucket that counts them.
BUCKETS: dict[str, str] = {"create": "create", "get": "query"}


@dataclasses.dataclass(frozen=True)
class Limits:
    """One bucket's limits: a token bucket (``rate`` per second, ``burst`` deep; rate None = none)
    and sliding windows ``(limit, seconds)``; all in gateway seconds."""

    rate: float | None = None
    burst: int = 1
    windows: tuple[tuple[int, float], ...] = ()


#: The documented default tier.
DEFAULT_TIER: dict[str, Limits] = {
    "create": Limits(rate=5.0, burst=50, windows=((300, 60.0),)),
    "query": Limits(rate=50.0, burst=50, windows=((3000, 60.0),)),
}
TIER_NAMES = ("off", "default")
_KEYS = ("rate", "burst", "windows")


def tier_limits(tier: Any) -> dict[str, Limits]:
    """The limits of a tier setting; ValueError naming the problem and the accepted shapes."""
    if tier == "off":
        return {}
    if tier == "default":
        return dict(DEFAULT_TIER)
    if not isinstance(tier, Mapping):
        raise ValueError(
            f'rate_tier must be "off", "default" or {{"create": {{"rate": 5, "burst": 50, '
            f'"windows": [[300, 60]]}}, "query": {{...}}}}, not {tier!r}'
        )
    out: dict[str, Limits] = {}
    for bucket, spec in tier.items():
        if bucket not in ("create", "query"):
            raise ValueError(f"rate_tier bucket {bucket!r} is unknown; use 'create' and/or 'query'")
        if not isinstance(spec, Mapping) or set(spec) - set(_KEYS):
            raise ValueError(f"rate_tier[{bucket!r}] must be an object with keys among {_KEYS}, not {spec!r}")
        out[bucket] = _limits(bucket, spec)
    return out


def _limits(bucket: str, spec: Mapping[str, Any]) -> Limits:
    rate = spec.get("rate")
    if rate is not None and not (_number(rate) and rate > 0):
        raise ValueError(f"rate_tier[{bucket!r}]['rate'] must be calls per second > 0, not {rate!r}")
    burst = spec.get("burst", math.ceil(rate) if rate else 1)
    if not (isinstance(burst, int) and not isinstance(burst, bool) and burst >= 1):
        raise ValueError(f"rate_tier[{bucket!r}]['burst'] must be a whole number >= 1, not {burst!r}")
    windows = tuple(_window(bucket, w) for w in spec.get("windows", ()))
    return Limits(rate=None if rate is None else float(rate), burst=burst, windows=windows)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _window(bucket: str, window: Any) -> tuple[int, float]:
    ok = isinstance(window, Sequence) and len(window) == 2
    limit: Any = window[0] if ok else None
    seconds: Any = window[1] if ok else None
    if not (isinstance(limit, int) and limit >= 1 and _number(seconds) and seconds > 0):
        raise ValueError(
            f"rate_tier[{bucket!r}] window {window!r} must be [limit >= 1 (int), seconds > 0], e.g. [300, 60]"
        )
    return int(limit), float(seconds)


@dataclasses.dataclass(frozen=True)
class Verdict:
    """One call's answer: allowed or not, and what the headers say (seconds are wall seconds)."""

    allowed: bool
    limit: int
    remaining: int
    reset: float
    retry_after: float | None = None

    def headers(self) -> list[tuple[bytes, bytes]]:
        out = [
            (b"x-ratelimit-limit", str(self.limit).encode()),
            (b"x-ratelimit-remaining", str(self.remaining).encode()),
            (b"x-ratelimit-reset", seconds_text(self.reset).encode()),
        ]
        if self.retry_after is not None:
            out.append((b"retry-after", seconds_text(self.retry_after).encode()))
        return out


def seconds_text(value: float) -> str:
    """Seconds rounded up to the millisecond (a client that waits this long finds a free slot)."""
    ms = math.ceil(max(0.0, value) * 1000 - 1e-6)
    return str(ms // 1000) if ms % 1000 == 0 else f"{ms / 1000:.3f}".rstrip("0")


class _State:
    """One (account, bucket): tokens left and when they were counted, and each window's log."""

    __slots__ = ("logs", "stamp", "tokens")

    def __init__(self, limits: Limits, now: float) -> None:
        self.tokens = float(limits.burst)
        self.stamp = now
        self.logs: list[collections.deque[float]] = [collections.deque() for _ in limits.windows]


class RateLimiter:
    """Per (account, bucket) state; thread-safe (handlers run on the event loop, tests read
    ``refused`` from elsewhere). ``clock`` is injectable so tests check exact numbers."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._states: dict[tuple[str, str], _State] = {}
        self._tier_seen: Any = None
        self.refused = collections.Counter[str]()

    def check(self, tier: Any, speed: float, account: str, kind: str) -> Verdict | None:
        """Count one call of ``kind`` by ``account`` (None: not limited, no headers)."""
        bucket = BUCKETS.get(kind)
        if bucket is None or tier == "off":
            return None
        limits = tier_limits(tier).get(bucket)
        if limits is None:
            return None
        with self._lock:
            if tier != self._tier_seen:  # a new tier starts afresh
                self._states.clear()
                self._tier_seen = tier
            now = self._clock()
            state = self._states.get((account, bucket))
            if state is None:
                state = self._states[(account, bucket)] = _State(limits, now)
            verdict = _decide(limits, state, speed, now)
            if not verdict.allowed:
                self.refused[bucket] += 1
            return verdict

    def reset(self) -> None:
        with self._lock:
            self._states.clear()
            self.refused.clear()


def _decide(limits: Limits, state: _State, speed: float, now: float) -> Verdict:
    """Count the call if every limit has room; the headers name the binding limit."""
    rate = None if limits.rate is None else limits.rate * speed
    if rate is not None:
        state.tokens = min(float(limits.burst), state.tokens + (now - state.stamp) * rate)
        state.stamp = now
    windows = [(limit, seconds / speed) for limit, seconds in limits.windows]
    for (_, seconds), log in zip(windows, state.logs, strict=True):
        while log and log[0] <= now - seconds:
            log.popleft()
    # (calls left before this one, seconds until one more call is allowed, limit) per limit.
    views: list[tuple[int, float, int]] = []
    if rate is not None:
        views.append(
            (math.floor(state.tokens + 1e-9), max(0.0, (1.0 - state.tokens % 1.0) / rate), limits.burst)
        )
    for (limit, seconds), log in zip(windows, state.logs, strict=True):
        # A full window frees a call when its oldest counted call ages out.
        frees = log[0] + seconds - now if log else seconds
        views.append((limit - len(log), frees, limit))
    full = [(wait, limit) for left, wait, limit in views if left <= 0]
    if full:
        wait, limit = max(full)
        return Verdict(False, limit, 0, wait, retry_after=wait)
    if rate is not None:
        state.tokens -= 1.0
    for log in state.logs:
        log.append(now)
    # After this call: one fewer left everywhere; a bucket's next token comes no sooner.
    left, reset, limit = min((left - 1, -wait, limit) for left, wait, limit in views)
    return Verdict(True, limit, left, -reset)
