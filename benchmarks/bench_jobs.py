"""Rows 2a/2b: wall time of 200 concurrent jobs through the job engine vs the slowest single job.

Setup: an emulator in its own process (realistic profile: 1-5 min tasks with queue waits,
stalls and jumps, at ``speed``); a fresh interpreter holds one ``JobManager``
(``time_scale`` = speed, so the poll policy behaves as against the real gateway) that
submits 200 jobs at once (same request with ``rerun=True``: 200 real tasks with their own
timelines, but one render at the emulator, so its encoder is not what we time) and waits
for every video to be saved.

Baseline, per repeat: the slowest of those 200 tasks, run alone. A task's timeline is
drawn from a stream seeded by ``fault_seed`` and the task's number, so the emulator's own
code replays which number was slowest; a fresh emulator with the same seed is then
advanced to that number with plain creates, and one job runs alone through a fresh
interpreter and manager: its wall time is the baseline.

Threads: a sampler in the engine's interpreter records ``threading.active_count()``
(minus itself) every 5 ms; the emulator's threads are in another process.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from ._env import EmulatorHandle, NotMeasured, child_env, emulator_process, run_python

PROMPT = "a lighthouse in a storm, waves breaking, cinematic"
SEED = 7

_CHILD = """
import json, os, threading, time
from pathlib import Path
from seedance_widgets.api import GenerationRequest, SeedanceClient
from seedance_widgets.engine import JobManager

peak = {{"py": 0, "os": 0}}
stop = threading.Event()

def sample():
    while not stop.is_set():
        peak["py"] = max(peak["py"], threading.active_count() - 1)  # minus this sampler
        peak["os"] = max(peak["os"], len(os.listdir("/proc/self/task")) - 1)
        time.sleep(0.005)

client = SeedanceClient(api_key={key!r}, base_url={url!r})
req = GenerationRequest(prompt={prompt!r}, duration=4, resolution="480p", seed={seed})
sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
mgr = JobManager(output_dir=Path({out!r}), client=client, time_scale={speed})
t0w, t0 = time.time(), time.monotonic()
jobs = [mgr.submit(req, rerun=True) for _ in range({n})]
submitted = time.monotonic() - t0
for job in jobs:
    job.wait(timeout=900)
wall = time.monotonic() - t0
stop.set()
snaps = [j.snapshot() for j in jobs]
mgr.shutdown()
# When the last create was answered (from the ledger): shows whether creating 200 tasks held things up.
created = [json.loads(line)["at"] for line in open(Path({out!r}) / "ledger.jsonl") if '"created"' in line]
print(json.dumps({{"wall": wall, "submit_s": submitted, "peak": peak, "polls": sum(s.polls for s in snaps),
                   "requests": client.request_counts, "last_created_s": max(created, default=t0w) - t0w}}))
