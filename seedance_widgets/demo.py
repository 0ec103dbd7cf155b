"""``python -m seedance_widgets.demo``: the whole round trip in a terminal, no API key needed.

Starts the offline emulator, creates one 5 s 720p clip with audio through
``SeedanceClient``, shows its progress, downloads the MP4 and prints where it is.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from seedance_widgets.api import GenerationRequest, SeedanceClient, Task
from seedance_widgets.emulator import Emulator, EmulatorConfig

PROMPT = "Sunset at the beach, golden sunlight on the sea, waves gently hitting the sand"
POLL_SECONDS = 0.25
BAR_WIDTH = 30


def _line(task: Task, started: float) -> str:
    filled = BAR_WIDTH * task.progress // 100
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    return f"  [{bar}] {task.progress:3d}%  {task.status:<11}  {time.monotonic() - started:5.1f} s"


def run(out_dir: Path, speed: float, prompt: str) -> Path:
    interactive = sys.stdout.isatty()
    with Emulator(EmulatorConfig(speed=speed)) as emu:
        print(f"Emulator (offline, no key needed) at {emu.base_url}")
        request = GenerationRequest(prompt, duration=5, resolution="720p", aspect_ratio="16:9", audio=True)
        width, height = request.size
        print(f"Creating a {request.duration} s {request.resolution} clip ({width}x{height}) with audio:")
        print(f"  prompt: {prompt}")
        with SeedanceClient(api_key=emu.api_key, base_url=emu.base_url) as client:
            started = time.monotonic()
            task = client.create(request)
            print(f"  task {task.id} created")
            shown: tuple[str, int] | None = None
            while not task.is_final:
                time.sleep(POLL_SECONDS)
                task = client.get(task.id)
                line = _line(task, started)
                if interactive:
                    print("\r" + line, end="", flush=True)
                elif (task.status, task.progress) != shown:
                    print(line, flush=True)  # a log, not a terminal: one line per change
                shown = (task.status, task.progress)
            if interactive:
                print()
            if task.status != "completed" or not task.video_url:
                reason = task.error_message or ""
                raise SystemExit(f"The task did not complete: {task.status} {reason}".strip())
            out_dir.mkdir(parents=True, exist_ok=True)
            dest = out_dir / f"demo-{task.seed}-{task.id[-8:]}.mp4"
            path = client.download(task.video_url, dest)
    size_kb = path.stat().st_size / 1024
    print(f"Saved {size_kb:.0f} KB (seed {task.seed}) to:\n  {path.resolve()}")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seedance_widgets.demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("seedance_outputs"), help="folder for the MP4")
    parser.add_argument("--speed", type=float, default=1.0, help="emulator speed factor (default 1: ~5 s)")
    parser.add_argument("--prompt", default=PROMPT, help="what to ask for")
    args = parser.parse_args(argv)
    run(args.out, args.speed, args.prompt)
    return 0


if __name__ == "__main__":
    sys.exit(main())
