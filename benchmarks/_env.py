"""What the benchmarks need from the machine: tools, child Pythons, memory readings, an emulator.

The emulator runs in its own process so its threads and CPU time are not counted as
ours (the thread-count row would otherwise be meaningless).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class NotMeasured(Exception):
    """A part of a row is missing; the message is the reason printed in the table."""


def tool(name: str) -> str:
    """Path of a command-line tool, or NotMeasured (``make bench`` installs ffmpeg and curl)."""
    found = shutil.which(name)
    if not found:
        raise NotMeasured(f"{name} is not installed (make bench installs it with apt-get)")
    return found


def child_env(**extra: str) -> dict[str, str]:
    """Environment for child processes: ours, with the project importable.

    Bytecode caching stays on, as users have it: pip compiles a wheel's modules at install, and
    an editable install writes ``__pycache__`` on first import. A machine-wide
    ``PYTHONDONTWRITEBYTECODE`` would make every child compile our modules from source on every
    run (about 45 ms of row 8's first cached cell), which no user pays twice; the untimed warm-up
    run of each row writes the cache.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


def run_python(
    code: str, *, env: dict[str, str] | None = None, timeout: float = 600, cwd: Path | None = None
) -> Any:
    """Run ``code`` in a fresh interpreter; its last stdout line must be JSON, which is returned."""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or child_env(),
        cwd=cwd or ROOT,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        raise NotMeasured(f"child python failed (rc={proc.returncode}): {tail[:200]}")
    return json.loads(lines[-1])


# ---- memory -----------------------------------------------------------------------------
def proc_status_kb(field: str) -> int:
    """A kB field of /proc/self/status (VmRSS, VmHWM, Threads...)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def os_thread_count() -> int:
    """Native threads of this process (includes threads Python did not start)."""
    return len(os.listdir("/proc/self/task"))


# ---- the emulator, as a separate process ---------------------------------------------------
class EmulatorHandle:
    """A running emulator process: base URL, key, and its HTTP control endpoints."""

    def __init__(self, base_url: str, api_key: str, stop: Any) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self._stop = stop

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_emulator/stats")

    def configure(self, **changes: Any) -> None:
        self._call("POST", "/_emulator/config", changes)

    def reset(self) -> None:
        self._call("POST", "/_emulator/reset", {})

    def stop(self) -> None:
        self._stop()


@contextlib.contextmanager
def emulator_process(**config: Any) -> Iterator[EmulatorHandle]:
    """An emulator in a child process (``spawn_emulator`` if it exists, else the CLI)."""
    try:
        from seedance_widgets.emulator.launch import spawn_emulator
    except ImportError:
        spawn_emulator = None
    if spawn_emulator is not None:
        proc = spawn_emulator(**config)
        handle = EmulatorHandle(proc.base_url, proc.api_key, proc.stop)
    else:
        handle = _child_emulator(config)
    try:
        _wait_ready(handle)
        yield handle
    finally:
        handle.stop()


def _wait_ready(handle: EmulatorHandle, timeout: float = 30.0) -> None:
    # The child reports its port once bound, which can be a moment before it accepts
    # connections (seen as "connection refused" right after spawn_emulator returns).
    end = time.monotonic() + timeout
    while True:
        try:
            handle.stats()
            return
        except OSError as exc:
            if time.monotonic() > end:
                raise NotMeasured(f"the emulator at {handle.base_url} never answered: {exc}") from exc
            time.sleep(0.02)


_EMULATOR_CHILD = """
import json, sys, threading
from seedance_widgets.emulator import Emulator, EmulatorConfig
emu = Emulator(EmulatorConfig(**json.loads(sys.argv[1])), host="127.0.0.1", port=0)
emu.__enter__()
print(json.dumps({"base_url": emu.base_url, "api_key": emu.api_key}), flush=True)
sys.stdin.read()  # runs until the parent closes our stdin (or is gone)
emu.__exit__(None, None, None)
"""


def _child_emulator(config: dict[str, Any]) -> EmulatorHandle:
    """The in-process ``Emulator`` class, run in a child interpreter (when spawn_emulator is missing)."""
    try:
        import seedance_widgets.emulator  # noqa: F401
    except ImportError as exc:
        raise NotMeasured(f"the emulator is not there yet ({exc})") from exc
    proc = subprocess.Popen(
        [sys.executable, "-c", _EMULATOR_CHILD, json.dumps(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=child_env(),
    )
    assert proc.stdout is not None
    assert proc.stdin is not None
    line = proc.stdout.readline()
    try:
        info = json.loads(line)
    except ValueError as exc:
        proc.kill()
        raise NotMeasured(f"the emulator child printed no JSON line: {line[:100]!r}") from exc

    def stop() -> None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    return EmulatorHandle(info["base_url"], info["api_key"], stop)


def wait_until(pred: Any, timeout: float, interval: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(interval)
    return bool(pred())
