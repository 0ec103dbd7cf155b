"""When to poll a task next: the gateway's advice (baseline) and a progress-aware policy.

A policy is a small stateless object. It sees the samples gathered so far for one
job, ``(t, progress, status)`` with ``t`` in seconds since the task was created, and
answers two questions: how long to wait before the next GET, and when it thinks the
task will finish. All its numbers are in *gateway* seconds; the manager divides them
by its ``time_scale`` (an emulator running 20x faster gets 20x shorter waits).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from seedance_widgets.api import COMPLETED, FAILED, QUEUED

#: Never poll one job more than once a second (gateway time), but for one aimed look (below).
MIN_INTERVAL = 1.0
#: The one look a job may get sooner than MIN_INTERVAL: when the finish is predicted within the
#: second, at the predicted finish (with a margin), never sooner than this (gateway seconds).
AIM_FLOOR = 0.5


@dataclasses.dataclass(frozen=True)
class PollSample:
    """One poll's answer: ``t`` seconds after the create, the progress and the status seen."""

    t: float
    progress: int
    status: str


@runtime_checkable
class PollPolicy(Protocol):
    """What the scheduler asks a policy. Samples are in time order; empty before the first poll."""

    def next_delay(self, samples: Sequence[PollSample]) -> float:
        """Seconds (gateway time) from the last sample (or the create) to the next poll."""
        ...

    def eta(self, samples: Sequence[PollSample]) -> float | None:
        """Predicted seconds from the last sample to the finish, or None when unknown."""
        ...


