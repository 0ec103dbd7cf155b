"""Rows 10a/10b (rate limits, both sides) and 11a-13 (10,000 jobs in one kernel); issue 16.

Row 10: 1,000 jobs under the gateway's default per-account tier (creates 5/s with a burst of 50 and
300/min; task GETs 50/s and 3,000/min), which the emulator enforces (``rate_tier="default"``,
``emulator/ratelimit.py``). The emulator runs in its own process on the "realistic" profile
(1-5 min tasks) sped up by ``speed``; its limits speed up alike (buckets refill ``speed`` times
faster, windows are ``speed`` times shorter), so the whole scene is the real one, compressed.
Two sides, each on a fresh emulator with the same ``fault_seed`` (so task number k has the same
timeline on both), each in a fresh interpreter:

* engine: one ``JobManager`` (``time_scale`` = speed, default poll policy, pacing from the
  replies' ``X-RateLimit-*`` headers) submits the 1,000 jobs and waits for every video;
* advised loop: what the gateway's docs advise, run under the same caps: create every task in
  turn (a 429 is waited out as its Retry-After says: no task was made), then poll each task 5 s
  after its create and every 10 s after, with 4 threads (the engine's pool size) and the stock
  client (which retries a 429 after its Retry-After).

Creates go one at a time on both sides (the engine with ``max_concurrent_creates=1``), so the
order of the create replies is the emulator's task numbering, and the emulator's own code
replays each task's completion time (as rows 1 and 2 do). Measured per task: the lag from its
completion to the end of the first GET that saw it completed, in gateway seconds (wall x
speed). Row 10a: mean lag of the engine vs the advised loop (target <= 0.5x); row 10b: 429
replies the emulator sent to the engine's side (absolute, target 0); the advised loop's 429s are
in the note.

Rows 11-13: 10,000 jobs in one fresh interpreter against the emulator (own process, "quick"
profile: a few seconds per task, sped up; default tier, sped up too), measured once. 11a jobs
not finished (target 0), 11b duplicate creates (tasks the emulator made beyond one per job, plus
jobs with two "created" records in the ledger; target 0), 12a peak threads (``threading.active_count()``
minus the sampler; target <= 8), 12b memory growth (peak RSS minus RSS before the manager was
made; target <= 300 MB), 13 a CPU-bound cell run again and again while the jobs are in flight
vs the same cell alone in the same interpreter, before and after (median; target <= 1.15x).

``python -m benchmarks.bench_scale [--quick] [--part=rate|many]`` runs this module alone.
"""

from __future__ import annotations

import heapq
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ._env import NotMeasured, child_env, emulator_process, run_python

PROMPT = "a red kite over white dunes, wide shot"
SEED = 9
FAULT_SEED = 16


