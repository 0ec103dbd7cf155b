"""HTTP plumbing under ``SeedanceClient``: whole-call deadlines at the socket; where it may connect.

Deadlines
    ``requests`` timeouts bound each socket operation, not a call: a server that trickles
    one byte per minute (status line, headers or body) keeps a call alive for ever. The
    client's session is mounted with :class:`GuardedAdapter`, whose connections hand
    ``http.client`` a socket wrapper that, before every ``recv``/``send``, shortens the
    socket's timeout to what is left of the current call's deadline and raises
    ``TimeoutError`` once it has passed. The deadline is the one of the :class:`Call` active
    in this thread (``with call:``), so pooled connections serve calls with different
    deadlines, and a session used outside a call behaves as plain ``requests``. A call with a
    ``min_rate`` (a download) earns ``1/min_rate`` seconds per byte as each ``recv`` returns,
    so a steady transfer keeps ahead of its deadline however large the reader's chunks are.

Address policy (``address_problem``, ``url_problem``; used for video URLs)
    Only http and https. Never link-local addresses (169.254.0.0/16, fe80::/10) nor cloud
    metadata addresses (169.254.169.254, fd00:ec2::254, 100.100.100.200, ...) nor multicast,
    unspecified or reserved ones. Loopback and private addresses only when the gateway
    (the client's base URL) is itself loopback or private, as the emulator is. The check
    runs on the URL's addresses before a request, and again on the address actually
    connected to (a name that resolves differently the second time gains nothing).
"""

from __future__ import annotations

import io
import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Cloud instance-metadata services (AWS, ECS, GCP, Azure, Alibaba, Oracle): never fetched.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
METADATA_NAMES = frozenset(
    {"metadata", "metadata.google.internal", "instance-data", "instance-data.ec2.internal"}
)

_local = threading.local()


class Call:
    """One client call's limits, active in this thread inside ``with call:``.

    ``deadline`` is a ``time.monotonic()`` value (None: no limit); ``min_rate`` (bytes per
    second, None: none) moves it on by ``1/min_rate`` s for each byte received, so a transfer
    at least that fast never reaches it; ``check_peer(ip)`` returns
    why an address may not be connected to (None: allowed). The socket layer records
    ``expired`` (the deadline cut a socket operation short) and ``refused`` (the reason an
    address was refused), so the client can say what really happened.
    """

    __slots__ = ("_previous", "check_peer", "deadline", "expired", "min_rate", "refused")

    def __init__(
        self,
        deadline: float | None = None,
        check_peer: Callable[[str], str | None] | None = None,
        *,
        min_rate: float | None = None,
    ) -> None:
        self.deadline = deadline
        self.min_rate = min_rate
        self.check_peer = check_peer
        self.expired = False
        self.refused: str | None = None
        self._previous: Call | None = None

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def passed(self) -> bool:
        left = self.remaining()
        return left is not None and left <= 0

    def received(self, count: int) -> None:
        """``count`` bytes arrived: a call with a ``min_rate`` earns their time."""
        if self.min_rate is not None and self.deadline is not None:
            self.deadline += count / self.min_rate

    # A class (not a generator context manager), so no extra frame sits in a traceback.
    def __enter__(self) -> Call:
        self._previous = getattr(_local, "call", None)
        _local.call = self
        return self

    def __exit__(self, *exc: object) -> None:
        _local.call = self._previous
        self._previous = None


def current_call() -> Call | None:
    return getattr(_local, "call", None)


