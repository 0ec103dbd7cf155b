"""Run the emulator in a child process (used when no API key is set).

The child binds a free loopback port itself (port 0: no race for a port) and reports
it on one JSON line. It watches its stdin: when this process exits, by any path, the
pipe closes and the child stops. An ``atexit`` hook also stops it politely.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

from .config import EmulatorConfig

STARTUP_TIMEOUT = 60.0


@dataclasses.dataclass
class EmulatorProcess:
    """A running emulator subprocess: ``base_url``, ``api_key`` (an emulator key) and ``stop()``."""

    base_url: str
    api_key: str = dataclasses.field(repr=False)
    process: subprocess.Popen[bytes] = dataclasses.field(repr=False)
    #: The child's time divisor (callers scale their own waits by it).
    speed: float = 1.0

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the child (idempotent): close its stdin, then terminate, then kill."""
        proc = self.process
        if proc.stdin is not None and not proc.stdin.closed:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def spawn_emulator(*, host: str = "127.0.0.1", **config: Any) -> EmulatorProcess:
    """Start ``python -m seedance_widgets.emulator`` on a free port of ``host``.

    ``config`` holds EmulatorConfig fields (checked here first, so mistakes fail fast).
    """
    settings = EmulatorConfig().replace(**config)
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    # The child must import this very package, installed or not.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    command = [
        sys.executable,
        "-m",
        "seedance_widgets.emulator",
        "--host",
        host,
        "--port",
        "0",
        "--json",
        "--exit-on-stdin-eof",
        "--config",
        json.dumps(config),
    ]
    # The child keeps its own handle on this file; ours only serves to report a failed start.
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, env=env, close_fds=True
        )
        assert proc.stdout is not None
        line = _first_line(proc.stdout, STARTUP_TIMEOUT)
        try:
            info = json.loads(line) if line else None
        except ValueError:
            info = None
        if not isinstance(info, dict) or "base_url" not in info:
            proc.kill()
            proc.wait()
            errors.seek(0)
            detail = errors.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"the emulator subprocess did not start: {detail or 'no output'}")
    child = EmulatorProcess(
        base_url=info["base_url"], api_key=info["api_key"], process=proc, speed=float(settings.speed)
    )
    atexit.register(child.stop)
    return child


def _first_line(stream: IO[bytes], timeout: float) -> str:
    """The child's first output line, or "" if none comes within ``timeout``."""
    lines: queue.Queue[bytes] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout).decode().strip()
    except queue.Empty:
        return ""
