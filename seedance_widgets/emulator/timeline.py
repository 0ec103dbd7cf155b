"""Progress curves of emulated tasks: queue wait, then uneven progress to 100 %.

A timeline is drawn once per task from a seeded random stream, so the same
``fault_seed`` and task number always give the same curve. The "realistic"
profile must not be a straight line: the job engine's poll policy is tuned on it.
"""

from __future__ import annotations

import bisect
import dataclasses
import random

from seedance_widgets.api import COMPLETED, FAILED, IN_PROGRESS, QUEUED


@dataclasses.dataclass(frozen=True)
class Timeline:
    """One task's schedule in wall seconds after creation (already divided by speed).

    ``knots`` are (seconds since the run started, progress 0-100), rising weakly, ending at
    (``run_seconds``, 100). ``fail_after`` is seconds into the run at which the task fails.
    """

    queue_seconds: float
    knots: tuple[tuple[float, float], ...]
    fail_after: float | None = None

    @property
    def run_seconds(self) -> float:
        return self.knots[-1][0]

    @property
    def total_seconds(self) -> float:
        """Seconds from creation to the final status."""
        end = self.fail_after if self.fail_after is not None else self.run_seconds
        return self.queue_seconds + end

    def progress_at(self, run_elapsed: float) -> float:
        """Progress (0-100, not rounded) ``run_elapsed`` seconds after the run started."""
        if run_elapsed <= 0:
            return 0.0
        times = [t for t, _ in self.knots]
        i = bisect.bisect_right(times, run_elapsed)
        if i >= len(self.knots):
            return 100.0
        (t0, p0), (t1, p1) = self.knots[i - 1], self.knots[i]
        if t1 <= t0:
            return p1
        return p0 + (p1 - p0) * (run_elapsed - t0) / (t1 - t0)

    def state_at(self, elapsed: float) -> tuple[str, int]:
        """(status, integer progress) ``elapsed`` seconds after creation.

        ``completed`` here means the schedule is over; the server still waits for the render.
        """
        if elapsed < self.queue_seconds:
            return QUEUED, 0
        run = elapsed - self.queue_seconds
        if self.fail_after is not None and run >= self.fail_after:
            return FAILED, int(self.progress_at(self.fail_after))
        if run >= self.run_seconds:
            return COMPLETED, 100
        # 100 is only ever shown with "completed".
        return IN_PROGRESS, min(99, int(self.progress_at(run)))


def make_timeline(profile: str, rng: random.Random, speed: float = 1.0, fails: bool = False) -> Timeline:
    """Draw a task's timeline for ``profile`` ("quick" or "realistic"), scaled by ``1/speed``."""
    if profile == "quick":
        queue, knots = _quick(rng)
    elif profile == "realistic":
        queue, knots = _realistic(rng)
    else:
        raise ValueError(f"unknown profile {profile!r}")
    fail_after = knots[-1][0] * rng.uniform(0.2, 0.7) if fails else None
    scale = 1.0 / speed
    return Timeline(
        queue_seconds=queue * scale,
        knots=tuple((t * scale, p) for t, p in knots),
        fail_after=None if fail_after is None else fail_after * scale,
    )


def _quick(rng: random.Random) -> tuple[float, list[tuple[float, float]]]:
    # A few seconds in all, slightly wobbly so progress is not perfectly linear.
    queue = rng.uniform(0.8, 1.2)
    run = rng.uniform(3.5, 4.5)
    steps = 8
    weights = [rng.uniform(0.6, 1.4) for _ in range(steps)]
    return queue, _knots([(run / steps, w) for w in weights])


def _realistic(rng: random.Random) -> tuple[float, list[tuple[float, float]]]:
    total = rng.uniform(60.0, 300.0)
    # Queue waits: usually short, sometimes a long backlog at 0 %.
    queue = rng.uniform(3.0, 20.0) if rng.random() < 0.7 else rng.uniform(30.0, 90.0)
    queue = min(queue, total * 0.5)
    run = total - queue
    segments: list[tuple[float, float]] = []  # (duration weight, progress weight)
    while sum(d for d, _ in segments) < run:
        kind = rng.random()
        if kind < 0.15:  # stall: time passes, progress does not
            segments.append((rng.uniform(5.0, 30.0), 0.0))
        elif kind < 0.25:  # jump: progress leaps at once
            segments.append((0.0, rng.uniform(8.0, 20.0)))
        else:  # uneven working speed
            duration = rng.uniform(4.0, 20.0)
            segments.append((duration, duration * rng.uniform(0.3, 2.0)))
    # The last stretch (decoding, upload) is often a plateau before the jump to completion.
    segments.append((rng.uniform(2.0, 10.0), 0.0))
    scale_t = run / sum(d for d, _ in segments)
    return queue, _knots([(d * scale_t, w) for d, w in segments])


def _knots(segments: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Cumulative (time, progress) knots from (duration, weight) segments; progress ends at 100."""
    total_weight = sum(w for _, w in segments) or 1.0
    t = p = 0.0
    knots = [(0.0, 0.0)]
    for duration, weight in segments:
        t += duration
        p += 100.0 * weight / total_weight
        knots.append((t, min(100.0, p)))
    knots[-1] = (t, 100.0)
    return knots
