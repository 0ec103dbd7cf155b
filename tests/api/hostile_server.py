"""A small real HTTP server on 127.0.0.1 whose replies a test scripts byte by byte.

For the shapes the emulator cannot (or should not) make: bodies that trickle or never end,
gzip bombs, both ``Transfer-Encoding`` and ``Content-Length``, redirect loops, wrong JSON
types, a key echoed back in odd encodings. Raw sockets, one thread per connection, one
request per connection (every reply says ``Connection: close``).

A handler gets the :class:`Seen` request and returns an iterable of pieces: ``bytes`` are
written as they come, a ``float`` pauses that many seconds. It stops early when the client
hangs up or the server is stopped.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

Piece = bytes | float
Handler = Callable[["Seen"], Iterable[Piece]]


@dataclasses.dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


class Hostile:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.seen: list[Seen] = []
        self.connections = 0  # accepted
        self.peers: list[str] = []  # their client addresses, in the order accepted
        self.finished = 0  # handled to the end (request read or found missing, reply sent or cut)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.05)
        self.base_url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, name="hostile-accept", daemon=True)
        self._accepting.start()

    def url(self, path: str) -> str:
        return self.base_url + path

    def connections_before_mine(self) -> int:
        """Connect once and wait until this server has accepted it; returns how many it had
        accepted before. Connections are accepted first in, first out, so a count of 0 proves
        nobody connected earlier (no waiting and hoping)."""
        with socket.create_connection(self._server.getsockname()[:2], timeout=5) as sock:
            me = str(sock.getsockname())
            wait_for(lambda: me in self.peers)
        with self._lock:
            return self.peers.index(me)

    def stop(self) -> None:
        self._stop.set()
        self._accepting.join(timeout=5)
        self._server.close()
        for thread in list(self._threads):
            thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self._server.accept()
            except OSError:
                continue
            with self._lock:
                self.connections += 1
                self.peers.append(str(peer))
            thread = threading.Thread(target=self._serve, args=(conn,), name="hostile-conn", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._exchange(conn)
        finally:
            with self._lock:
                self.finished += 1

    def _exchange(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                seen = _read_request(conn)
                if seen is None:
                    return
                with self._lock:
                    self.seen.append(seen)
                for piece in self.handler(seen):
                    if self._stop.is_set():
                        return
                    if isinstance(piece, float):
                        if self._stop.wait(piece):
                            return
                    else:
                        conn.sendall(piece)
            except OSError:
                return  # the client hung up: that is what many of these tests want


def _read_request(conn: socket.socket) -> Seen | None:
    data = b""
    while b"\r\n\r\n" not in data:
        part = conn.recv(65536)
        if not part:
            return None
        data += part
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    while len(rest) < length:
        part = conn.recv(65536)
        if not part:
            break
        rest += part
    return Seen(method, path, headers, rest[:length])


# ---- reply builders -------------------------------------------------------------------------------


def head(status: int, headers: dict[str, str] | None = None) -> bytes:
    """Status line and headers (always ``Connection: close``), up to the blank line."""
    lines = [f"HTTP/1.1 {status} X"]
    for name, value in {**(headers or {}), "Connection": "close"}.items():
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def reply(status: int, body: bytes | str | Any = b"", headers: dict[str, str] | None = None) -> list[Piece]:
    """A whole reply with Content-Length; ``body`` as bytes, text, or any value sent as JSON."""
    if isinstance(body, str):
        data = body.encode()
    elif isinstance(body, bytes):
        data = body
    else:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
    return [head(status, {**(headers or {}), "Content-Length": str(len(data))}), data]


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


LAST_CHUNK = b"0\r\n\r\n"


def trickle(data: bytes, every: float) -> Iterator[Piece]:
    """``data`` one byte at a time, ``every`` seconds apart."""
    for i in range(len(data)):
        yield data[i : i + 1]
        yield every


def gzip_bomb(members: int, member_bytes: int, fill: bytes = b" ") -> bytes:
    """A gzip stream of ``members`` members that each unpack to ``member_bytes`` of ``fill``."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = fill * (1 << 20)
    out = [packer.compress(block) for _ in range(member_bytes // len(block))]
    return (b"".join(out) + packer.flush()) * members


def trickling_forever(pause: float, prefix: bytes = b"") -> Iterator[Piece]:
    """``prefix``, then one space every ``pause`` seconds, for ever (until the client leaves)."""
    if prefix:
        yield prefix
    while True:
        yield pause
        yield b" "


def wait_for(condition: Callable[[], bool], limit: float = 10.0) -> None:
    """Wait until ``condition()`` holds (polling a recorded state), or fail."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)
