"""The engine paces creates and polls account-wide from the gateway's X-RateLimit-* replies.

Promise: a manager meets no 429 of its own making, whatever the account's tier (engine/pacing.py).
The end-to-end test runs 120 jobs against the emulator with a tight custom tier (the limits bind
many times over) and counts the 429s the emulator sent: zero. Waits are on the jobs themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from seedance_widgets.api import GenerationRequest, SeedanceClient
from seedance_widgets.api.ratelimits import RateInfo
from seedance_widgets.emulator import Emulator, EmulatorConfig
from seedance_widgets.engine import Job, JobManager, JobState
from seedance_widgets.engine.pacing import CREATE, MARGIN, QUERY, Pacer

SPEED = 20.0
#: Gateway seconds (the emulator divides by SPEED): creates 1/s with a burst of 4 and at most
#: 12 in any 10 s; task GETs 2/s, burst 5. At SPEED that is 20 creates/s and 40 GETs/s of wall time.
TIGHT: dict[str, dict[str, Any]] = {
    "create": {"rate": 1, "burst": 4, "windows": [[12, 10]]},
    "query": {"rate": 2, "burst": 5},
}
JOBS = 120


class _Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def _headers(limit: int, remaining: int, reset: float) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(reset),
    }


def test_budget_counts_calls_on_their_way_and_waits_for_reset() -> None:
    clock = _Clock()
    info = RateInfo(clock)
    pacer = Pacer(lambda: info, clock)
    assert pacer.try_take(CREATE) == 0.0  # nothing known yet: no pacing
    info.note("create", info.begin(), 200, _headers(50, 20, 0.5))
    pacer.release(CREATE)
    # 20 left: side by side down to MARGIN, then each call waits for the one out.
    takes = [pacer.try_take(CREATE) for _ in range(20 - MARGIN + 1)]
    assert takes[:-1] == [0.0] * (20 - MARGIN)
    assert takes[-1] > 0
    for _ in range(20 - MARGIN):
        pacer.release(CREATE)
    for _ in range(MARGIN):  # one at a time: each goes once the last is back
        assert pacer.try_take(CREATE) == 0.0
        assert pacer.try_take(CREATE) > 0
        pacer.release(CREATE)
    # All 20 used: wait for the reset the reply named, then one probe alone.
    assert pacer.try_take(CREATE) == pytest.approx(0.5)
    clock.now += 0.5
    assert pacer.try_take(CREATE) == 0.0
    assert pacer.try_take(CREATE) > 0
    info.note("create", info.begin(), 200, _headers(50, 9, 0.2))  # the probe's reply
    pacer.release(CREATE)
    assert [pacer.try_take(CREATE) for _ in range(9 - MARGIN)] == [0.0] * (9 - MARGIN)
    assert pacer.try_take(QUERY) == 0.0  # the buckets are apart


def test_a_reply_counts_calls_still_out() -> None:
    clock = _Clock()
    info = RateInfo(clock)
    pacer = Pacer(lambda: info, clock)
    for _ in range(3):
        assert pacer.try_take(QUERY) == 0.0
    # The first reply says 7 left; the other two calls may not be counted in it yet.
    info.note("get", info.begin(), 200, _headers(50, 7, 0.1))
    pacer.release(QUERY)
    allowed = 0
    while pacer.try_take(QUERY) == 0.0:
        allowed += 1
    assert allowed == 7 - 2 - MARGIN


def test_an_older_reply_never_overrides_a_newer_one() -> None:
    clock = _Clock()
    info = RateInfo(clock)
    older, newer = info.begin(), info.begin()
    info.note("get", newer, 200, _headers(50, 3, 1))
    info.note("get", older, 200, _headers(50, 40, 1))  # answered late, counted earlier
    sample = info.latest("query")
    assert sample is not None
    assert sample.remaining == 3
    later = info.begin()
    info.note("get", later, 200, {})  # the gateway stopped reporting limits
    assert info.latest("query") is None


@pytest.fixture
def tight_emulator() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(speed=SPEED, rate_tier=TIGHT)) as emu:
        yield emu


def test_120_jobs_under_a_tight_tier_meet_no_429(tight_emulator: Emulator, tmp_outputs: Path) -> None:
    emu = tight_emulator
    client = SeedanceClient(api_key=emu.api_key, base_url=emu.base_url)
    manager = JobManager(tmp_outputs, client=client, time_scale=SPEED, resume=False)
    try:
        request = GenerationRequest(prompt="a kite over dunes", duration=4, resolution="480p", seed=3)
        jobs = [manager.submit(request, rerun=True) for _ in range(JOBS)]
        assert all(isinstance(job, Job) for job in jobs)
        real = [job for job in jobs if isinstance(job, Job)]
        for job in real:
            job.wait(timeout=120)
        pacer = manager._core.scheduler.pacer
        states = {job.snapshot().state for job in real}
    finally:
        manager.shutdown()
    stats = emu.stats()
    assert states == {JobState.DONE}
    assert stats["tasks"] == JOBS  # one create per job, none twice
    assert stats["responses"].get("429", 0) == 0, f"the engine met 429s: {stats['responses']}"
    # The tier did bind: without pacing these jobs would have been refused.
    assert pacer.waits[CREATE] > 0