# ---- children (run in fresh interpreters: ``python -c "from benchmarks.bench_scale import ..."``)
def _timed_client(key: str, url: str) -> Any:
    """A client that notes when each create was answered and when each task was first seen done."""
    from seedance_widgets.api import SeedanceClient

    class Timed(SeedanceClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.created: list[tuple[str, float]] = []
            self.first_done: dict[str, float] = {}
            self.lock = threading.Lock()

        def create(self, *args: Any, **kwargs: Any) -> Any:
            task = super().create(*args, **kwargs)
            with self.lock:
                self.created.append((task.id, time.monotonic()))
            return task

        def get(self, task_id: str) -> Any:
            task = super().get(task_id)
            if task.status == "completed":
                with self.lock:
                    self.first_done.setdefault(task_id, time.monotonic())
            return task

    return Timed(api_key=key, base_url=url)


def _job(submitted: Any) -> Any:
    """A submitted job (``submit`` returns a DryRun only when asked for one)."""
    from seedance_widgets.engine import Job

    assert isinstance(submitted, Job)
    return submitted


def _request() -> Any:
    from seedance_widgets.api import GenerationRequest

    return GenerationRequest(prompt=PROMPT, duration=4, resolution="480p", seed=SEED)


def engine_side(args: dict[str, Any]) -> None:
    """Row 10, engine: submit every job at once, wait for all; print the timings as JSON."""
    from seedance_widgets.engine import JobManager

    client = _timed_client(args["key"], args["url"])
    with tempfile.TemporaryDirectory(prefix="seedance-bench-scale-") as out:
        manager = JobManager(
            Path(out), client=client, time_scale=args["speed"], max_concurrent_creates=1, resume=False
        )
        try:
            jobs = [_job(manager.submit(_request(), rerun=True)) for _ in range(args["n"])]
            for job in jobs:
                job.wait(timeout=args["timeout"])
            pacer = manager._core.scheduler.pacer
            waits = dict(pacer.waits)
            polls = sum(job.snapshot().polls for job in jobs)
        finally:
            manager.shutdown()
    print(
        json.dumps(
            {"created": client.created, "first_done": client.first_done, "polls": polls, "waits": waits}
        )
    )


def advised_side(args: dict[str, Any]) -> None:
    """Row 10, advised loop: creates in turn, then a GET 5 s after each create and every 10 s after."""
    from seedance_widgets.api import RateLimitError

    client = _timed_client(args["key"], args["url"])
    speed, n = float(args["speed"]), int(args["n"])
    heap: list[tuple[float, int, str]] = []
    wake = threading.Condition()
    seq = iter(range(10**9))
    finished: set[str] = set()
    gets = [0]
    all_created = threading.Event()

    def push(due: float, task_id: str) -> None:
        with wake:
            heapq.heappush(heap, (due, next(seq), task_id))
            wake.notify()

    def creator() -> None:
        request = _request()
        for _ in range(n):
            while True:
                try:
                    task = client.create(request)
                    break
                except RateLimitError as err:  # a 429 made no task: wait as told, then again
                    time.sleep(err.retry_after if err.retry_after is not None else 1.0 / speed)
            push(time.monotonic() + 5.0 / speed, task.id)
        all_created.set()

    def poller() -> None:
        while True:
            with wake:
                while True:
                    if all_created.is_set() and len(finished) >= n:
                        wake.notify_all()
                        return
                    now = time.monotonic()
                    if heap and heap[0][0] <= now:
                        _, _, task_id = heapq.heappop(heap)
                        break
                    wake.wait(min(heap[0][0] - now, 0.5) if heap else 0.5)
            try:
                gets[0] += 1
                task = client.get(task_id)
            except RateLimitError as err:
                push(time.monotonic() + (err.retry_after or 10.0 / speed), task_id)
                continue
            if task.is_final:
                with wake:
                    finished.add(task_id)
                    wake.notify_all()
            else:
                push(time.monotonic() + 10.0 / speed, task_id)

    threads = [threading.Thread(target=creator)] + [threading.Thread(target=poller) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(args["timeout"])
    print(
        json.dumps(
            {"created": client.created, "first_done": client.first_done, "polls": gets[0], "waits": {}}
        )
    )


def many_side(args: dict[str, Any]) -> None:
    """Row 11: ``n`` jobs in this interpreter; threads, memory, duplicates and a CPU cell meanwhile."""
    import os

    from seedance_widgets.api import SeedanceClient
    from seedance_widgets.engine import JobManager, JobState

    def rss_mb(field: str) -> float:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
        raise KeyError(field)

    def cell() -> float:
        t0 = time.perf_counter()
        total = 0
        for i in range(args["loop"]):
            total += (i * i) % 7
        return time.perf_counter() - t0

    peak = {"py": 0, "os": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak["py"] = max(peak["py"], threading.active_count() - 1)  # minus this sampler
            peak["os"] = max(peak["os"], len(os.listdir("/proc/self/task")) - 1)
            stop.wait(0.02)

    client = SeedanceClient(api_key=args["key"], base_url=args["url"])
    request = _request()
    alone = [cell() for _ in range(args["cells"])]
    rss0 = rss_mb("VmRSS")
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with tempfile.TemporaryDirectory(prefix="seedance-bench-many-") as out:
        manager = JobManager(Path(out), client=client, time_scale=args["speed"], resume=False)
        t0 = time.monotonic()
        jobs = [_job(manager.submit(request, rerun=True)) for _ in range(args["n"])]
        submitted = time.monotonic() - t0
        meanwhile: list[float] = []
        # Cells run while most jobs are in flight; the count of live jobs is looked at now and then
        # (10,000 snapshots take the GIL too).
        while sum(1 for j in jobs if not j.snapshot().is_final) > args["n"] // 10:
            meanwhile += [cell() for _ in range(10)]
        for job in jobs:
            job.wait(timeout=args["timeout"])
        wall = time.monotonic() - t0
        stop.set()
        snaps = [j.snapshot() for j in jobs]
        manager.shutdown()
        ledger = Path(out) / "ledger.jsonl"
        # A job with two "created" records (two tasks) would be a duplicate create.
        created = [
            rec.get("job")
            for rec in map(json.loads, ledger.read_text().splitlines())
            if rec.get("event") == "created"
        ]
    hwm = rss_mb("VmHWM")
    alone += [cell() for _ in range(args["cells"])]
    print(
        json.dumps(
            {
                "wall": wall,
                "submit_s": submitted,
                "not_done": sum(1 for s in snaps if s.state != JobState.DONE),
                "states": sorted({str(s.state) for s in snaps}),
                "peak": peak,
                "memory_mb": hwm - rss0,
                "alone": alone,
                "meanwhile": meanwhile,
                "created_twice": len(created) - len(set(created)),
                "requests": client.request_counts,
            }
        )
    )


def _child(function: str, args: dict[str, Any], timeout: float) -> Any:
    call = f"{function}(json.loads({json.dumps(args)!r}))"
    code = f"import json; from benchmarks.bench_scale import {function}; {call}"
    return run_python(code, env=child_env(), timeout=timeout)


# ---- row 10 ----------------------------------------------------------------------------------
def _replay_totals(config: dict[str, Any], count: int) -> list[float]:
    """Wall seconds from create to completion of task numbers 1..count (the emulator's own code)."""
    from seedance_widgets.emulator.config import EmulatorConfig
    from seedance_widgets.emulator.state import EmulatorState

    request = _request()
    with tempfile.TemporaryDirectory(
        prefix="seedance-bench-scale-replay-", ignore_cleanup_errors=True
    ) as tmp:
        state = EmulatorState(EmulatorConfig(**config), Path(tmp))
        try:
            records = [state.create_task(request) for _ in range(count)]
        finally:
            state.shutdown()
    return [r.timeline.total_seconds for r in records]


def _lags(result: dict[str, Any], totals: list[float], speed: float) -> list[float]:
    lags: list[float] = []
    for (task_id, created), total in zip(result["created"], totals, strict=True):
        seen = result["first_done"].get(task_id)
        if seen is None:
            raise NotMeasured(f"task {task_id} was never seen completed")
        lag = seen - (created + total)
        if lag < -0.1:
            raise NotMeasured(f"a task was seen completed {-lag:.2f}s early: the replay does not match")
        lags.append(max(0.0, lag) * speed)
    return lags


def _rate_side(side: str, n: int, speed: float, profile: str) -> dict[str, Any]:
    config = {"profile": profile, "speed": speed, "fault_seed": FAULT_SEED, "rate_tier": "default"}
    with emulator_process(**config) as emu:
        args = {"key": emu.api_key, "url": emu.base_url, "speed": speed, "n": n, "timeout": 900.0}
        result = _child(f"{side}_side", args, timeout=1800)
        stats = emu.stats()
    if int(stats["tasks"]) != n or len(result["created"]) != n:
        raise NotMeasured(f"{side}: expected {n} tasks, the emulator made {stats['tasks']}")
    result["n429"] = int(stats["responses"].get("429", 0))
    result["gets_at_emulator"] = int(stats.get("get", 0) if isinstance(stats.get("get"), int) else 0)
    result["lags"] = _lags(result, _replay_totals(config, n), speed)
    return result


def _rate_rows(quick: bool) -> list[dict[str, Any]]:
    n, speed, profile = (40, 20.0, "quick") if quick else (1000, 2.0, "realistic")
    engine = _rate_side("engine", n, speed, profile)
    advised = _rate_side("advised", n, speed, profile)
    ratio = statistics.fmean(engine["lags"]) / max(statistics.fmean(advised["lags"]), 1e-9)
    note = (
        f"{n} jobs, {profile} profile at speed {speed:g}, default tier; mean lag engine "
        f"{statistics.fmean(engine['lags']):.2f} s vs advised {statistics.fmean(advised['lags']):.2f} s "
        f"(gateway s); GETs engine {engine['polls']} vs advised {advised['polls']}; 429s engine "
        f"{engine['n429']} vs advised {advised['n429']}; engine held calls back {engine['waits']}"
    )
    print("  row 10:", note)
    return [
        {
            "id": "10a",
            "measure": f"{n} jobs under the default caps: completion -> noticed",
            "value": engine["lags"],
            "baseline_value": advised["lags"],
            "ratio": ratio,
            "extra": {"note": note, "advised_429": advised["n429"], "engine_429": engine["n429"]},
        },
        {
            "id": "10b",
            "measure": f"{n} jobs under the default caps: 429s met by the engine",
            "value": [engine["n429"]],
        },
    ]


# ---- row 11 ----------------------------------------------------------------------------------
def _many_rows(quick: bool) -> list[dict[str, Any]]:
    n, speed, loop, cells = (200, 20.0, 300_000, 5) if quick else (10_000, 20.0, 1_000_000, 15)
    # The engine spends ~10 ms of CPU per job (ledger, download, checks): how hard the caps let it
    # work (speed x 5 creates/s) decides row 13; SEEDANCE_BENCH_SCALE_SPEED measures other paces.
    speed = float(os.environ.get("SEEDANCE_BENCH_SCALE_SPEED", speed))
    config = {"profile": "quick", "speed": speed, "fault_seed": FAULT_SEED, "rate_tier": "default"}
    with emulator_process(**config) as emu:
        args = {
            "key": emu.api_key,
            "url": emu.base_url,
            "speed": speed,
            "n": n,
            "timeout": 1800.0,
            "loop": loop,
            "cells": cells,
        }
        result = _child("many_side", args, timeout=3600)
        stats = emu.stats()
    duplicates = int(stats["tasks"]) - n + int(result["created_twice"])
    meanwhile = result["meanwhile"]
    if not meanwhile:
        raise NotMeasured("the jobs finished before the CPU-bound cell could run even once")
    note = (
        f"{n} jobs, quick profile at speed {speed:g}, default tier: wall {result['wall']:.0f} s "
        f"(submit {result['submit_s']:.1f} s), {len(result['meanwhile'])} cells meanwhile; "
        f"OS threads {result['peak']['os']}; 429s {stats['responses'].get('429', 0)}; "
        f"requests {result['requests']}"
    )
    print("  row 11:", note)
    extra = {"note": note, "states": result["states"]}
    return [
        {
            "id": "11a",
            "measure": f"{n} jobs in one kernel: not finished",
            "value": [result["not_done"]],
            "extra": extra,
        },
        {"id": "11b", "measure": f"{n} jobs: duplicate creates", "value": [duplicates]},
        {"id": "12a", "measure": f"{n} jobs: max threads", "value": [result["peak"]["py"]]},
        {"id": "12b", "measure": f"{n} jobs: memory growth", "value": [result["memory_mb"]]},
        {
            "id": "13",
            "measure": f"CPU-bound cell while {n} jobs run",
            "value": meanwhile,
            "baseline_value": result["alone"],
        },
    ]


#: Results by (part, quick): the runner calls ``run`` once per row group (10 to 13), and each part
#: is measured once per process.
_DONE: dict[tuple[str, bool], list[dict[str, Any]]] = {}
_IDS = {"rate": ("10a", "10b"), "many": ("11a", "11b", "12a", "12b", "13")}


def run(quick: bool = False, only: str | None = None) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for part, make in (("rate", _rate_rows), ("many", _many_rows)):
        if only is not None and only != part:
            continue
        if (part, quick) not in _DONE:
            try:
                _DONE[(part, quick)] = make(quick)
            except NotMeasured as exc:
                _DONE[(part, quick)] = [{"id": i, "not_measured": str(exc)} for i in _IDS[part]]
        rows += _DONE[(part, quick)]
    return {"rows": rows}


if __name__ == "__main__":
    import sys

    only = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--part=")), None)
    for row in run(quick="--quick" in sys.argv, only=only)["rows"]:
        value, base = row.get("value") or [], row.get("baseline_value") or []
        shown = (
            f"median {statistics.median(value):.4g} (n={len(value)})" if value else row.get("not_measured")
        )
        if base:
            ratio = row.get("ratio") or statistics.median(value) / statistics.median(base)
            shown += f"; baseline median {statistics.median(base):.4g}; ratio {ratio:.3f}"
        print(row["id"], shown)