"""


def _replay_totals(config: dict[str, Any], first: int, count: int) -> list[float]:
    """Emulated seconds from create to completion of task numbers first..first+count-1."""
    try:
        from seedance_widgets.api import GenerationRequest
        from seedance_widgets.emulator.config import EmulatorConfig
        from seedance_widgets.emulator.state import EmulatorState
    except ImportError as exc:
        raise NotMeasured(f"cannot replay the emulator's timelines ({exc})") from exc
    req = GenerationRequest(prompt=PROMPT, duration=4, resolution="480p", seed=SEED)
    # The replay's render pool may still be writing when the folder goes: not our concern here.
    with tempfile.TemporaryDirectory(prefix="seedance-bench-replay-", ignore_cleanup_errors=True) as tmp:
        state = EmulatorState(EmulatorConfig(**config), Path(tmp))
        try:
            records = [state.create_task(req) for _ in range(first + count - 1)]
        finally:
            state.renders.shutdown()
    return [r.timeline.total_seconds for r in records[first - 1 :]]


def _engine_run(emu: EmulatorHandle, n: int, speed: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="seedance-bench-jobs-") as out:
        values = {"key": emu.api_key, "url": emu.base_url, "prompt": PROMPT, "seed": SEED}
        code = _CHILD.format(out=out, speed=speed, n=n, **values)
        return run_python(code, env=child_env(), timeout=1800)


def _advance(emu: EmulatorHandle, count: int) -> None:
    """Make ``count`` tasks nobody watches, so the next create gets the wanted task number."""
    from seedance_widgets.api import GenerationRequest, SeedanceClient

    req = GenerationRequest(prompt=PROMPT, duration=4, resolution="480p", seed=SEED)
    with SeedanceClient(api_key=emu.api_key, base_url=emu.base_url) as client:
        for _ in range(count):
            client.create(req)


def _get_latency_ms(emu: EmulatorHandle, samples: int = 20) -> float:
    """Median wall ms of one task GET on a kept-alive connection (the engine's pooled session)."""
    from seedance_widgets.api import GenerationRequest, SeedanceClient

    with SeedanceClient(api_key=emu.api_key, base_url=emu.base_url) as client:
        task = client.create(GenerationRequest(prompt=PROMPT, duration=4, resolution="480p", seed=SEED))
        times = []
        for _ in range(samples):
            t0 = time.perf_counter()
            client.get(task.id)
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def run(quick: bool = False) -> dict[str, Any]:
    n, repeats, speed = (20, 1, 60.0) if quick else (200, 3, 10.0)
    walls: list[float] = []
    baselines: list[float] = []
    threads: list[float] = []
    details: list[dict[str, Any]] = []
    for rep in range(repeats):
        config = {"profile": "realistic", "speed": speed, "fault_seed": rep}
        with emulator_process(**config) as emu:
            batch = _engine_run(emu, n, speed)
            made = int(emu.stats()["tasks"])
        if made != n:
            raise NotMeasured(f"expected {n} tasks at the emulator, it made {made}: cannot replay")
        totals = _replay_totals(config, 1, n)
        slowest = max(range(n), key=totals.__getitem__) + 1  # task numbers start at 1
        with emulator_process(**config) as emu:
            _advance(emu, slowest - 1)
            lone = _engine_run(emu, 1, speed)
            if int(emu.stats()["tasks"]) != slowest:
                raise NotMeasured("the lone job did not get the slowest task's number: cannot compare")
        walls.append(batch["wall"])
        baselines.append(lone["wall"])
        threads.append(float(batch["peak"]["py"]))
        details.append(
            {
                "slowest_task_number": slowest,
                "slowest_emulated_s": totals[slowest - 1],
                "lone_wall_s": lone["wall"],
                "batch_wall_s": batch["wall"],
                "submit_all_s": batch["submit_s"],
                "os_threads_peak": batch["peak"]["os"],
                "polls_per_job": batch["polls"] / n,
                "lone_polls": lone["polls"],
                "last_create_answered_s": batch["last_created_s"],
            }
        )
    # Probed after the repeats, on a fresh emulator (its task count must not shift the replays).
    with emulator_process(profile="realistic", speed=speed) as emu:
        get_ms = _get_latency_ms(emu)
    note = (
        f"{n} jobs, realistic profile at speed {speed:g} (slowest task ~"
        f"{statistics.median(d['slowest_emulated_s'] for d in details):.1f} s); baseline = that task alone; "
        f"last create answered at {statistics.median(d['last_create_answered_s'] for d in details):.1f} s; "
        f"emulator keep-alive GET {get_ms:.1f} ms"
    )
    return {
        "rows": [
            {
                "id": "2a",
                "measure": f"{n} concurrent jobs: wall time",
                "value": walls,
                "baseline_value": baselines,
                "extra": {"note": note, "repeats": details},
            },
            {
                "id": "2b",
                "measure": f"{n} concurrent jobs: max threads",
                "value": threads,
                "extra": {"note": "threading.active_count() in the engine's process (main thread included)"},
            },
        ]
    }
