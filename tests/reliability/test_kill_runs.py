"""SIGKILL at random points, over and over, into one shared output folder.

Each run is a real child process with its own JobManager on the same folder and the same emulator:
it re-opens whatever the earlier runs left, asks for three requests drawn from a small pool (so
requests repeat across runs: cache hits, re-attached tasks and may-exist jobs all meet new asks),
and is killed with SIGKILL at a random moment, anywhere from start-up to the middle of a download.
After every kill:
- the emulator holds at most ONE task per distinct request, ever (no duplicate create);
- every file under a final name in ``videos/`` is a whole MP4 whose sha256 the ledger names;
- the ledger folds (a torn last line is tolerated; nothing raises).
A last manager then finishes everything that is still alive, still without a second create.
"""

from __future__ import annotations

import collections
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from seedance_widgets.api import SeedanceClient
from seedance_widgets.api.media import mp4_problem
from seedance_widgets.emulator import Emulator, EmulatorConfig
from seedance_widgets.engine import JobManager
from seedance_widgets.engine.restore import fold
from seedance_widgets.engine.store import sha256_file

ROOT = Path(__file__).resolve().parents[2]
RUNS = 50
SPEED = 8.0  # a task takes ~0.6 s: kills land before, during and after creates and downloads
# A pool large enough that most runs create, small enough that asks repeat across runs.
PROMPTS = [f"kill run, scene {n}" for n in range(60)]

_CHILD = """
import sys, time
from pathlib import Path
from seedance_widgets.api import GenerationRequest, SeedanceClient
from seedance_widgets.engine import JobManager
url, key, out, speed, *prompts = sys.argv[1:]
client = SeedanceClient(api_key=key, base_url=url)
manager = JobManager(Path(out), client=client, time_scale=float(speed))
print("open", flush=True)
jobs = [manager.submit(GenerationRequest(prompt=p, duration=4, resolution="480p")) for p in prompts]
for job in jobs:
    try:
        job.wait(60)
    except Exception:
        pass
print("finished", flush=True)
time.sleep(60)
"""


def _tasks_per_prompt(emu: Emulator) -> collections.Counter[str]:
    tasks = emu._state.tasks  # the emulator's own record of every task it made
    return collections.Counter(record.request.prompt for record in list(tasks.values()))


def _check_folder(out: Path) -> tuple[int, int]:
    """Raise on a broken promise; returns (ledger records, whole videos)."""
    ledger = out / "ledger.jsonl"
    lines = ledger.read_bytes().splitlines() if ledger.exists() else []
    records = []
    for number, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except ValueError:
            # Only the very last line may be torn (killed mid-append); the next opener repairs it.
            assert number == len(lines) - 1, f"ledger line {number + 1} of {len(lines)} is not JSON"
    fold(records, out)  # must not raise
    # Final names only: dot-files are a download's temp (.part) and pre-hash (.incoming) files.
    videos = [v for v in out.glob("videos/*.mp4") if not v.name.startswith(".")]
    for video in videos:
        assert mp4_problem(video) is None, f"a half file under a final name: {video.name}"
        # Names are content-addressed (<sha256[:16]>-<slug>.mp4): the bytes are the ones checked.
        assert video.name.startswith(sha256_file(video)[:16]), f"altered file under a final name: {video}"
    return len(records), len(videos)


def test_fifty_sigkills_at_random_points_never_pay_twice(tmp_path: Path, report: object) -> None:
    rng = random.Random(20261130)
    out = tmp_path / "seedance_outputs"
    kills_after_create = 0
    with Emulator(EmulatorConfig(speed=SPEED)) as emu:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        for run in range(RUNS):
            prompts = rng.sample(PROMPTS, 3)
            creates_before = emu.stats()["create"]
            child = subprocess.Popen(
                [sys.executable, "-c", _CHILD, emu.base_url, emu.api_key, str(out), str(SPEED), *prompts],
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            assert child.stdout is not None
            # Start-up (imports) takes a varying time: kill relative to the folder being open.
            assert child.stdout.readline().strip() == "open", f"run {run}: the child did not start"
            time.sleep(rng.uniform(0.0, 1.6))
            child.send_signal(signal.SIGKILL)
            child.wait(10)
            child.stdout.close()
            if emu.stats()["create"] > creates_before:
                kills_after_create += 1
            per_prompt = _tasks_per_prompt(emu)
            assert max(per_prompt.values(), default=0) <= 1, f"run {run}: duplicate task {per_prompt}"
            _check_folder(out)
        # A last, patient manager finishes what is alive and adds no task.
        tasks_before = sum(_tasks_per_prompt(emu).values())
        client = SeedanceClient(api_key=emu.api_key, base_url=emu.base_url)
        with JobManager(out, client=client, time_scale=SPEED) as manager:
            for job in manager.jobs():
                if not job.snapshot().is_final:
                    try:
                        job.wait(60)
                    except Exception:
                        pass
            states = collections.Counter(job.status for job in manager.jobs())
        per_prompt = _tasks_per_prompt(emu)
        records, videos = _check_folder(out)
        report.add(  # type: ignore[attr-defined]
            runs_killed=RUNS,
            killed_after_a_create=kills_after_create,
            tasks=sum(per_prompt.values()),
            distinct_requests=len(per_prompt),
            duplicate_creates=sum(n - 1 for n in per_prompt.values() if n > 1),
            ledger_records=records,
            whole_videos=videos,
            final_states=dict(states),
        )
        leftovers = [p.name for p in out.rglob(".*") if p.is_file() and not p.name.startswith(".owner")]
        assert not leftovers, f"temp files that no live process owns survived a new manager: {leftovers}"
        assert sum(per_prompt.values()) == tasks_before, "the final manager created a task"
        assert max(per_prompt.values(), default=0) <= 1
        assert kills_after_create >= RUNS // 2, "too few kills landed after a create to mean anything"
