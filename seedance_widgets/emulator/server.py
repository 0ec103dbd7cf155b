"""``Emulator``: the offline gateway on a real loopback socket, served by uvicorn.

In-process use runs uvicorn's event loop in a daemon thread; the CLI runs it in the
main thread (so Ctrl-C works). Either way the socket is bound before serving starts,
so ``base_url`` names the real port even when port 0 was asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import socket
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from . import netfaults
from .app import build_app
from .config import EmulatorConfig
from .state import EmulatorState

STARTUP_TIMEOUT = 20.0
BACKLOG = 2048


class _PromptServer(uvicorn.Server):
    """uvicorn's server, noticing a stop request at once rather than at its next 0.1 s tick
    (tests start and stop an emulator each; the ticks would add up)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):
            # on_tick refreshes the Date header whenever counter % 10 == 0: once a second here.
            counter = (counter + 10) % 864000
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)

    def stop_soon(self) -> None:
        """Ask the server to exit; safe from any thread and from signal handlers."""
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in the meantime
                loop.call_soon_threadsafe(wake.set)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self.stop_soon()


class Emulator:
    """The Seedance gateway, offline. ``with Emulator(EmulatorConfig(speed=20)) as emu: ...``

    ``base_url`` and ``api_key`` are what a client needs; ``stats()``, ``reset_stats()``,
    ``configure(**changes)`` and ``fail_next(kind, fault, count)`` steer it while it runs.
    """

    def __init__(self, config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._workdir = Path(tempfile.mkdtemp(prefix="seedance-emulator-"))
        # Removed on stop(), or when this object is collected or the interpreter exits.
        self._remove_workdir = weakref.finalize(self, shutil.rmtree, self._workdir, ignore_errors=True)
        self._state = EmulatorState(config or EmulatorConfig(), self._workdir)
        cfg_key = self._state.config.api_key
        # Any non-empty key is accepted unless one is configured; this one is offered to clients.
        self._api_key = cfg_key if cfg_key is not None else "emulator-" + secrets.token_hex(8)
        self._server: _PromptServer | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def __repr__(self) -> str:
        where = self.base_url if self._socket is not None else "not started"
        return f"Emulator({where}, profile={self.config.profile!r}, speed={self.config.speed:g})"

    # ---- facts ----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self._socket is None:
            raise RuntimeError("the emulator is not running: use 'with Emulator() as emu' or call start()")
        return self._state.base_url

    @property
    def api_key(self) -> str:
        """A key this emulator accepts (the configured one, if any)."""
        return self._state.config.api_key or self._api_key

    @property
    def config(self) -> EmulatorConfig:
        return self._state.config

    def stats(self) -> dict[str, Any]:
        """Request counts by kind (create, get, upload, download, control, other), plus
        ``tasks``, ``uploads``, ``renders``, ``render_cache_hits``, ``active_renders``,
        ``max_active_renders``, ``faults`` (by name) and ``responses`` (by HTTP status)."""
        return self._state.stats()

    def reset_stats(self) -> None:
        self._state.reset_stats()

    def configure(self, **changes: Any) -> EmulatorConfig:
        """Change settings while running (validated; unknown names raise ValueError)."""
        return self._state.configure(**changes)

    def fail_next(self, kind: str, fault: str, count: int = 1) -> None:
        """Make the next ``count`` requests of ``kind`` fail with ``fault``."""
        self._state.fail_next(kind, fault, count)

    def task_ids(self) -> list[str]:
        return list(self._state.tasks)

    # ---- life cycle -------------------------------------------------------------------------
    def _bind(self) -> _PromptServer:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP (not 0) so asyncio turns TCP_NODELAY on for accepted connections; without it,
        # Nagle + delayed ACK add ~40 ms to every reply on a kept-alive connection.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        # Listening now (not when uvicorn starts) lets callers connect as soon as base_url is known:
        # early connections wait in the backlog instead of being refused.
        sock.listen(BACKLOG)
        self._socket = sock
        port = sock.getsockname()[1]
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        shown = f"[{shown}]" if ":" in shown else shown
        self._state.base_url = f"http://{shown}:{port}"
        app = build_app(self._state)
        config = uvicorn.Config(
            app,
            http=netfaults.protocol_class(app.connections),
            lifespan="off",
            access_log=False,
            log_level="warning",
            backlog=BACKLOG,
            timeout_graceful_shutdown=2,
            timeout_keep_alive=30,
        )
        self._server = _PromptServer(config)
        return self._server

    def start(self) -> Emulator:
        """Serve in a background thread; returns once the socket accepts connections."""
        if self._thread is not None:
            return self
        server = self._bind()
        assert self._socket is not None
        sockets = [self._socket]
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": sockets}, name="seedance-emulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the emulator's server did not start")
            time.sleep(0.01)
        return self

    def serve_forever(self, ready: Callable[[Emulator], None] | None = None) -> None:
        """Serve in this thread until interrupted (uvicorn handles SIGINT and SIGTERM)
        or :meth:`request_stop` is called. ``ready(self)`` runs once the socket is bound:
        connections made from then on wait in the backlog until the loop accepts them."""
        server = self._bind()
        assert self._socket is not None
        if ready is not None:
            ready(self)
        try:
            server.run(sockets=[self._socket])
        finally:
            self._cleanup()

    def request_stop(self) -> None:
        """Ask the server to stop (from any thread); returns at once."""
        if self._server is not None:
            self._server.stop_soon()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop_soon()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._cleanup()

    def _cleanup(self) -> None:
        self._state.shutdown()
        if self._socket is not None:
            self._socket.close()
        self._remove_workdir()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
