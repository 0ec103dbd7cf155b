"""500 jobs in one manager through a storm of 429s and dropped connections.

Every job asks for a new paid task (``rerun=True``), so "zero duplicate creates" is exact: the
emulator must end with as many tasks as jobs, each job holding its own task id, every video saved,
and the engine's threads within their bound.
"""

from __future__ import annotations

import collections
import threading
import time
from pathlib import Path

from seedance_widgets.api import GenerationRequest, RetryPolicy, SeedanceClient
from seedance_widgets.emulator import Emulator, EmulatorConfig
from seedance_widgets.engine import JobManager, JobState

JOBS = 500
SPEED = 50.0
ENGINE_THREADS = ("seedance-scheduler", "seedance-worker")


def test_five_hundred_jobs_through_a_429_storm_create_each_task_once(tmp_path: Path, report: object) -> None:
    config = EmulatorConfig(
        speed=SPEED,
        retry_after=0.05,
        fault_seed=11,
        fault_rates={"create": {"429": 0.3}, "get": {"429": 0.2, "reset": 0.05}, "download": {"429": 0.1}},
    )
    with Emulator(config) as emu:
        retry = RetryPolicy(attempts=6, base_delay=0.02, max_delay=0.2, jitter=0.1, max_retry_after=1.0)
        client = SeedanceClient(api_key=emu.api_key, base_url=emu.base_url, retry=retry)
        started = time.monotonic()
        peak_threads = 0
        with JobManager(tmp_path / "out", client=client, time_scale=SPEED) as manager:
            # One prompt and seed: the emulator renders once and serves every task from its cache.
            request = GenerationRequest(
                prompt="a storm of paper cranes", duration=4, resolution="480p", seed=7
            )
            jobs = [manager.submit(request, rerun=True) for _ in range(JOBS)]
            for job in jobs:
                job.wait(180)  # type: ignore[union-attr]
                engine = [t for t in threading.enumerate() if t.name.startswith(ENGINE_THREADS)]
                peak_threads = max(peak_threads, len(engine))
            states = collections.Counter(job.status for job in jobs)  # type: ignore[union-attr]
            task_ids = {job.task_id for job in jobs}  # type: ignore[union-attr]
        wall = time.monotonic() - started
        stats = emu.stats()
        tasks = len(emu.task_ids())
    faults = stats["faults"]
    report.add(
        jobs=JOBS,
        done=states[JobState.DONE],
        tasks=tasks,
        duplicate_creates=tasks - JOBS,
        creates_sent=stats["create"],
        http_429=faults.get("429", 0),
        resets=faults.get("reset", 0),
        engine_threads_peak=peak_threads,
        wall_s=round(wall, 1),
    )  # type: ignore[attr-defined]
    assert states == {JobState.DONE: JOBS}
    assert tasks == JOBS, f"{tasks} tasks for {JOBS} jobs"
    assert len(task_ids) == JOBS
    assert faults.get("429", 0) >= 100, "the storm did not happen"
    assert peak_threads <= 8
