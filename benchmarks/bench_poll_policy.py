"""Rows 1a/1b: the job engine's poll policy vs the gateway's advice, on the same emulated tasks.

Setup: an emulator in its own process on the "realistic" profile (1-5 min tasks with
queue waits, uneven speed, stalls, jumps and a plateau before completion), sped up by
``speed``. One warm-up task renders the clip once; every measured task asks for the
same clip, so the emulator's encoder serves them from its cache and completion follows
the emulated schedule. Each measured task is created once, then watched by two
``JobManager`` objects in this process - one with ``AdaptivePolicy`` (the default), one
with ``BaselinePolicy`` (first look at 5 s, then every 10 s) - both attached with the
task's creation time and both with ``time_scale = speed``, so every wait of both
policies shrinks by the same factor as the tasks.

Measured per task and policy:
* delay: wall time from the task's completion at the emulator to the midpoint of the
  first GET that saw it completed, times ``speed`` (gateway seconds). The loopback round
  trip (tens of ms, not scaled by speed) is left out this way; the time until the job's
  state turns ``downloading`` (round trip included) is reported too, as
  ``wall_with_http_roundtrip``.
  The completion time is the task's creation (midpoint of the create call) plus its
  emulated duration, replayed with the emulator's own code: a task's timeline is
  drawn from a stream seeded by ``fault_seed`` and the task's number.
* GETs: poll requests the job made.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from seedance_widgets.api import GenerationRequest, SeedanceClient
from seedance_widgets.engine import (
    AdaptivePolicy,
    BaselinePolicy,
    Job,
    JobManager,
    JobSnapshot,
    JobState,
    PollPolicy,
)

from ._env import NotMeasured, emulator_process

PROMPT = "a paper boat drifting down a rain gutter, macro, soft light"
SEED = 5
FAULT_SEED = 11


def _replay_totals(config: dict[str, Any], first: int, count: int) -> list[float]:
    """Wall seconds from create to completion of task numbers first..first+count-1."""
    try:
        from seedance_widgets.emulator.config import EmulatorConfig
        from seedance_widgets.emulator.state import EmulatorState
    except ImportError as exc:
        raise NotMeasured(f"cannot replay the emulator's timelines ({exc})") from exc
    request = _request()
    # The replay's render pool may still be writing as the folder goes: ignore that.
    with tempfile.TemporaryDirectory(prefix="seedance-bench-poll-replay-", ignore_cleanup_errors=True) as tmp:
        state = EmulatorState(EmulatorConfig(**config), Path(tmp))
        try:
            records = [state.create_task(request) for _ in range(first + count - 1)]
        finally:
            state.shutdown()
    return [r.timeline.total_seconds for r in records[first - 1 :]]


class _TimedClient(SeedanceClient):
    """Notes, per task, the midpoint of the first GET that saw it completed.

    The emulator answers a GET in tens of milliseconds whatever its speed, so at speed 20
    the round trip alone would count as a second of gateway time: the midpoint stands
    for the moment the server looked, which is what the poll policy controls.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.first_completed: dict[str, float] = {}

    def get(self, task_id: str) -> Any:
        sent = time.monotonic()
        task = super().get(task_id)
        if task.status == "completed":
            self.first_completed.setdefault(task_id, (sent + time.monotonic()) / 2)
        return task


def _request() -> GenerationRequest:
    return GenerationRequest(prompt=PROMPT, duration=4, resolution="480p", seed=SEED)


def _watch(job: Job, noticed: dict[str, float]) -> None:
    """Record the monotonic time at which ``job`` first sees its task completed."""

    def observe(snap: JobSnapshot) -> None:
        if snap.state == JobState.DOWNLOADING and snap.local_id not in noticed:
            noticed[snap.local_id] = time.monotonic()

    job.subscribe(observe)


