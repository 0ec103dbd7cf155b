"""The emulator's per-account rate limits (emulator/ratelimit.py): headers, 429s, tiers.

The documented numbers are checked on the limiter with a controlled clock (exact, whatever the
machine's load); the HTTP side uses tiers with hour-long windows, so no test depends on how
fast requests go out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
from emu_support import SMALL_BODY, create, poll

from seedance_widgets.emulator import Emulator, EmulatorConfig
from seedance_widgets.emulator.ratelimit import DEFAULT_TIER, Limits, RateLimiter, Verdict, seconds_text

HOUR = 3600.0


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _burst(
    limiter: RateLimiter, kind: str, count: int, *, tier: object = "default", speed: float = 1.0
) -> list[Verdict]:
    verdicts = [limiter.check(tier, speed, "Bearer k", kind) for _ in range(count)]
    assert all(v is not None for v in verdicts)
    return [v for v in verdicts if v is not None]


def _run(
    limiter: RateLimiter, clock: _Clock, kind: str, *, seconds: float, step: float, tries: int
) -> list[Verdict]:
    """``tries`` calls every ``step`` seconds for ``seconds``: what a greedy client meets."""
    out: list[Verdict] = []
    for _ in range(round(seconds / step)):
        out += _burst(limiter, kind, tries)
        clock.now += step
    return out


def test_documented_default_tier_numbers() -> None:
    assert DEFAULT_TIER["create"] == Limits(rate=5.0, burst=50, windows=((300, 60.0),))
    assert DEFAULT_TIER["query"] == Limits(rate=50.0, burst=50, windows=((3000, 60.0),))


def test_create_burst_of_50_then_5_per_second_with_retry_after() -> None:
    clock = _Clock()
    limiter = RateLimiter(clock)
    verdicts = _burst(limiter, "create", 51)
    assert [v.allowed for v in verdicts] == [True] * 50 + [False]
    assert [v.remaining for v in verdicts[:50]] == list(range(49, -1, -1))
    assert verdicts[0].limit == 50  # the burst binds (the minute window has 299 left)
    refused = verdicts[50]
    assert refused.retry_after == pytest.approx(0.2)  # one token at 5 a second
    headers = dict(refused.headers())
    assert headers[b"retry-after"] == b"0.2"
    assert headers[b"x-ratelimit-remaining"] == b"0"
    # Ten seconds of a greedy client after the burst (calls at 0, 0.125, ..., 9.875 s): 5 a second.
    after = _run(limiter, clock, "create", seconds=10.0, step=0.125, tries=3)
    assert sum(v.allowed for v in after) == 49


def test_create_at_most_300_in_any_minute() -> None:
    clock = _Clock()
    limiter = RateLimiter(clock)
    minute = _run(limiter, clock, "create", seconds=60.0, step=0.125, tries=3)
    assert sum(v.allowed for v in minute) == 300  # 50 at once + 5/s reach 300 at 50 s
    refused = [v for v in minute if not v.allowed]
    assert refused[-1].limit == 300
    assert refused[-1].retry_after is not None
    assert refused[-1].retry_after <= 60.0


def test_queries_50_per_second_and_3000_per_minute() -> None:
    clock = _Clock()
    limiter = RateLimiter(clock)
    verdicts = _burst(limiter, "get", 51)
    assert [v.allowed for v in verdicts].count(True) == 50
    assert not verdicts[-1].allowed
    assert verdicts[-1].retry_after == pytest.approx(0.02)
    limiter = RateLimiter(clock := _Clock())
    minute = _run(limiter, clock, "get", seconds=60.0, step=0.125, tries=8)
    assert sum(v.allowed for v in minute) == 3000
    assert [v for v in minute if not v.allowed][-1].limit == 3000


def test_times_shrink_with_the_emulators_speed() -> None:
    clock = _Clock()
    limiter = RateLimiter(clock)
    verdicts = _burst(limiter, "create", 51, speed=4.0)
    assert not verdicts[50].allowed
    assert verdicts[50].retry_after == pytest.approx(0.05)
    assert seconds_text(0.25) == "0.25"
    assert seconds_text(1.0) == "1"
    assert seconds_text(0.0004) == "0.001"
    clock.now += 0.05
    assert _burst(limiter, "create", 1, speed=4.0)[0].allowed


def test_accounts_are_counted_apart_and_uploads_are_not_limited() -> None:
    limiter = RateLimiter(_Clock())
    tier = {"create": {"windows": [[1, HOUR]]}}
    assert limiter.check(tier, 1.0, "Bearer a", "create").allowed  # type: ignore[union-attr]
    assert limiter.check(tier, 1.0, "Bearer b", "create").allowed  # type: ignore[union-attr]
    assert not limiter.check(tier, 1.0, "Bearer a", "create").allowed  # type: ignore[union-attr]
    assert limiter.check(tier, 1.0, "Bearer a", "upload") is None
    assert limiter.check(tier, 1.0, "Bearer a", "get") is None  # no query limits in this tier
    assert limiter.check("off", 1.0, "Bearer a", "create") is None


@pytest.mark.parametrize(
    ("tier", "named"),
    [
        ("gold", "rate_tier must be"),
        ({"uploads": {}}, "'uploads' is unknown"),
        ({"create": {"rate": 0}}, "['rate']"),
        ({"create": {"rate": 2, "burst": 0}}, "['burst']"),
        ({"create": {"windows": [[0, 1]]}}, "window [0, 1]"),
        ({"create": {"per": 1}}, "keys among"),
    ],
)
def test_bad_tiers_are_named(tier: object, named: str) -> None:
    with pytest.raises(ValueError, match=re.escape(named)):
        EmulatorConfig(rate_tier=tier)  # type: ignore[arg-type]


# ---- over HTTP ---------------------------------------------------------------------------------
@pytest.fixture
def limited() -> Iterator[Emulator]:
    tier = {"create": {"windows": [[3, HOUR]]}, "query": {"windows": [[4, HOUR]]}}
    with Emulator(EmulatorConfig(speed=20.0, rate_tier=tier)) as emu:
        yield emu


def test_replies_carry_the_headers_and_the_fourth_create_gets_the_gateways_429(limited: Emulator) -> None:
    replies = [create(limited) for _ in range(4)]
    assert [r.status_code for r in replies] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in replies] == ["2", "1", "0", "0"]
    assert all(r.headers["X-RateLimit-Limit"] == "3" for r in replies)
    assert 0 < float(replies[0].headers["X-RateLimit-Reset"]) <= HOUR / 20
    refused = replies[3]
    assert float(refused.headers["Retry-After"]) == pytest.approx(HOUR / 20, rel=0.01)
    assert refused.json() == {
        "error": {
            "code": 429,
            "message": "Rate limit exceeded, please slow down",
            "type": "rate_limit_exceeded",
        }
    }
    stats = limited.stats()
    assert stats["tasks"] == 3  # the refused create reached no route
    assert stats["responses"].get("429") == 1


def test_queries_have_their_own_bucket(limited: Emulator) -> None:
    task_id = create(limited).json()["id"]
    polls = [poll(limited, task_id) for _ in range(5)]
    assert [p.status_code for p in polls] == [200] * 4 + [429]
    assert polls[0].headers["X-RateLimit-Limit"] == "4"
    assert "Retry-After" in polls[4].headers
    # Downloads and control calls are not limited and carry no headers.
    stats = requests.get(f"{limited.base_url}/_emulator/stats", timeout=10)
    assert "X-RateLimit-Limit" not in stats.headers


def test_off_by_default_no_headers(emulator: Emulator) -> None:
    reply = create(emulator)
    assert reply.status_code == 200
    assert "X-RateLimit-Limit" not in reply.headers


def test_tier_set_over_http_and_bad_tier_named(emulator: Emulator) -> None:
    url = f"{emulator.base_url}/_emulator/config"
    tier = {"create": {"windows": [[1, HOUR]]}}
    ok = requests.post(url, json={"rate_tier": tier}, timeout=10)
    assert ok.status_code == 200
    assert ok.json()["rate_tier"] == tier
    assert create(emulator).status_code == 200
    assert create(emulator).status_code == 429
    bad = requests.post(url, json={"rate_tier": {"create": {"windows": [[0, 1]]}}}, timeout=10)
    assert bad.status_code == 400
    assert "rate_tier['create']" in bad.json()["error"]["message"]
    assert requests.post(url, json={"rate_tier": "gold"}, timeout=10).status_code == 400
    assert requests.post(url, json={"rate_tier": "off"}, timeout=10).status_code == 200
    assert create(emulator).status_code == 200
    assert requests.post(url, json={"rate_tier": "default"}, timeout=10).json()["rate_tier"] == "default"
    reply = create(emulator, SMALL_BODY)
    assert reply.headers["X-RateLimit-Limit"] == "50"