class _GuardedSocket:
    """A connected socket whose every blocking read and write respects the current call's deadline."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._timeout = sock.gettimeout()  # the per-operation timeout asked for
        self._applied = self._timeout  # what the socket has now (setting it costs a system call)

    def settimeout(self, value: float | None) -> None:
        self._timeout = value
        self._apply(value)

    def _apply(self, value: float | None) -> None:
        if value != self._applied:
            self._sock.settimeout(value)
            self._applied = value

    def gettimeout(self) -> float | None:
        return self._timeout

    def _arm(self) -> Call | None:
        """Set the socket timeout for one operation; returns the call when its deadline (not the
        per-operation timeout) is what bounds it, so a timeout can be blamed on the deadline."""
        call = current_call()
        left = call.remaining() if call is not None else None
        if call is None or left is None:
            self._apply(self._timeout)
            return None
        if left <= 0:
            call.expired = True
            raise TimeoutError("the call's total time limit has passed")
        if self._timeout is not None and self._timeout <= left:
            self._apply(self._timeout)
            return None
        self._apply(left)
        return call

    def _run(self, op: Callable[..., Any], *args: Any) -> Any:
        bounded_by = self._arm()
        try:
            return op(*args)
        except TimeoutError:
            if bounded_by is not None:
                bounded_by.expired = True
            raise

    def recv_into(self, *args: Any) -> int:
        count = int(self._run(self._sock.recv_into, *args))
        self._received(count)
        return count

    def recv(self, *args: Any) -> bytes:
        data = bytes(self._run(self._sock.recv, *args))
        self._received(len(data))
        return data

    def _received(self, count: int) -> None:
        call = current_call()
        if call is not None:
            call.received(count)

    def sendall(self, *args: Any) -> None:
        self._run(self._sock.sendall, *args)

    def send(self, *args: Any) -> int:
        return int(self._run(self._sock.send, *args))

    def makefile(self, mode: str = "r", buffering: int | None = None, **kwargs: Any) -> Any:
        if mode != "rb":
            return self._sock.makefile(mode, buffering, **kwargs)  # type: ignore[call-overload]
        # As socket.makefile does, but reading through this wrapper: http.client reads the
        # status line, headers and body from this file.
        raw = socket.SocketIO(self, "rb")  # type: ignore[arg-type]
        self._sock._io_refs += 1  # type: ignore[attr-defined]
        return io.BufferedReader(raw, io.DEFAULT_BUFFER_SIZE if buffering in (None, -1) else buffering)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def __repr__(self) -> str:
        return f"<guarded {self._sock!r}>"


class _GuardedConnectionMixin:
    sock: Any

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        call = current_call()
        if call is not None and call.check_peer is not None:
            try:
                peer = str(sock.getpeername()[0])
            except OSError:
                peer = ""
            problem = call.check_peer(peer)
            if problem:
                call.refused = problem
                sock.close()
                # Before a byte was sent: the client reports it as a refusal, never retried.
                raise NewConnectionError(self, f"refused to connect: {problem}")  # type: ignore[arg-type]
        return sock

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self.sock = _GuardedSocket(self.sock)


class GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


_POOLS = {"http": GuardedHTTPConnectionPool, "https": GuardedHTTPSConnectionPool}


class GuardedAdapter(HTTPAdapter):
    """``HTTPAdapter`` whose connections keep call deadlines and refuse addresses (see module doc)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if hasattr(manager, "pool_classes_by_scheme"):
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


# ---- address policy --------------------------------------------------------------------------


def _ip(text: str) -> IPAddress | None:
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone ("fe80::1%eth0")
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def address_problem(address: str, internal_ok: bool) -> str | None:
    """Why the client must not connect to ``address`` for a video (None: it may)."""
    ip = _ip(address)
    if ip is None:
        return f"{address!r} is not an IP address"
    if ip in METADATA_ADDRESSES:
        return f"{ip} is a cloud metadata address"
    if ip.is_link_local:
        return f"{ip} is a link-local address"
    if ip.is_multicast or ip.is_unspecified or (ip.is_reserved and not ip.is_loopback):
        return f"{ip} is not an ordinary host address"  # (::1 sits in the reserved ::/8)
    if not ip.is_global and not internal_ok:
        return f"{ip} is a loopback or private address, and the gateway is not on one"
    return None


def url_problem(url: str, internal_ok: bool) -> str | None:
    """Why the client must not fetch ``url`` as a video (None: it may). Resolves the host name."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return (
            f"only http and https URLs are fetched, not {parts.scheme + ':' if parts.scheme else 'this'} URL"
        )
    host = parts.hostname
    if not host:
        return "the URL has no host"
    if parts.username is not None or parts.password is not None:
        return "the URL carries a user name or password"
    if _ip(host) is not None:
        return address_problem(host, internal_ok)
    if host.rstrip(".").lower() in METADATA_NAMES:
        return f"{host} is a cloud metadata service"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "the URL's port is not a number"
    for address in _resolve(host, port):
        problem = address_problem(address, internal_ok)
        if problem:
            return f"{host} resolves to {problem}"
    return None


def _resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to ([] when it does not: the request then fails on its own)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in infos})


def host_is_internal(host: str) -> bool:
    """True when ``host`` (a base URL's) is loopback or private: then so may its videos be."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    ip = _ip(name)
    addresses = [ip] if ip is not None else [_ip(a) for a in _resolve(name, 443)]
    return any(a is not None and not a.is_global for a in addresses)
