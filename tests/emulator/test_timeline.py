"""Task timelines: queued, in_progress (rising), then completed or failed; realistic ones are uneven."""

from __future__ import annotations

import random
import time

import pytest
import requests
from emu_support import body, create, finished_video, poll, wait_final

from seedance_widgets.emulator import Emulator, EmulatorConfig
from seedance_widgets.emulator.timeline import Timeline, make_timeline


def _sample(tl: Timeline, steps: int = 400) -> list[tuple[str, int]]:
    end = tl.total_seconds * 1.05
    return [tl.state_at(end * i / steps) for i in range(steps + 1)]


@pytest.mark.parametrize("profile", ["quick", "realistic"])
@pytest.mark.parametrize("seed", range(15))
def test_timeline_is_ordered_and_monotonic(profile: str, seed: int) -> None:
    tl = make_timeline(profile, random.Random(seed))
    times = [t for t, _ in tl.knots]
    progress = [p for _, p in tl.knots]
    assert times == sorted(times)
    assert progress == sorted(progress)
    assert progress[0] == 0.0
    assert progress[-1] == 100.0
    order = {"queued": 0, "in_progress": 1, "completed": 2}
    states = _sample(tl)
    ranks = [order[s] for s, _ in states]
    assert ranks == sorted(ranks)
    assert ranks[0] == 0
    assert ranks[-1] == 2
    shown = [p for _, p in states]
    assert shown == sorted(shown)
    assert all(p < 100 for s, p in states if s != "completed")


def test_quick_profile_takes_about_five_seconds_and_speed_divides_it() -> None:
    totals = [make_timeline("quick", random.Random(i)).total_seconds for i in range(30)]
    assert all(4.0 <= t <= 6.0 for t in totals)
    fast = make_timeline("quick", random.Random(3), speed=20.0)
    slow = make_timeline("quick", random.Random(3))
    assert fast.total_seconds == pytest.approx(slow.total_seconds / 20.0)
    assert fast.queue_seconds == pytest.approx(slow.queue_seconds / 20.0)


def test_realistic_profile_is_uneven_with_stalls_and_jumps() -> None:
    timelines = [make_timeline("realistic", random.Random(i)) for i in range(40)]
    totals = [t.total_seconds for t in timelines]
    assert all(60.0 <= t <= 300.0 for t in totals)
    assert max(totals) - min(totals) > 100  # 1 to 5 minutes, not one fixed length
    assert max(t.queue_seconds for t in timelines) > 30  # sometimes a long backlog at 0 %
    stalls = jumps = uneven = 0
    for tl in timelines:
        rates = []
        had_stall = had_jump = False
        for (t0, p0), (t1, p1) in zip(tl.knots, tl.knots[1:], strict=False):
            if t1 - t0 >= 5.0 and p1 == p0 and p1 < 100:
                had_stall = True
            if t1 == t0 and p1 - p0 >= 5.0:
                had_jump = True
            if t1 > t0 and p1 > p0:
                rates.append((p1 - p0) / (t1 - t0))
        stalls += had_stall
        jumps += had_jump
        uneven += max(rates) / min(rates) > 3.0
    assert stalls >= 10
    assert jumps >= 10
    assert uneven >= 30


def test_timeline_is_deterministic_per_seed() -> None:
    assert make_timeline("realistic", random.Random(9)) == make_timeline("realistic", random.Random(9))
    assert make_timeline("realistic", random.Random(9)) != make_timeline("realistic", random.Random(10))


def test_task_walks_queued_in_progress_completed_over_http(emulator: Emulator) -> None:
    task_id = create(emulator).json()["id"]
    seen: list[dict] = []
    deadline = time.monotonic() + 30
    while not seen or seen[-1]["status"] not in ("completed", "failed"):
        seen.append(poll(emulator, task_id).json())
        assert time.monotonic() < deadline
        time.sleep(0.01)
    statuses = [t["status"] for t in seen]
    assert statuses[0] == "queued"
    assert "in_progress" in statuses
    assert statuses[-1] == "completed"
    order = {"queued": 0, "in_progress": 1, "completed": 2}
    assert [order[s] for s in statuses] == sorted(order[s] for s in statuses)
    progress = [t["progress"] for t in seen]
    assert progress == sorted(progress)
    assert len({p for p in progress if 0 < p < 100}) >= 3  # rising, not a jump from 0 to 100
    final = seen[-1]
    assert final["progress"] == 100
    assert final["created_at"] <= final["completed_at"]
    assert final["expires_at"] - final["completed_at"] in (24 * 3600, 24 * 3600 + 1)
    assert all("completed_at" not in t for t in seen[:-1])


def test_fail_word_fails_the_task_with_generation_failed(emulator: Emulator) -> None:
    task_id = create(emulator, body(prompt="please FailMe now")).json()["id"]
    final = wait_final(emulator, task_id)
    assert final["status"] == "failed"
    assert final["error"]["code"] == "generation_failed"
    assert final["error"]["message"].startswith("Generation failed")
    assert final["progress"] < 100
    assert "result" not in final
    assert emulator.stats()["renders"] == 0  # a failing task is never encoded


def test_task_fail_rate_fails_tasks_without_the_word(emulator: Emulator) -> None:
    emulator.configure(task_fail_rate=1.0)
    final = wait_final(emulator, create(emulator).json()["id"])
    assert final["status"] == "failed"
    assert final["error"]["code"] == "generation_failed"


def test_video_url_answers_410_after_expiry(emulator: Emulator) -> None:
    task, _ = finished_video(emulator)
    url = task["result"]["data"][0]["url"]
    assert requests.head(url, timeout=5).status_code == 200
    emulator.configure(expiry_seconds=0.0)
    gone = requests.get(url, timeout=5)
    assert gone.status_code == 410
    assert gone.json()["error"]["code"] == 410
    again = poll(emulator, task["id"]).json()
    assert again["status"] == "completed"  # the task still says where the video was
    assert again["expires_at"] <= time.time()


def test_expiry_counts_from_completion(emulator: Emulator) -> None:
    emulator.configure(expiry_seconds=1.0)
    task, _ = finished_video(emulator)
    url = task["result"]["data"][0]["url"]
    assert task["expires_at"] - task["completed_at"] in (1, 2)
    deadline = time.monotonic() + 5
    while requests.head(url, timeout=5).status_code == 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert requests.head(url, timeout=5).status_code == 410


def test_same_fault_seed_replays_the_same_tasks() -> None:
    def run() -> list[tuple[int, str]]:
        with Emulator(EmulatorConfig(speed=50.0, fault_seed=42, task_fail_rate=0.5)) as emu:
            ids = [create(emu, body(meta_seed=-1)).json()["id"] for _ in range(6)]
            tasks = [wait_final(emu, task_id) for task_id in ids]
            return [(t["metadata"]["seed"], t["status"]) for t in tasks]

    first, second = run(), run()
    assert first == second
    assert len({seed for seed, _ in first}) == 6
    assert {status for _, status in first} == {"completed", "failed"}
