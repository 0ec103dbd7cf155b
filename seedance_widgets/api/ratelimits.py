"""What the gateway's replies say about the account's rate limits (``X-RateLimit-*`` headers).

ToAPIs limits each account (default tier: creates 300/min, 5/s, 50 per 10 s; task GETs
3,000/min, 50/s) and says on every reply how much is left: ``X-RateLimit-Limit``,
``X-RateLimit-Remaining``, ``X-RateLimit-Reset`` (seconds until a slot frees), plus
``Retry-After`` on a 429. The client notes them here per bucket; the job engine paces its calls
from them (``engine/pacing.py``). Replies can arrive out of order on parallel connections, so a
sample is kept only when its request was *sent* after the one already kept: the newest-sent
request was counted last by the gateway, so its Remaining is the most up to date.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import threading
import time
from collections.abc import Callable, Mapping

from .retry import parse_retry_after

#: Client request kinds -> the gateway's limiter bucket.
BUCKET_OF_KIND: dict[str, str] = {"create": "create", "get": "query"}


@dataclasses.dataclass(frozen=True)
class RateSample:
    """One reply's word on a bucket. ``at`` is ``time.monotonic()`` when the reply came;
    ``serial`` orders requests by when they were sent (larger = later)."""

    bucket: str
    limit: int
    remaining: int
    reset: float
    retry_after: float | None
    status: int
    at: float
    serial: int

    @property
    def reset_at(self) -> float:
        """Monotonic time at which the gateway frees its next slot."""
        return self.at + self.reset


class RateInfo:
    """Per bucket, the newest-sent reply's rate-limit headers (thread-safe).

    ``latest(bucket)`` is None when nothing is known, or when the newest-sent reply carried no
    rate-limit headers (the gateway reports no limit: nothing to pace against).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._serials = itertools.count(1)
        self._latest: dict[str, RateSample | None] = {}
        self._latest_serial: dict[str, int] = {}

    def begin(self) -> int:
        """A serial for a request about to be sent."""
        with self._lock:
            return next(self._serials)

    def note(self, kind: str, serial: int, status: int, headers: Mapping[str, str]) -> None:
        """Keep a reply's headers when its request was sent after the kept one's."""
        bucket = BUCKET_OF_KIND.get(kind)
        if bucket is None:
            return
        sample = _sample(bucket, serial, status, headers, self._clock())
        with self._lock:
            if serial <= self._latest_serial.get(bucket, 0):
                return
            self._latest_serial[bucket] = serial
            self._latest[bucket] = sample

    def latest(self, bucket: str) -> RateSample | None:
        with self._lock:
            return self._latest.get(bucket)


def _sample(
    bucket: str, serial: int, status: int, headers: Mapping[str, str], now: float
) -> RateSample | None:
    limit = _number(headers.get("X-RateLimit-Limit"))
    remaining = _number(headers.get("X-RateLimit-Remaining"))
    reset = _number(headers.get("X-RateLimit-Reset"))
    if limit is None or remaining is None:
        return None
    if reset is not None and reset > 1e9:
        reset = max(0.0, reset - time.time())  # some gateways send an epoch, not a delta
    retry_after = parse_retry_after(headers.get("Retry-After")) if status == 429 else None
    return RateSample(
        bucket=bucket,
        limit=int(limit),
        remaining=max(0, int(remaining)),
        reset=max(0.0, reset if reset is not None else (retry_after or 1.0)),
        retry_after=retry_after,
        status=status,
        at=now,
        serial=serial,
    )


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None
