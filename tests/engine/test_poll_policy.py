"""Poll policies, replayed offline on the emulator's own task timelines (no network, no sleeping)."""

from __future__ import annotations

import random
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seedance_widgets.emulator.timeline import Timeline, make_timeline
from seedance_widgets.engine import AdaptivePolicy, BaselinePolicy, PollPolicy, PollSample
from seedance_widgets.engine.policy import MIN_INTERVAL, estimate


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


def test_adaptive_never_polls_more_than_once_a_second() -> None:
    for timeline in _timelines(3, 100):
        _, _, waits = _replay(AdaptivePolicy(), timeline)
        assert min(waits[1:], default=MIN_INTERVAL) >= MIN_INTERVAL


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
    assert MIN_INTERVAL <= wait <= policy.max_interval
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


def test_at_99_percent_it_looks_every_second_at_first_then_less_often() -> None:
    """The encode after the schedule mostly ends within seconds: the first seconds at 99 % are
    where a finished clip is noticed sooner (row 15: completion to playing); later, a task that
    sits there costs fewer requests."""
    policy = AdaptivePolicy()
    run = [
        PollSample(5.0, 0, "queued"),
        PollSample(20.0, 60, "in_progress"),
        PollSample(30.0, 99, "in_progress"),
    ]
    waits = []
    samples = list(run)
    for _ in range(6):
        wait = policy.next_delay(samples)
        waits.append(wait)
        samples.append(PollSample(samples[-1].t + wait, 99, "in_progress"))
    burst = [w for w in waits if w == MIN_INTERVAL]
    assert len(burst) == 3, waits  # at 0, 1 and 2 s into the 99 %
    assert waits[3:] == [policy.final_every] * 3


def test_a_short_encode_after_the_schedule_is_noticed_within_a_second() -> None:
    """Quick tasks whose render ends up to 3 s after the schedule: the mean delay from the
    finish to the poll that sees it is half the once-a-second floor, never more than one."""
    rng = random.Random("short-encode")
    delays = []
    for i in range(300):
        timeline = make_timeline("quick", random.Random(f"short-encode:{i}"))
        finish = timeline.total_seconds + rng.uniform(0.0, 3.0)
        t, samples = 0.0, []
        policy = AdaptivePolicy()
        while t < finish:
            t += policy.next_delay(samples)
            status, progress = timeline.state_at(min(t, finish - 1e-9))
            samples.append(PollSample(t, min(progress, 99), "in_progress" if status != "queued" else status))
        delays.append(t - finish)
    assert max(delays) <= 1.0 + 1e-9, max(delays)
    assert statistics.fmean(delays) <= 0.6, statistics.fmean(delays)
