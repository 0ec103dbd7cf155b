"""Row 4: a CPU-bound cell while 100 jobs poll vs the same cell with no jobs.

The "cell" is a fixed pure-Python loop (it holds the GIL, as user code does). Two
interpreters stay up side by side: A has nothing else running; B holds a
``JobManager`` watching 100 jobs on an emulator in a third process (realistic profile
at speed 1, so tasks last 1-5 minutes and every job is polled throughout). The parent
asks A, then B, then A... to run the cell once, so each pair of samples is taken
within a second of each other and the machine's load swings hit both sides alike.
B starts being timed once every job has been polled at least once (steady state);
the GET requests B made during its own cells are reported, so the amount of polling
behind the number is visible.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from typing import IO, Any

from ._env import NotMeasured, child_env, emulator_process

_CHILD = """
import json, sys, time
from pathlib import Path

def cell():
    t0 = time.perf_counter()
    total = 0
    for i in range({loop}):
        total += (i * i) % 7
    return time.perf_counter() - t0

cell()  # warm-up
jobs, client = [], None
if {with_jobs}:
    from seedance_widgets.api import GenerationRequest, SeedanceClient
    from seedance_widgets.engine import JobManager
    client = SeedanceClient(api_key={key!r}, base_url={url!r})
    mgr = JobManager(output_dir=Path({out!r}), client=client, time_scale=1.0)
    jobs = [mgr.submit(GenerationRequest(prompt=f"a busy street at night, shot {{i}}", duration=4,
                                         resolution="480p")) for i in range({n})]
    deadline = time.monotonic() + 180
    def waiting():
        snaps = [j.snapshot() for j in jobs]
        return any(s.task_id is None for s in snaps) or sum(s.polls > 0 for s in snaps) < {need_polled}
    while time.monotonic() < deadline and waiting():
        time.sleep(0.05)
print(json.dumps({{"ready": True, "created": sum(j.task_id is not None for j in jobs)}}), flush=True)
for line in sys.stdin:
    gets0 = client.request_counts["get"] if client else 0
    seconds = cell()
    gets = (client.request_counts["get"] - gets0) if client else 0
    live = sum(1 for j in jobs if not j.snapshot().is_final)
    print(json.dumps({{"s": seconds, "gets": gets, "live": live}}), flush=True)
"""


def _ask(proc: subprocess.Popen[str]) -> dict[str, Any]:
    stdin: IO[str] | None = proc.stdin
    stdout: IO[str] | None = proc.stdout
    if stdin is None or stdout is None:
        raise NotMeasured("child pipes missing")
    stdin.write("cell\n")
    stdin.flush()
    line = stdout.readline()
    if not line:
        raise NotMeasured(f"a cell child died (rc={proc.poll()})")
    return json.loads(line)


def _start(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=child_env(),
    )


def run(quick: bool = False) -> dict[str, Any]:
    n, pairs, loop = (20, 5, 1_000_000) if quick else (100, 120, 5_000_000)
    ours: list[float] = []
    base: list[float] = []
    gets = 0
    live: list[int] = []
    with (
        emulator_process(profile="realistic", speed=1.0) as emu,
        tempfile.TemporaryDirectory(prefix="seedance-bench-cpu-") as out,
    ):
        common = {"loop": loop, "key": emu.api_key, "url": emu.base_url, "out": out, "n": n}
        a = _start(_CHILD.format(with_jobs=False, need_polled=0, **common))
        b = _start(_CHILD.format(with_jobs=True, need_polled=0 if quick else n, **common))
        try:
            for proc in (a, b):
                assert proc.stdout is not None
                ready = json.loads(proc.stdout.readline() or "{}")
                if not ready.get("ready"):
                    raise NotMeasured("a cell child did not start")
            if ready["created"] < n:
                raise NotMeasured(f"only {ready['created']} of {n} jobs were created")
            for _ in range(pairs):
                base.append(_ask(a)["s"])
                r = _ask(b)
                ours.append(r["s"])
                gets += r["gets"]
                live.append(r["live"])
        finally:
            for proc in (a, b):
                if proc.stdin:
                    proc.stdin.close()
                proc.wait(30)
    seconds_b = sum(ours)
    rate = gets / max(seconds_b, 1e-9)
    return {
        "rows": [
            {
                "id": "4",
                "measure": f"CPU-bound cell while {n} jobs poll",
                "value": ours,
                "baseline_value": base,
                "extra": {
                    "gets_during_cells": gets,
                    "min_live_jobs": min(live) if live else 0,
                    "note": f"{n} jobs live throughout (min {min(live) if live else 0}); {gets} GETs during "
                    f"the {seconds_b:.0f} s of timed cells (~{rate:.1f}/s); A/B alternate",
                },
            }
        ]
    }
