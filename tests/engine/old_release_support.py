"""Output folders made by an earlier release (commit c7bfa44, ledger records of version 1).

The folder is made by that release's own code: ``git archive`` of the commit into a temporary
directory, then its engine (``seedance_widgets.jobs``) run in a child process with PYTHONPATH
pointing there, against the test's emulator. Two jobs finish (one with a local first frame); with
``unfinished=True`` a third is left with its task created but not downloaded (the child exits
without shutting down, as a killed kernel would).

``python tests/engine/old_release_support.py`` rewrites the committed copy in
``fixtures/old_release/`` (a folder made this way: its two finished jobs), which the tests use when
the git history is not available.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OLD_RELEASE = "c7bfa44"
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "old_release"
#: The requests of the folder's jobs, as today's code asks for them (all Seedance 1.5 Pro).
PLAIN_PROMPT = "an old release: a lighthouse at dusk"
FRAMED_PROMPT = "an old release: the frame comes alive"
LATE_PROMPT = "an old release: still rendering when the kernel died"
REQUEST_FIELDS: dict[str, object] = {"duration": 4, "resolution": "480p"}

_CHILD = f"""
import os, sys, time
from pathlib import Path
from seedance_widgets.api import GenerationRequest, SeedanceClient
from seedance_widgets.jobs import JobManager

url, key, out, png, unfinished = sys.argv[1:6]
fields = dict(duration=4, resolution="480p")
manager = JobManager(Path(out), client=SeedanceClient(api_key=key, base_url=url), time_scale=20.0)
plain = manager.submit(GenerationRequest(prompt={PLAIN_PROMPT!r}, **fields))
framed = manager.submit(
    GenerationRequest(prompt={FRAMED_PROMPT!r}, **fields), images=[("first_frame", Path(png).read_bytes())]
)
plain.wait(60)
framed.wait(60)
print("done", flush=True)
if unfinished == "yes":
    sys.stdin.readline()  # the test slows the emulator down first
    late = manager.submit(GenerationRequest(prompt={LATE_PROMPT!r}, **fields))
    ledger = Path(out) / "ledger.jsonl"
    end = time.monotonic() + 60
    while time.monotonic() < end:
        lines = [line for line in ledger.read_text().splitlines() if late.local_id in line]
        if late.task_id and any('"created"' in line for line in lines):
            break
        time.sleep(0.02)
    print("created", late.task_id, flush=True)
    os._exit(0)  # as a kill: no shutdown, so no download and no further record
manager.shutdown()
"""


def has_old_release() -> bool:
    """Whether the git history holding the earlier release is here."""
    try:
        done = subprocess.run(
            ["git", "-C", str(ROOT), "cat-file", "-e", f"{OLD_RELEASE}^{{commit}}"],
            capture_output=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def old_code(into: Path) -> Path:
    """The earlier release's package, unpacked under ``into`` (for PYTHONPATH)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", OLD_RELEASE, "seedance_widgets"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


def first_frame_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 36), (30, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


class OldRun:
    """The earlier release's engine running in a child process on ``out``."""

    def __init__(self, base_url: str, api_key: str, out: Path, *, unfinished: bool, work: Path) -> None:
        code = old_code(work / "code")
        png = work / "first_frame.png"
        png.write_bytes(first_frame_png())
        env = {**os.environ, "PYTHONPATH": str(code)}
        env.pop("SEEDANCE_OUTPUT_DIR", None)
        args = [base_url, api_key, str(out), str(png), "yes" if unfinished else "no"]
        self.child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, *args],
            cwd=work,  # not the project: the old package must come from PYTHONPATH
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def expect(self, word: str) -> str:
        assert self.child.stdout is not None
        line = self.child.stdout.readline().strip()
        assert line.startswith(word), f"the old release's child said {line!r}, expected {word!r}"
        return line

    def go_on(self) -> None:
        assert self.child.stdin is not None
        self.child.stdin.write("go\n")
        self.child.stdin.flush()

    def finish(self, timeout: float = 60.0) -> None:
        self.child.wait(timeout)
        for stream in (self.child.stdin, self.child.stdout):
            if stream is not None:
                stream.close()
        assert self.child.returncode == 0, f"the old release's child exited with {self.child.returncode}"


def records(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines() if line.strip()]


def _write_fixture() -> None:
    """Make the committed copy again (needs the git history and the emulator)."""
    from seedance_widgets.emulator import Emulator, EmulatorConfig

    with tempfile.TemporaryDirectory() as tmp, Emulator(EmulatorConfig(speed=20.0)) as emu:
        work = Path(tmp)
        out = work / "seedance_outputs"
        run = OldRun(emu.base_url, emu.api_key, out, unfinished=False, work=work)
        run.expect("done")
        run.finish()
        shutil.rmtree(FIXTURE, ignore_errors=True)
        shutil.copytree(out, FIXTURE, ignore=shutil.ignore_patterns(".owners"))
    print(
        f"wrote {FIXTURE}: {sorted(str(p.relative_to(FIXTURE)) for p in FIXTURE.rglob('*') if p.is_file())}"
    )


if __name__ == "__main__":
    _write_fixture()