class BaselinePolicy:
    """The gateway's advice: first look after 5 s, then every 10 s."""

    first: float = 5.0
    every: float = 10.0

    def next_delay(self, samples: Sequence[PollSample]) -> float:
        return self.first if not samples else self.every

    def eta(self, samples: Sequence[PollSample]) -> float | None:
        return estimate_remaining(samples)

    def __repr__(self) -> str:
        return f"BaselinePolicy(first={self.first:g}s, every={self.every:g}s)"


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A finish prediction: ``remaining`` seconds after the last sample; ``rate`` in %/s."""

    remaining: float
    rate: float
    stalled_for: float


def estimate(samples: Sequence[PollSample]) -> Estimate | None:
    """Predict the finish from (time, progress) samples, or None while nothing moves yet.

    Robust to a long queue at 0 % (the clock starts when progress first moves, estimated
    midway between the last 0 % sample and the first moving one), to jumps (the rate is
    the average over the whole run, not the last step) and to stalls (reported, so the
    caller can back off, but not allowed to drive the rate to zero).
    """
    if not samples:
        return None
    last = samples[-1]
    if last.status in (COMPLETED, FAILED):
        return Estimate(0.0, 0.0, 0.0)
    moving = [s for s in samples if s.progress > 0]
    if not moving:
        return None
    # The run started somewhere between the last queued sample and the first running one.
    running = [s for s in samples if s.status != QUEUED or s.progress > 0]
    first = running[0]
    queued_before = [s for s in samples if s.t < first.t and s.status == QUEUED]
    start = (queued_before[-1].t + first.t) / 2 if queued_before else first.t / 2
    overall_rate = last.progress / max(last.t - start, 1e-6)
    # The recent rate follows uneven speed; blend it in when there is enough span.
    recent_rate = overall_rate
    window_start = last.t - max(0.3 * (last.t - start), 5.0)
    recent = [s for s in moving if s.t >= window_start]
    if len(recent) >= 2 and recent[-1].t > recent[0].t:
        recent_rate = (recent[-1].progress - recent[0].progress) / (recent[-1].t - recent[0].t)
    rate = max(0.5 * overall_rate + 0.5 * recent_rate, 0.25 * overall_rate, 1e-3)
    stalled_since = last.t
    for s in reversed(samples):
        if s.progress != last.progress:
            break
        stalled_since = s.t
    remaining = max(0.0, (100 - last.progress) / rate)
    return Estimate(remaining=remaining, rate=rate, stalled_for=last.t - stalled_since)


#: A gap between two samples below this was an aimed look (normal gaps are MIN_INTERVAL or
#: more, give or take the replies' own timing).
_AIMED_GAP = 0.8 * MIN_INTERVAL


def _aimed_already(samples: Sequence[PollSample]) -> bool:
    """Whether this job already had its one look sooner than MIN_INTERVAL."""
    return any(later.t - earlier.t < _AIMED_GAP for earlier, later in itertools.pairwise(samples))


def estimate_remaining(samples: Sequence[PollSample]) -> float | None:
    est = estimate(samples)
    return None if est is None else est.remaining


class AdaptivePolicy:
    """The default: sparse while the finish is far, dense in a short window near it.

    * Before anything moves: first look at ``first`` seconds, then every ``queued_every``.
    * Running: wait ``fraction`` of the predicted time to reach ``final_progress`` (99 %),
      so the polls close in on it geometrically (a few requests however long the task),
      never longer than ``max_interval``; while progress is stalled, back off in
      proportion to the stall (``stall_fraction``) instead of trusting a stale rate.
    * At ``final_progress``: the gateway sits there for a few seconds while it encodes,
      so look every ``final_every`` seconds; after ``final_patience`` seconds there,
      back off again so a task stuck at 99 % does not cost a request a second and a half.
    * Never more than one request a second (``MIN_INTERVAL``), with one exception per job:
      when the run is predicted to end within the second, one look is aimed just after the
      predicted end (not before ``AIM_FLOOR``). A clip finishing 0.3 s after a poll is then
      seen in about half a second, not a second, and plays that much sooner; it costs at
      most one request per job (row 15: completion to playing).

    Tuned on the emulator's "realistic" profile (queue waits, uneven speed, stalls,
    jumps, a plateau before completion); defaults give about a fifth of the baseline's
    detection delay with about 15 % fewer requests (see benchmarks/bench_poll_policy.py).
    """

    def __init__(
        self,
        *,
        first: float = 5.0,
        queued_every: float = 20.0,
        fraction: float = 0.6,
        max_interval: float = 30.0,
        final_progress: int = 99,
        final_every: float = 1.5,
        final_patience: float = 40.0,
        stall_fraction: float = 0.5,
    ) -> None:
        self.first = first
        self.queued_every = queued_every
        self.fraction = fraction
        self.max_interval = max_interval
        self.final_progress = final_progress
        self.final_every = final_every
        self.final_patience = final_patience
        self.stall_fraction = stall_fraction

    def next_delay(self, samples: Sequence[PollSample]) -> float:
        if not samples:
            return self.first
        est = estimate(samples)
        if est is None:
            return self.queued_every
        last = samples[-1]
        if last.progress >= self.final_progress:
            # The gateway often sits at 99 % for a few seconds while it encodes: the finish is
            # close, so look often - unless it has sat there much longer than usual.
            overdue = est.stalled_for - self.final_patience
            wait = self.final_every if overdue <= 0 else self.stall_fraction * overdue
            return max(MIN_INTERVAL, self.final_every, min(wait, self.max_interval))
        to_final = max(0.0, (self.final_progress - last.progress) / est.rate)
        wait = self.fraction * to_final
        if est.stalled_for > 0:
            # Frozen progress: the prediction is stale; back off in proportion to the stall.
            wait = max(wait, self.stall_fraction * est.stalled_for)
        elif wait < MIN_INTERVAL and not _aimed_already(samples):
            # Moving fast and nearly done: look once just after the predicted end (the rate is
            # an estimate: half as much again, plus a tenth of a second).
            aim = 1.5 * est.remaining + 0.1
            if aim < _AIMED_GAP:
                return max(AIM_FLOOR, aim)
        return max(MIN_INTERVAL, min(wait, self.max_interval))

    def eta(self, samples: Sequence[PollSample]) -> float | None:
        return estimate_remaining(samples)

    def __repr__(self) -> str:
        return (
            f"AdaptivePolicy(first={self.first:g}s, queued_every={self.queued_every:g}s, "
            f"fraction={self.fraction:g}, max_interval={self.max_interval:g}s)"
        )