def _wait_rendered(emu: Any, timeout: float) -> None:
    """Wait until the emulator has encoded the warm-up clip (later tasks reuse it)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        stats = emu.stats()
        if stats.get("renders", 0) >= 1 and stats.get("active_renders", 1) == 0:
            return
        time.sleep(0.1)
    raise NotMeasured("the emulator did not finish rendering the warm-up clip in time")


def run(quick: bool = False) -> dict[str, Any]:
    # Many tasks at once (they run side by side): the baseline's delay is a matter of phase
    # (0-10 s), so a few dozen tasks are needed for a steady mean.
    count, speed = (30, 20.0) if quick else (60, 10.0)
    config = {"profile": "realistic", "speed": speed, "fault_seed": FAULT_SEED}
    with emulator_process(**config) as emu, tempfile.TemporaryDirectory(prefix="seedance-bench-poll-") as out:
        client = SeedanceClient(api_key=emu.api_key, base_url=emu.base_url)
        offset = int(emu.stats()["tasks"])
        client.create(_request())
        _wait_rendered(emu, timeout=120)
        sides: dict[str, PollPolicy] = {
            "policy": AdaptivePolicy(),
            "baseline": BaselinePolicy(),
        }
        managers = {
            name: JobManager(
                Path(out) / name,
                client=_TimedClient(api_key=emu.api_key, base_url=emu.base_url),
                poll_policy=policy,
                time_scale=speed,
                resume=False,
            )
            for name, policy in sides.items()
        }
        noticed: dict[str, float] = {}
        watched: dict[str, list[tuple[Job, float]]] = {name: [] for name in sides}
        lock = threading.Lock()
        try:
            for index in range(count):
                started = time.monotonic()
                task = client.create(_request())
                created_mono = (started + time.monotonic()) / 2
                created_wall = time.time() - (time.monotonic() - created_mono)
                # Alternate which side attaches first, so neither is always a hair earlier.
                order = list(managers.items()) if index % 2 == 0 else list(managers.items())[::-1]
                for name, manager in order:
                    job = manager.attach(task.id, created_at=created_wall, request=_request())
                    _watch(job, noticed)
                    with lock:
                        watched[name].append((job, created_mono))
            for jobs in watched.values():
                for job, _ in jobs:
                    job.wait(timeout=400 / speed + 60)
        finally:
            for manager in managers.values():
                manager.shutdown()
        made = int(emu.stats()["tasks"]) - offset
        if made != count + 1:
            raise NotMeasured(f"expected {count + 1} tasks at the emulator, it made {made}: cannot replay")
    totals = _replay_totals(config, offset + 2, count)
    result: dict[str, Any] = {"speed": speed, "tasks": count, "profile": "realistic"}
    for name, jobs in watched.items():
        seen = managers[name].client.first_completed  # type: ignore[attr-defined]
        delays: list[float] = []
        raw: list[float] = []
        requests: list[float] = []
        for (job, created_mono), total in zip(jobs, totals, strict=True):
            completed = created_mono + total
            delay = seen[job.task_id] - completed
            if delay < -0.05:
                early = f"{-delay:.2f}s"
                raise NotMeasured(f"a job saw completion {early} early: the replay does not match")
            delays.append(max(0.0, delay) * speed)
            raw.append((noticed[job.local_id] - completed) * speed)
            requests.append(float(job.snapshot().polls))
        # Key names matter to benchmarks/_adapters.py: "delays" and "requests" are the rows.
        result[name] = {"delays": delays, "requests": requests, "wall_with_http_roundtrip": raw}
    policy, base = result["policy"], result["baseline"]
    result["delay_ratio"] = statistics.fmean(policy["delays"]) / max(statistics.fmean(base["delays"]), 1e-9)
    result["requests_ratio"] = statistics.fmean(policy["requests"]) / statistics.fmean(base["requests"])
    _print(result)
    return result


def _print(result: dict[str, Any]) -> None:
    print(f"poll policy on {result['tasks']} realistic tasks at speed {result['speed']:g} (gateway seconds):")
    for name in ("policy", "baseline"):
        side = result[name]
        print(
            f"  {name:8s} delay mean {statistics.fmean(side['delays']):5.2f}s "
            f"median {statistics.median(side['delays']):5.2f}s max {max(side['delays']):5.2f}s; "
            f"GETs/job mean {statistics.fmean(side['requests']):5.2f}; "
            f"with round trip {statistics.fmean(side['wall_with_http_roundtrip']):5.2f}s"
        )
    print(
        f"  ratio: delay {result['delay_ratio']:.3f} (target <= 0.25), "
        f"GETs {result['requests_ratio']:.3f} (target <= 1.0)"
    )


if __name__ == "__main__":
    import sys

    run(quick="--quick" in sys.argv)
