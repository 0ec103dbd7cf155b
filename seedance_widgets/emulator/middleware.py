"""Counting and fault injection around the emulator's routes (a plain ASGI middleware).

Faults that answer instead of the gateway (402/429/500/503) skip the route, so no
task is made. ``reset`` and ``hang`` run the route first, so a create that is reset
or left hanging has made its task: exactly the case the client must not re-send.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import netfaults, ratelimit
from .ark_routes import TASKS_PATH as ARK_TASKS_PATH
from .ark_routes import ark_fault_body, is_ark_path
from .config import KINDS
from .state import EmulatorState

#: Longest wait for uvicorn to notice a connection we dropped.
DISCONNECT_WAIT = 5.0
PATHSEND = "http.response.pathsend"

_STATUS_ERRORS: dict[str, tuple[int, str, str]] = {
    "402": (402, "Insufficient quota: your balance is exhausted", "insufficient_quota"),
    "429": (429, "Rate limit exceeded, please slow down", "rate_limit_exceeded"),
    "500": (500, "Internal server error", "internal_error"),
    "503": (503, "Service temporarily unavailable, please retry later", "service_unavailable"),
}


def error_body(code: int | str, message: str, error_type: str) -> dict[str, Any]:
    """The gateway's error shape."""
    return {"error": {"code": code, "message": message, "type": error_type}}


def request_kind(method: str, path: str) -> str:
    """Which counter and fault stream a request belongs to."""
    if path.startswith("/_emulator/"):
        return "control"
    if path.startswith(ARK_TASKS_PATH):  # Ark: create, and get / list / delete as "get"
        return "create" if method == "POST" else "get"
    if path == "/v1/videos/generations" and method == "POST":
        return "create"
    if path.startswith("/v1/videos/generations/") and method == "GET":
        return "get"
    if path in ("/v1/uploads/images", "/v1/uploads/videos") and method == "POST":
        return "upload"
    if path.startswith("/files/") and method in ("GET", "HEAD"):
        return "download"
    return "other"


