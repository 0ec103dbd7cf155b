"""Transport-level faults under uvicorn: reset a connection, or close it mid-body.

ASGI gives an application no handle on its socket, so the emulator serves with a
subclass of uvicorn's h11 protocol that records each connection's transport under
the client address that uvicorn also puts in ``scope["client"]``. The fault
middleware looks the transport up there and either resets it (SO_LINGER 0, then
abort: the kernel sends a TCP RST) or closes it after flushing a partial body.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Mapping
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol


class ConnectionRegistry:
    """Client address -> live transport, for the connections of one server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_client: dict[tuple[str, int], asyncio.Transport] = {}

    def add(self, client: tuple[str, int] | None, transport: asyncio.Transport) -> None:
        if client is not None:
            with self._lock:
                self._by_client[client] = transport

    def discard(self, client: tuple[str, int] | None) -> None:
        if client is not None:
            with self._lock:
                self._by_client.pop(client, None)

    def lookup(self, scope: Mapping[str, Any]) -> asyncio.Transport | None:
        client = scope.get("client")
        if not client:
            return None
        with self._lock:
            return self._by_client.get((client[0], client[1]))


def protocol_class(registry: ConnectionRegistry) -> type[H11Protocol]:
    """An h11 protocol class that reports its connections to ``registry``."""

    class RegisteringH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            registry.add(self.client, transport)

        def connection_lost(self, exc: Exception | None) -> None:
            registry.discard(self.client)
            super().connection_lost(exc)

    return RegisteringH11Protocol


def reset(transport: asyncio.Transport) -> None:
    """Drop the connection with a TCP RST: nothing buffered is sent."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass  # already gone: abort() below still drops it
    transport.abort()


def close_after_flush(transport: asyncio.Transport) -> None:
    """Close the connection once what was written so far has been sent (a clean FIN)."""
    transport.close()
