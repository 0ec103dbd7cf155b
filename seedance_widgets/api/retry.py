"""When to try again: capped exponential backoff with jitter, and ``Retry-After`` parsing."""

from __future__ import annotations

import dataclasses
import email.utils
import math
import random
import time
from datetime import timezone


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How calls are retried: capped exponential backoff with jitter, honouring Retry-After."""

    #: Tries in all, the first one included.
    attempts: int = 5
    base_delay: float = 0.5
    #: No computed backoff wait is longer than this, jitter included.
    max_delay: float = 30.0
    #: Random spread around each delay, as a fraction (0.25 = ±25%), so many clients don't retry in step.
    jitter: float = 0.25
    #: A Retry-After longer than this is not waited for: the error is raised instead.
    max_retry_after: float = 300.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based).

        A server's ``Retry-After`` is obeyed as given, but never beyond ``max_retry_after``
        (the client raises instead of waiting for a longer one; the clamp here is for any
        other caller); otherwise the wait doubles per attempt, spread by the jitter and
        capped at ``max_delay``.
        """
        if retry_after is not None:
            return min(self.max_retry_after, max(0.0, retry_after))
        base = min(self.max_delay, self.base_delay * (2 ** max(0, attempt - 1)))
        spread = base * self.jitter
        return min(self.max_delay, max(0.0, base + random.uniform(-spread, spread)))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    Returns None when the header is absent or unreadable; never a negative or
    non-finite number.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # HTTP dates are always GMT; "-0000" makes the parser return a naive datetime.
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