class FaultMiddleware:
    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state
        self.connections = netfaults.ConnectionRegistry()
        self.limiter = ratelimit.RateLimiter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: C901, PLR0912  -- one branch per fault kind; split later
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = self.state
        kind = request_kind(scope["method"], scope["path"])
        state.count_request(kind)

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                state.count_response(message["status"])
            await send(message)

        if kind not in KINDS:
            await self.app(scope, receive, counted)
            return
        extensions = scope.get("extensions") or {}
        if PATHSEND in extensions:
            # A server that sends files itself would bypass the body pacing and cutting below.
            scope = {**scope, "extensions": {k: v for k, v in extensions.items() if k != PATHSEND}}
        if state.config.latency > 0:
            await asyncio.sleep(state.config.latency)
        # The account's limiter sits in front of everything else: a refused call reaches no route.
        verdict = self.limiter.check(state.config.rate_tier, state.config.speed, _account(scope), kind)
        if verdict is not None and not verdict.allowed:
            await _rate_limited(verdict, counted)
            return
        reply: Send = counted if verdict is None else _with_headers(counted, verdict.headers())
        fault = state.draw_fault(kind)
        config = state.config
        if fault is not None:
            state.count_fault(fault)
        if fault in _STATUS_ERRORS:
            await self._error_reply(fault, reply, ark=is_ark_path(scope["path"]))
        elif fault == "reset":
            await self._reset(scope, receive, reply)
        elif fault == "hang":
            await self._hang(scope, receive, reply, config.hang_seconds)
        else:
            rate = config.slow_bytes_per_second if fault == "slow" else None
            if rate is None and kind == "download":
                rate = config.download_bytes_per_second
            out = _throttled(reply, rate) if rate else reply
            truncation = None
            has_body = scope["method"] != "HEAD"  # a HEAD reply has no body to cut or spoil
            if fault == "truncate" and has_body:
                truncation = _Truncation(out, config.truncate_fraction, self.connections.lookup(scope))
                out = truncation.send
            elif fault == "chunked_truncate" and has_body:
                out = _ChunkedCut(out, config.truncate_fraction).send
            elif fault == "broken_mp4" and has_body:
                out = _BoxSpoiler(out).send
            await self.app(scope, receive, out)
            if truncation is not None and truncation.closed:
                await _await_disconnect(receive)

    async def _error_reply(self, fault: str, send: Send, *, ark: bool = False) -> None:
        status, message, error_type = _STATUS_ERRORS[fault]
        reply = ark_fault_body(fault, self.state.config) if ark else error_body(status, message, error_type)
        body = json.dumps(reply).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if status in (429, 503):
            headers.append((b"retry-after", _seconds(self.state.config.retry_after).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _reset(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def swallow(message: Message) -> None:
            return None

        # The route runs to the end (a create makes its task); its reply is never sent.
        await self.app(scope, receive, swallow)
        transport = self.connections.lookup(scope)
        if transport is not None:
            netfaults.reset(transport)
            await _await_disconnect(receive)

    async def _hang(self, scope: Scope, receive: Receive, send: Send, seconds: float) -> None:
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        # Stop early when the client gives up: uvicorn reports the disconnect through receive().
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(_await_disconnect(receive, None), timeout=seconds)
            return
        for message in held:
            await send(message)


class _Truncation:
    """Passes the reply's head, then ``fraction`` of the promised body, then closes the connection."""

    def __init__(self, send: Send, fraction: float, transport: asyncio.Transport | None) -> None:
        self._send = send
        self._fraction = fraction
        self._transport = transport
        self._left = -1  # bytes still allowed; -1 until a Content-Length is seen
        self.closed = False

    async def send(self, message: Message) -> None:
        if self.closed:
            return  # the rest of the body goes nowhere
        if message["type"] == "http.response.start":
            length = dict(message.get("headers", [])).get(b"content-length")
            if length is not None and length.isdigit() and int(length) > 0:
                self._left = int(int(length) * self._fraction)
            await self._send(message)
            return
        if message["type"] != "http.response.body" or self._left < 0:
            await self._send(message)
            return
        body: bytes = message.get("body", b"")
        piece = body[: self._left]
        self._left -= len(piece)
        if self._left > 0 and message.get("more_body", False):
            await self._send({"type": "http.response.body", "body": piece, "more_body": True})
            return
        # Out of allowance: what Content-Length promised will never all arrive.
        if piece:
            await self._send({"type": "http.response.body", "body": piece, "more_body": True})
        self.closed = True
        if self._transport is not None:
            netfaults.close_after_flush(self._transport)


class _ChunkedCut:
    """Drops Content-Length, so h11 frames the body chunked; passes ``fraction`` of the body, then
    ends it cleanly (the terminating zero-size chunk). The connection stays usable: nothing at the
    HTTP level is wrong, the body is simply short."""

    def __init__(self, send: Send, fraction: float) -> None:
        self._send = send
        self._fraction = fraction
        self._left = -1  # bytes still allowed; -1: no Content-Length seen, pass everything
        self._ended = False

    async def send(self, message: Message) -> None:
        if self._ended:
            return  # the rest of the file goes nowhere
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            length = dict(headers).get(b"content-length")
            if length is not None and length.isdigit():
                self._left = int(int(length) * self._fraction)
                headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
            await self._send({**message, "headers": headers})
            return
        if message["type"] != "http.response.body" or self._left < 0:
            await self._send(message)
            return
        body: bytes = message.get("body", b"")
        piece = body[: self._left]
        self._left -= len(piece)
        more = self._left > 0 and message.get("more_body", False)
        self._ended = not more
        await self._send({"type": "http.response.body", "body": piece, "more_body": more})


class _BoxSpoiler:
    """Overwrites the size field of the second top-level box (the one after ``ftyp``) with 4, an
    impossible size; the length and every other byte stay as they were. A body that does not
    start like an MP4 passes untouched."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._offset = 0  # body bytes passed so far
        self._target: int | None = None  # offset of the size field to spoil, once known
        self._done = False

    async def send(self, message: Message) -> None:
        if message["type"] != "http.response.body" or self._done:
            await self._send(message)
            return
        body = bytearray(message.get("body", b""))
        if self._target is None and self._offset == 0:
            if body[4:8] != b"ftyp":
                self._done = True  # not an MP4 (an API reply): left alone
                await self._send(message)
                return
            self._target = int.from_bytes(body[:4], "big")  # the first box's size = the next box's offset
        if self._target is not None:
            start = self._target - self._offset
            for i in range(4):
                if 0 <= start + i < len(body):
                    body[start + i] = (0, 0, 0, 4)[i]
            self._done = self._offset + len(body) >= self._target + 4
        self._offset += len(body)
        await self._send({**message, "body": bytes(body)})


def _throttled(send: Send, bytes_per_second: float) -> Send:
    """Send response bodies in small pieces, paced to ``bytes_per_second``."""
    piece_size = max(1024, int(bytes_per_second / 20))

    async def throttled(message: Message) -> None:
        if message["type"] != "http.response.body":
            await send(message)
            return
        body: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        if not body:
            await send(message)
            return
        for start in range(0, len(body), piece_size):
            piece = body[start : start + piece_size]
            last = start + piece_size >= len(body)
            await send({"type": "http.response.body", "body": piece, "more_body": more or not last})
            await asyncio.sleep(len(piece) / bytes_per_second)

    return throttled


async def _await_disconnect(receive: Receive, limit: float | None = DISCONNECT_WAIT) -> None:
    """Wait until uvicorn reports the connection gone (it will not run the next request before)."""

    async def drain() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    if limit is None:
        await drain()
        return
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(drain(), timeout=limit)


def _account(scope: Scope) -> str:
    """Whose limits a call counts against: the bearer key (held only as a dict key, never shown)."""
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            return value.decode("latin-1")
    return ""


async def _rate_limited(verdict: ratelimit.Verdict, send: Send) -> None:
    """The gateway's 429: its error JSON, the X-RateLimit-* headers and Retry-After."""
    status, message, error_type = _STATUS_ERRORS["429"]
    body = json.dumps(error_body(status, message, error_type)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + verdict.headers()})
    await send({"type": "http.response.body", "body": body})


def _with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    """``send`` with ``extra`` headers added to the reply's head (whatever the route answers)."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return sending


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
