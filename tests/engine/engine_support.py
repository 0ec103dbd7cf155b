"""Helpers for the engine's promise tests: a recording loopback proxy, a child kernel, a bounded wait.

``GatewayProxy`` is a real HTTP server on 127.0.0.1 in front of the emulator. It forwards every
request, records when each one arrived (so a test can assert on the timeline of what reached the
gateway), and can hold one reply until the test lets it go, or rewrite one reply (a body the
emulator would never send: empty, without a task id, a skewed clock).
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from seedance_widgets.emulator import Emulator
from seedance_widgets.engine.clock import ManualClock

ROOT = Path(__file__).resolve().parents[2]

#: (status, headers, body) of a reply, as a rewrite sees and returns it.
Reply = tuple[int, dict[str, str], bytes]


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    """Poll ``predicate`` until true (a bounded wait on a state, not a sleep that proves nothing)."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"{what} not met within {timeout:g} s")
        time.sleep(0.01)


@contextlib.contextmanager
def driving(clock: ManualClock, step: float = 0.125, every: float = 0.125) -> Iterator[None]:
    """Move ``clock`` on by ``step`` every ``every`` real seconds while the block runs: by default
    at the pace of real time, as the emulator's tasks progress in real time. ``step`` is a binary
    fraction, so sums of steps land exactly on whole seconds."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(every):
            clock.advance(step)

    driver = threading.Thread(target=run, name="test-clock-driver", daemon=True)
    driver.start()
    try:
        yield
    finally:
        stop.set()
        driver.join(5)


def request_kind(method: str, path: str) -> str:
    if path == "/v1/videos/generations" and method == "POST":
        return "create"
    if path.startswith("/v1/videos/generations/") and method == "GET":
        return "get"
    if path == "/v1/uploads/images":
        return "upload"
    return "other"


@dataclasses.dataclass(frozen=True)
class Hit:
    """One request that reached the proxy: when it arrived and when its reply went back (monotonic
    seconds), what it was, and the status sent back."""

    at: float
    replied: float
    kind: str
    method: str
    path: str
    status: int


@dataclasses.dataclass
class Hold:
    """The next reply of a kind, held: ``arrived`` is set once the gateway has answered it (a create
    has made its task); the reply goes out only when ``release`` is set."""

    arrived: threading.Event = dataclasses.field(default_factory=threading.Event)
    release: threading.Event = dataclasses.field(default_factory=threading.Event)


class GatewayProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.hits: list[Hit] = []
        #: What stamps the hits: real monotonic seconds, or a test's ``ManualClock.monotonic``.
        self.clock: Callable[[], float] = time.monotonic
        self._lock = threading.Lock()
        self._holds: dict[str, list[Hold]] = {}
        self._rewrites: dict[str, list[Callable[[Reply], Reply]]] = {}
        self._always: dict[str, Callable[[Reply], Reply]] = {}
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy._forward(self)

            do_POST = do_GET
            do_HEAD = do_GET

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        with self._lock:
            for holds in self._holds.values():
                for hold in holds:
                    hold.release.set()
        self._server.shutdown()
        self._server.server_close()

    # ---- what the test arranges ----------------------------------------------------------
    def hold_next(self, kind: str) -> Hold:
        hold = Hold()
        with self._lock:
            self._holds.setdefault(kind, []).append(hold)
        return hold

    def rewrite_next(self, kind: str, change: Callable[[Reply], Reply]) -> None:
        with self._lock:
            self._rewrites.setdefault(kind, []).append(change)

    def rewrite_every(self, kind: str, change: Callable[[Reply], Reply]) -> None:
        with self._lock:
            self._always[kind] = change

    def kinds(self, *kinds: str) -> list[Hit]:
        with self._lock:
            return [hit for hit in self.hits if hit.kind in kinds]

    # ---- forwarding ----------------------------------------------------------------------
    def _forward(self, handler: BaseHTTPRequestHandler) -> None:
        arrived = self.clock()
        kind = request_kind(handler.command, handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in ("host", "connection")}
        upstream = http.client.HTTPConnection(*self._upstream, timeout=60)
        try:
            upstream.request(handler.command, handler.path, body=body, headers=headers)
            response = upstream.getresponse()
            reply: Reply = (
                response.status,
                dict(response.getheaders()),
                response.read(),
            )
        finally:
            upstream.close()
        with self._lock:
            hold = self._holds[kind].pop(0) if self._holds.get(kind) else None
            change = self._rewrites[kind].pop(0) if self._rewrites.get(kind) else self._always.get(kind)
        if change is not None:
            reply = change(reply)
        if hold is not None:
            hold.arrived.set()
            hold.release.wait(60)
        status, reply_headers, data = reply
        handler.send_response(status)
        for name, value in reply_headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(data)
        handler.wfile.flush()
        with self._lock:
            self.hits.append(Hit(arrived, self.clock(), kind, handler.command, handler.path, status))


def json_reply(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[Reply], Reply]:
    """A rewrite that edits a JSON reply's object (other replies pass untouched)."""

    def rewrite(reply: Reply) -> Reply:
        status, headers, body = reply
        try:
            data = json.loads(body)
        except ValueError:
            return reply
        return status, headers, json.dumps(change(data)).encode()

    return rewrite


# ---- a child kernel, to be killed -----------------------------------------------------------
_CHILD = """
import sys, time
from pathlib import Path
from seedance_widgets.api import GenerationRequest, SeedanceClient
from seedance_widgets.engine import JobManager

client = SeedanceClient(api_key={key!r}, base_url={url!r})
manager = JobManager(Path({out!r}), client=client, time_scale={scale})
for i in range({count}):
    manager.submit(GenerationRequest(prompt=f"a slow sunrise, take {{i}}", duration=4, resolution="480p"))
print("submitted", flush=True)
{tail}
"""


def spawn_child(emulator: Emulator, out: Path, count: int, tail: str) -> subprocess.Popen[str]:
    """A Python process that submits ``count`` jobs to ``emulator`` on folder ``out``, then runs ``tail``."""
    code = _CHILD.format(
        key=emulator.api_key,
        url=emulator.base_url,
        out=str(out),
        scale=emulator.config.speed,
        count=count,
        tail=tail,
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)


# ---- a read-only output folder --------------------------------------------------------------
@contextlib.contextmanager
def read_only_folder(folder: Path) -> Iterator[None]:
    """Make ``folder`` truly read-only for this process while the block runs.

    As an ordinary user, by taking the write bits away (root ignores those). As root, by
    bind-mounting the folder read-only over itself (the kernel then refuses every write with
    EROFS); when that is not allowed here, the test is skipped, saying why.
    """
    if os.geteuid() != 0:
        modes = {path: path.stat().st_mode for path in [folder, *folder.rglob("*")]}
        for path, mode in modes.items():
            path.chmod(mode & ~0o222)
        try:
            yield
        finally:
            for path, mode in sorted(modes.items(), key=lambda item: len(item[0].parts)):
                path.chmod(mode)
        return
    bind = subprocess.run(
        ["mount", "--bind", str(folder), str(folder)], capture_output=True, text=True, check=False
    )
    if bind.returncode != 0:
        pytest.skip(f"running as root and cannot bind-mount read-only here: {bind.stderr.strip()}")
    try:
        ro = subprocess.run(
            ["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True, text=True, check=False
        )
        if ro.returncode != 0:
            pytest.skip(f"running as root and cannot remount read-only here: {ro.stderr.strip()}")
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)
