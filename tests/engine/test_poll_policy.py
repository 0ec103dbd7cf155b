"""Poll policies, replayed offline on the emulator's own task timelines (no network, no sleeping)."""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seedance_widgets.emulator.timeline import Timeline, make_timeline
from seedance_widgets.engine import AdaptivePolicy, BaselinePolicy, PollPolicy, PollSample
from seedance_widgets.engine.policy import AIM_FLOOR, MIN_INTERVAL, estimate


def _replay(policy: PollPolicy, timeline: Timeline) -> tuple[float, int, list[float]]:
    """Poll ``timeline`` as the scheduler would: (detection delay, GETs, waits between GETs)."""
    t, polls, waits, samples = 0.0, 0, [], []
    while True:
        wait = policy.next_delay(samples)
        waits.append(wait)
        t += wait
        polls += 1
        status, progress = timeline.state_at(t)
        samples.append(PollSample(t, progress, status))
        if status in ("completed", "failed"):
            return t - timeline.total_seconds, polls, waits
        assert t < 3600, "the policy never saw the end"


def _timelines(seed: int, count: int) -> list[Timeline]:
    return [make_timeline("realistic", random.Random(f"policy-test:{seed}:{i}")) for i in range(count)]


@pytest.mark.parametrize("seed", [1, 2])
def test_adaptive_beats_the_baseline_on_realistic_tasks(seed: int) -> None:
    timelines = _timelines(seed, 300)
    base = [_replay(BaselinePolicy(), tl) for tl in timelines]
    adaptive = [_replay(AdaptivePolicy(), tl) for tl in timelines]
    base_delay = statistics.fmean(d for d, _, _ in base)
    base_polls = statistics.fmean(p for _, p, _ in base)
    delay = statistics.fmean(d for d, _, _ in adaptive)
    polls = statistics.fmean(p for _, p, _ in adaptive)
    assert delay <= 0.25 * base_delay, (delay, base_delay)
    assert polls <= 1.0 * base_polls, (polls, base_polls)


def test_baseline_is_the_gateways_advice() -> None:
    policy = BaselinePolicy()
    assert policy.next_delay([]) == 5.0
    assert policy.next_delay([PollSample(5.0, 0, "queued")]) == 10.0


def test_adaptive_never_polls_more_than_once_a_second_but_for_one_aimed_look() -> None:
    for timeline in [*_timelines(3, 100), *_quick_timelines(100)]:
        _, _, waits = _replay(AdaptivePolicy(), timeline)
        sooner = [wait for wait in waits[1:] if wait < MIN_INTERVAL]
        assert len(sooner) <= 1, waits
        assert min(waits[1:], default=MIN_INTERVAL) >= AIM_FLOOR


def _quick_timelines(count: int) -> list[Timeline]:
    return [make_timeline("quick", random.Random(f"policy-test:quick:{i}")) for i in range(count)]


def test_a_run_about_to_end_gets_one_look_aimed_at_its_end() -> None:
    """Quick tasks (a few seconds, progress moving fast): the finish is mostly seen within half a
    second, where the once-a-second floor alone gave 0.5 s on average and up to a whole second
    (row 15: completion to playing). At most one request more per job."""
    timelines = _quick_timelines(300)
    aimed = [_replay(AdaptivePolicy(), tl) for tl in timelines]
    assert statistics.fmean(delay for delay, _, _ in aimed) <= 0.4
    floor_only = [_replay(_NoAim(), tl) for tl in timelines]
    assert statistics.fmean(d for d, _, _ in floor_only) > statistics.fmean(d for d, _, _ in aimed) + 0.1
    assert all(a[1] <= f[1] + 1 for a, f in zip(aimed, floor_only, strict=True))


class _NoAim(AdaptivePolicy):
    """The policy with the once-a-second floor only (what it did before the aimed look)."""

    def next_delay(self, samples: Sequence[PollSample]) -> float:
        return max(MIN_INTERVAL, super().next_delay(samples))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0.1, 30.0), st.integers(0, 99), st.sampled_from(["queued", "in_progress", "odd"])
        ),
        min_size=1,
        max_size=30,
    )
)
def test_adaptive_answers_any_history_sensibly(steps: list[tuple[float, int, str]]) -> None:
    t, samples = 0.0, []
    for gap, progress, status in steps:
        t += gap
        samples.append(PollSample(t, progress, status))
    policy = AdaptivePolicy()
    wait = policy.next_delay(samples)
    assert AIM_FLOOR <= wait <= policy.max_interval
    eta = policy.eta(samples)
    assert eta is None or eta >= 0.0


def test_eta_is_unknown_in_the_queue_and_closes_in_on_the_finish() -> None:
    policy = AdaptivePolicy()
    assert policy.eta([]) is None
    assert policy.eta([PollSample(10.0, 0, "queued"), PollSample(30.0, 0, "queued")]) is None
    # A steady 1 %/s run after a 20 s queue.
    samples = [PollSample(20.0, 0, "queued")] + [PollSample(20.0 + s, s, "in_progress") for s in (10, 30, 60)]
    eta = policy.eta(samples)
    assert eta == pytest.approx(40.0, rel=0.25)


def test_a_stall_backs_off_instead_of_polling_every_second() -> None:
    moving = [
        PollSample(10.0, 0, "queued"),
        PollSample(30.0, 20, "in_progress"),
        PollSample(40.0, 30, "in_progress"),
    ]
    stalled = [*moving, PollSample(50.0, 30, "in_progress"), PollSample(70.0, 30, "in_progress")]
    est = estimate(stalled)
    assert est is not None
    assert est.stalled_for == pytest.approx(30.0)
    assert AdaptivePolicy().next_delay(stalled) >= 0.5 * 30.0 - 1e-9


def test_the_aimed_look_is_one_per_job() -> None:
    policy = AdaptivePolicy()
    running = [PollSample(1.0, 0, "queued"), PollSample(5.0, 90, "in_progress")]
    first = policy.next_delay(running)
    assert AIM_FLOOR <= first < MIN_INTERVAL  # 10 % left at ~45 %/s: look just after the end
    missed = [*running, PollSample(5.0 + first, 97, "in_progress")]  # it ran slower than thought
    assert policy.next_delay(missed) >= MIN_INTERVAL
