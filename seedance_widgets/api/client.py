"""``SeedanceClient``: the one place that talks HTTP to the gateway.

Safety rules that shape this module:

Retries
    Reads (poll, upload, download) are retried with capped exponential backoff and
    jitter, honouring ``Retry-After`` up to ``RetryPolicy.max_retry_after`` (a longer one is
    raised at once, not waited). A create is sent again only when the reply proves no task
    was made (429, or 503 with ``Retry-After``) or the connection was never opened. Once
    the body may have reached the gateway, a lost, late, cut-off or unusable reply raises
    :class:`TaskMayExistError` instead: a silent re-send could bill the user twice.

Deadlines (every call has one, kept while headers and bodies stream: see ``transport``)
    ``create``/``get``/``upload_image``: ``total_timeout`` (default 120 s), retries and their
    waits included; a wait that would pass it is not started. ``download``:
    ``download_timeout`` (default 300 s) plus one second per ``download_min_rate`` bytes
    received (default 64 KiB/s), so a steady transfer of any allowed size finishes and a
    trickle stops. A create that runs out of time after its body was sent is
    :class:`TaskMayExistError`.

Sizes
    Uploads are checked before sending: images (type from content, 10 MB), videos (MP4, MOV
    or WebM from content, 50 MB). API replies are read as a stream and decoded up to
    :data:`MAX_REPLY_BYTES` (4 MiB; error bodies up to 64 KiB), so a compressed bomb costs no
    memory: a larger 2xx reply is :class:`BadReplyError` (for a create,
    :class:`TaskMayExistError`). A video may be at most ``max_download_bytes``
    (:data:`MAX_DOWNLOAD_BYTES`, 2 GiB), checked against ``Content-Length`` before anything is
    written and again while streaming; videos are asked for uncompressed and a
    ``Content-Encoding`` on one is refused (it could unpack to any size). A download goes to a
    ``.part`` file beside ``dest``, is checked (byte count against ``Content-Length``, then the
    MP4 box structure) and only then renamed; on any failure the ``.part`` is removed. A
    last-frame image (``download_image``) gets the same treatment: at most
    :data:`MAX_IMAGE_DOWNLOAD_BYTES`, PNG/JPEG/WebP by content, whole (the format's end marker
    present), then renamed.

Verdicts (the engine relies on these)
    ``create``: :class:`TaskMayExistError` for a 2xx reply that is empty, not JSON or has no
    usable task id, and for any 1xx/3xx reply. ``find_by_business_id``: the task, or None only
    when the gateway answers 404 in its own JSON error shape; any other reply it cannot read is
    raised (never taken as "no task"), so a lost create is never re-sent on a guess.
    ``get``: :class:`BadReplyError` (a :class:`TransportError`) for a 2xx reply that is empty,
    not JSON, not a task object, has no id or another task's id, or no text status; progress
    outside 0-100 is clamped.
    :class:`URLExpiredError` comes only from the gateway's answer to the video URL (403,
    404, 410), never from comparing ``expires_at`` with a clock. Task ids that are ``.`` or
    ``..``, hold ``/``, ``\\``, spaces or control characters, or pass 256 characters are
    refused before sending (:class:`ValidationError`); others are percent-quoted.

Video URLs (what the client will fetch because a gateway named it)
    http and https only; never link-local (169.254.0.0/16, fe80::/10) or cloud metadata
    addresses, multicast or unspecified ones; loopback and private addresses only when
    the base URL is itself loopback or private (so the emulator works). Checked on the
    URL's resolved addresses and again on the address connected to. Redirects are
    followed by hand, at most :data:`MAX_REDIRECTS`, each hop checked; a loop is refused at
    once. The key is sent only to the base URL's own origin.

The API key
    Checked when the client is made (``keys``): control characters, spaces, non-ASCII
    characters and keys shorter than 8 characters are refused with
    :class:`InvalidKeyError` (a :class:`MissingKeyError`), naming the problem and its
    position, never the key. It lives in a private holder whose repr is masked, and is
    added to a request only by an auth hook at send time. Every failure inside the HTTP
    library, ``KeyboardInterrupt`` included, is raised again as a fresh exception (ours,
    or a new one of the same kind for a ``BaseException``) outside the ``except`` block,
    ``from None``: no traceback, ``__cause__`` or ``__context__`` leads into the library's
    frames, which hold the request headers (IPython's verbose tracebacks print them).
    Text from the gateway is masked before it reaches a message, a log line or the
    ledger: the key in every JSON or URL encoding, and any ``Bearer`` token.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Final, TypeVar, cast
from urllib.parse import quote, urljoin, urlsplit

import requests
import urllib3.exceptions
from requests.auth import AuthBase

from seedance_widgets._version import __version__

from .catalog import MODELS, MediaRefs, ark_model_id
from .errors import (
    APIError,
    BadReplyError,
    DownloadError,
    MissingKeyError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TaskMayExistError,
    TransportError,
    UnsupportedError,
    URLExpiredError,
    ValidationError,
    error_from_response,
)
from .keys import KeyMask, checked_key
from .media import (
    MAX_DOWNLOAD_BYTES,
    MAX_IMAGE_DOWNLOAD_BYTES,
    MAX_UPLOAD_BYTES,
    _read_source,
    image_problem,
    is_mp4,
    mp4_problem,
    read_image,
    read_video,
    sniff_image_type,
    upload_name,
)
from .models import CANCELLED, QUEUED, CancelResult, GenerationRequest, Task
from .netenv import EnvironmentSettings
from .protocols import WireProtocol, ark, for_provider, toapis
from .protocols.base import CANCEL, FIND_BY_BUSINESS_ID, LIST
from .ratelimits import RateInfo
from .retry import RetryPolicy, parse_retry_after
from .transport import Call, GuardedAdapter, address_problem, host_is_internal, url_problem

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_DOWNLOAD_MIN_RATE",
    "DEFAULT_DOWNLOAD_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "DEFAULT_TOTAL_TIMEOUT",
    "MAX_DOWNLOAD_BYTES",
    "MAX_IMAGE_DOWNLOAD_BYTES",
    "MAX_REDIRECTS",
    "MAX_REPLY_BYTES",
    "MAX_UPLOAD_BYTES",
    "USER_AGENT",
    "ProgressCallback",
    "RetryPolicy",
    "SeedanceClient",
    "is_mp4",
    "parse_retry_after",
    "sniff_image_type",
    "task_id_problem",
]

log = logging.getLogger("seedance_widgets.api")
T = TypeVar("T")

DEFAULT_BASE_URL = "https://toapis.com"
USER_AGENT = f"seedance_widgets/{__version__} (+python-requests)"
#: Connect and read timeouts (seconds) for each socket operation. Every call has them.
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 60.0)
#: Wall-clock limit (seconds) of one create/get/upload call, retries and waits included.
DEFAULT_TOTAL_TIMEOUT = 120.0
#: A download's base time allowance (seconds); each byte received adds 1/download_min_rate s.
DEFAULT_DOWNLOAD_TIMEOUT = 300.0
DEFAULT_DOWNLOAD_MIN_RATE = 64 * 1024
#: Largest decoded API reply read (a task reply is a few hundred bytes).
MAX_REPLY_BYTES = 4 * 1024 * 1024
#: Largest error body read (only its first words are shown).
MAX_ERROR_BODY_BYTES = 64 * 1024
MAX_REDIRECTS = 5
MAX_TASK_ID_CHARS = 256
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: What a video URL answers once the gateway's copy is gone (403: signed URLs past their time).
EXPIRED_STATUSES = frozenset({403, 404, 410})
_READ_CHUNK = 16 * 1024
#: Bytes per read and write of a download: large, so a 200 MB video is ~200 system calls each way
#: (the time a steady transfer earns is counted at the socket, whatever this size).
DOWNLOAD_CHUNK_BYTES = 1 << 20

ProgressCallback = Callable[[int, int | None], None]


class _Secret:
    """Holds the API key and its mask; its repr and str never show it, and it refuses to be pickled."""

    __slots__ = ("_value", "mask")

    def __init__(self, value: str) -> None:
        self._value = value
        self.mask = KeyMask(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<hidden>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("the API key holder cannot be pickled")


class _BearerAuth(AuthBase):
    """Adds ``Authorization: Bearer ...`` while requests prepares the request, and nowhere else."""

    def __init__(self, secret: _Secret) -> None:
        self._secret = secret

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._secret.reveal()}"
        return request

    def __repr__(self) -> str:
        return "<bearer auth: key hidden>"


#: Where each provider's key and base URL come from when not passed.
KEY_VARIABLES = {toapis.NAME: "TOAPIS_API_KEY", ark.NAME: "ARK_API_KEY"}
BASE_URL_VARIABLES = {toapis.NAME: "SEEDANCE_BASE_URL", ark.NAME: "ARK_BASE_URL"}


def _gateway_place(region: str | None, base: str) -> tuple[str | None, str]:
    """The ToAPIs gateway has no regions; its default base URL is :data:`DEFAULT_BASE_URL`."""
    if region is not None:
        raise ValidationError("region", region, "None for the ToAPIs gateway (regions are Ark's)")
    return None, DEFAULT_BASE_URL


def _ark_place(region: str | None, base: str) -> tuple[str | None, str]:
    """An explicit region wins; else a BytePlus/Volcengine base URL says which; else Volcengine."""
    chosen = ark.check_region(region or (base and ark.region_for_base_url(base)) or None)
    return chosen, ark.ARK_BASE_URLS[chosen]


#: Each provider's (region, default base URL) from the region and base URL given (configuration).
PLACES: dict[str, Callable[[str | None, str], tuple[str | None, str]]] = {
    toapis.NAME: _gateway_place,
    ark.NAME: _ark_place,
}
#: Most bytes of local images (as ``data:`` URLs) an Ark client holds for its creates; the oldest
#: are let go past it (a create naming one then asks for the image again).
MAX_INLINE_HELD_CHARS = 256 * 1024 * 1024


def _load_key(given: str | None, variable: str = "TOAPIS_API_KEY") -> _Secret:
    """The key from ``given`` or ``$variable``, checked and wrapped at once."""
    source = "passed as api_key" if given is not None else f"from {variable}"
    raw = given if given is not None else os.environ.get(variable, "")
    del given  # not in this frame's locals when an error below is shown
    if not raw and variable != "TOAPIS_API_KEY":
        raise MissingKeyError(
            f"No API key: set the {variable} environment variable or pass api_key=... "
            "(the key is never shown or saved by seedance_widgets)"
        )
    try:
        return _Secret(checked_key(raw, source))
    finally:
        del raw


def _nothing_sent(exc: BaseException) -> bool:
    """True when a failure proves the request never left this machine."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema)):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError) and exc.args:
        reason = getattr(exc.args[0], "reason", exc.args[0])
        # NewConnectionError covers refused connections and failed name lookups.
        return isinstance(reason, urllib3.exceptions.NewConnectionError)
    return False


class _Body:
    """Bytes a gateway sent, with a repr that does not show them: they may echo the key, and
    verbose tracebacks print the variables of every frame they pass through."""

    __slots__ = ("data", "more")

    def __init__(self, data: bytes, more: bool = False) -> None:
        self.data = data
        self.more = more  # the body went on past the size read

    def __repr__(self) -> str:
        return f"<reply body: {len(self.data)} bytes{' and more, not read' if self.more else ''}>"


def _attempt(fn: Callable[[], T]) -> tuple[T | None, BaseException | None]:
    """``(fn(), None)``, or ``(None, the exception)``: whatever it is, the caller raises a fresh one."""
    try:
        return fn(), None
    except BaseException as exc:  # KeyboardInterrupt too: see the module docstring
        return None, exc


def _fresh(failure: BaseException, text: str) -> BaseException:
    """A ``BaseException`` (not an ``Exception``) to raise instead of ``failure``, with none of its frames."""
    if isinstance(failure, KeyboardInterrupt):
        return KeyboardInterrupt(text)
    # Same object, same kind (SystemExit, a test runner's timeout...), stripped of the library's frames.
    failure.__cause__ = failure.__context__ = None
    return failure.with_traceback(None)


def task_id_problem(task_id: str) -> str | None:
    """Why ``task_id`` cannot go into a URL path as one segment (None: it can, once quoted)."""
    if not task_id:
        return "is empty"
    if len(task_id) > MAX_TASK_ID_CHARS:
        return f"is longer than {MAX_TASK_ID_CHARS} characters"
    if "/" in task_id or "\\" in task_id:
        return "contains a slash"
    if task_id in (".", ".."):
        return "is a path step ('.' or '..')"
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in task_id):
        return "contains a space or a control character"
    return None


class SeedanceClient:
    """A client for the ToAPIs gateway's Seedance video API.

    ``api_key`` defaults to ``$TOAPIS_API_KEY``; ``base_url`` to ``$SEEDANCE_BASE_URL``
    or ``https://toapis.com``. One pooled ``requests.Session`` is used for every call
    (a given ``session`` gets the client's adapters mounted, which keep the deadlines).
    ``timeout`` bounds each socket operation (seconds, or a (connect, read) pair);
    ``total_timeout`` bounds a whole create/get/upload call; a download may take
    ``download_timeout`` seconds plus one per ``download_min_rate`` bytes received, and
    at most ``max_download_bytes``. ``sleep`` is what waits between retries (tests pass
    one that records the delays). Thread-safe for concurrent calls.

    ``provider="ark"`` talks to Ark (Volcengine / BytePlus) with the same safety rules: the key
    from ``$ARK_API_KEY``, the base URL from ``$ARK_BASE_URL`` or the ``region``'s
    (``ark.ARK_BASE_URLS``; a BytePlus base URL implies its region). Ark adds :meth:`cancel` and
    :meth:`list_tasks`; it has no upload endpoint, so :meth:`upload_image` checks a local image
    and returns a stand-in URL whose picture goes inside the create body as a ``data:`` URL.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
        download_timeout: float = DEFAULT_DOWNLOAD_TIMEOUT,
        download_min_rate: float = DEFAULT_DOWNLOAD_MIN_RATE,
        max_download_bytes: int = MAX_DOWNLOAD_BYTES,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        pool_size: int = 16,
        provider: str = toapis.NAME,
        region: str | None = None,
    ) -> None:
        if provider not in KEY_VARIABLES:
            raise ValidationError("provider", provider, "'toapis' or 'ark'")
        try:
            self._key = _load_key(api_key, KEY_VARIABLES[provider])
        finally:
            # Any error's traceback passes through this frame: its locals must not hold the key.
            del api_key
        self._bearer = _BearerAuth(self._key)
        self._provider = provider
        #: The provider's wire protocol: every provider fact the client needs comes from it.
        self._wire: WireProtocol = for_provider(provider)
        base = (base_url or os.environ.get(BASE_URL_VARIABLES[provider]) or "").strip().rstrip("/")
        self._region, default_base = PLACES[provider](region, base)
        base = base or default_base
        if urlsplit(base).scheme not in ("http", "https") or not urlsplit(base).netloc:
            raise ValidationError("base_url", base, "an http(s) URL such as https://toapis.com")
        self.base_url = base
        #: Ark only: local images as data: URLs by their stand-in URL (see ``upload_image``).
        self._inline: dict[str, str] = {}
        self.timeout = timeout
        for name, value in (
            ("total_timeout", total_timeout),
            ("download_timeout", download_timeout),
            ("download_min_rate", download_min_rate),
            ("max_download_bytes", max_download_bytes),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
                raise ValidationError(name, value, "a positive finite number")
        self.total_timeout = float(total_timeout)
        self.download_timeout = float(download_timeout)
        self.download_min_rate = float(download_min_rate)
        self.max_download_bytes = int(max_download_bytes)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._internal: bool | None = None  # is the gateway on a loopback/private address? (lazy)
        #: Proxies and CA bundle from the environment, looked up once per origin (netenv.py); only
        #: for the client's own session: one passed in keeps its own ``trust_env`` choice.
        self._environment: EnvironmentSettings | None = None
        if session is None:
            session = requests.Session()
            session.trust_env = False
            self._environment = EnvironmentSettings()
        adapter = GuardedAdapter(pool_connections=4, pool_maxsize=pool_size)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["User-Agent"] = USER_AGENT
        self._session = session
        #: Count of HTTP requests sent, by kind (create/get/upload/download); for tests and benchmarks.
        self.request_counts: dict[str, int] = {"create": 0, "get": 0, "upload": 0, "download": 0}
        #: The account's rate limits as the replies' X-RateLimit-* headers tell them (engine pacing).
        self.rate_info = RateInfo()

    def __repr__(self) -> str:
        # getattr: a verbose traceback of a failed __init__ shows a half-made client too.
        base = getattr(self, "base_url", None)
        region = getattr(self, "_region", None)
        if region is None:  # the default provider, which has no regions
            return f"SeedanceClient(base_url={base!r}, api_key=<hidden>)"
        where = f"provider={self._provider!r}, region={region!r}"
        return f"SeedanceClient({where}, base_url={base!r}, api_key=<hidden>)"

    # ---- what the provider can do --------------------------------------------------------
    @property
    def provider(self) -> str:
        """``"toapis"`` (the gateway) or ``"ark"`` (Volcengine / BytePlus)."""
        return self._provider

    @property
    def region(self) -> str | None:
        """Ark's region (``volcengine`` or ``bytepluses``); None for the ToAPIs gateway."""
        return self._region

    @property
    def protocol(self) -> WireProtocol:
        """The provider's wire protocol module (``protocols.for_provider(self.provider)``)."""
        return self._wire

    @property
    def can_cancel(self) -> bool:
        """Whether :meth:`cancel` can stop a queued task (Ark only)."""
        return self._wire.CAN_CANCEL

    @property
    def can_list(self) -> bool:
        """Whether :meth:`list_tasks` works (Ark only)."""
        return self._wire.CAN_LIST

    @property
    def finds_by_business_id(self) -> bool:
        """Whether a lost create can be looked up by ``client_business_id`` (ToAPIs only)."""
        return self._wire.FINDS_BY_BUSINESS_ID

    def _refuse_unsupported(self, operation: str) -> None:
        """:class:`UnsupportedError` naming the way out when the provider lacks ``operation``."""
        why = self._wire.UNSUPPORTED.get(operation)
        if why is not None:
            raise UnsupportedError(why)

    def __reduce__(self) -> Any:
        raise TypeError(
            "SeedanceClient cannot be pickled (it holds an API key and open connections); "
            "create a new client where it is needed"
        )

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> SeedanceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- helpers -----------------------------------------------------------------------
    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _redact(self, text: str) -> str:
        """``text`` with the key masked in every encoding (a misbehaving gateway may echo it)."""
        return self._key.mask(text)

    def _shown(self, url: str) -> str:
        """A URL for messages and logs: no query string (signed URLs carry tokens there), key masked."""
        return self._redact(url.split("?", 1)[0])

    def _timeouts(self) -> tuple[float, float]:
        if isinstance(self.timeout, (tuple, list)):
            return float(self.timeout[0]), float(self.timeout[1])
        return float(self.timeout), float(self.timeout)

    def _limit_text(self, kind: str) -> str:
        if kind == "download":
            return (
                f"the download's time limit ({self.download_timeout:g} s plus 1 s per "
                f"{self.download_min_rate:g} bytes received)"
            )
        return f"total_timeout={self.total_timeout:g} s"

    def _api_call(self) -> Call:
        return Call(deadline=time.monotonic() + self.total_timeout)

    def _retry_wait(self, attempt: int, retry_after: float | None, call: Call) -> float | None:
        """How long to wait before another attempt, or None when there must not be one."""
        if attempt >= self.retry.attempts:
            return None
        if retry_after is not None and retry_after > self.retry.max_retry_after:
            return None
        wait = self.retry.delay(attempt, retry_after)
        left = call.remaining()
        if left is not None and wait >= left:
            return None  # the call's deadline would pass while waiting
        return wait

    # ---- one exchange --------------------------------------------------------------------
    def _exchange(
        self, kind: str, method: str, url: str, call: Call, *, auth: bool = True, **kwargs: Any
    ) -> requests.Response:
        """Send one request within ``call`` and return once the headers are in (body unread).

        Network failures become :class:`TransportError`; see the module docstring for
        how failures inside the HTTP library are raised again.
        """
        self.request_counts[kind] = self.request_counts.get(kind, 0) + 1
        serial = self.rate_info.begin()
        connect, read = self._timeouts()
        left = call.remaining()
        if left is not None:
            if left <= 0:
                raise TransportError(
                    f"{method} {self._shown(url)} was not sent: {self._limit_text(kind)} had passed",
                    nothing_sent=True,
                )
            connect = min(connect, left)  # reads are cut short at the socket (transport)
        session, bearer = self._session, self._bearer if auth else None
        if self._environment is not None:
            kwargs.update(self._environment.for_url(url))
        with call:
            response, failure = _attempt(
                lambda: session.request(
                    method,
                    url,
                    auth=bearer,
                    timeout=(connect, read),
                    stream=True,
                    allow_redirects=False,
                    **kwargs,
                )
            )
        if failure is not None:
            error = self._translated(failure, kind, method, url, call)
            del failure  # nothing of the library's exception stays in this frame
            raise error from None
        assert response is not None
        log.debug("%s %s -> %s", method, self._shown(url), response.status_code)
        self.rate_info.note(kind, serial, response.status_code, response.headers)
        return response

    def _translated(
        self, failure: BaseException, kind: str, method: str, url: str, call: Call
    ) -> BaseException:
        """Our own error for a failure inside the HTTP library (built from words, not its objects)."""
        where = f"{method} {self._shown(url)}"
        if not isinstance(failure, Exception):
            text = f"interrupted during {where}"
            if kind == "create":
                text += (
                    ": the request may have reached the gateway, so the task may exist (and be billed); "
                    "look for it before creating it again"
                )
            return _fresh(failure, text)
        if call.refused is not None:
            return DownloadError(f"Refused to fetch {self._shown(url)}: {call.refused}.", retryable=False)
        nothing_sent = _nothing_sent(failure)
        if call.expired or call.passed():
            return TransportError(
                f"{where} did not finish within {self._limit_text(kind)}", nothing_sent=nothing_sent
            )
        reason = self._redact(_exc_reason(failure))
        log.debug("%s failed: %s", where, type(failure).__name__)
        return TransportError(
            f"{where} failed: {type(failure).__name__}: {reason}", nothing_sent=nothing_sent
        )

    def _read_body(self, response: requests.Response, call: Call, limit: int, kind: str, url: str) -> _Body:
        """The decoded body, up to ``limit`` bytes (``more`` set when it went on)."""
        chunks: list[bytes] = []
        size = 0
        stream = response.iter_content(chunk_size=_READ_CHUNK)
        while True:
            with call:
                chunk, failure = _attempt(lambda: next(stream, None))
            if failure is not None:
                error = self._translated(failure, kind, response.request.method or "GET", url, call)
                del failure
                chunks.clear()  # what arrived is not shown with the error
                raise error from None
            if chunk is None:
                return _Body(b"".join(chunks))
            size += len(chunk)
            if size > limit:
                return _Body(b"".join(chunks), more=True)
            chunks.append(chunk)

    def _raise_for_status(self, response: requests.Response, call: Call, kind: str, url: str) -> None:
        """Raise the gateway's error for a 4xx/5xx reply (its body read up to 64 KiB)."""
        status = response.status_code
        if status < 400:
            return
        try:
            body = self._read_body(response, call, MAX_ERROR_BODY_BYTES, kind, url)
        except TransportError:
            body = _Body(b"")  # the status alone says enough
        text = self._redact(body.data.decode("utf-8", errors="replace"))
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise self._error(status, self._json(body), retry_after, text[:300])

    def _error(self, status: int, body: Any, retry_after: float | None, text: str) -> APIError:
        """The provider's typed error for an error reply (Ark maps its codes, see ``ark.CODE_ERRORS``)."""
        return self._wire.error_from_reply(status, body, retry_after, fallback_text=text)

    def _reply_body(self, response: requests.Response, call: Call, kind: str, url: str) -> _Body:
        """The body of a 2xx API reply; :class:`BadReplyError` for another status or one too large."""
        self._raise_for_status(response, call, kind, url)
        status = response.status_code
        if not 200 <= status < 300:
            raise BadReplyError(f"the gateway answered {kind} with HTTP {status} instead of a reply")
        body = self._read_body(response, call, MAX_REPLY_BYTES, kind, url)
        if body.more:
            raise BadReplyError(
                f"the gateway's reply to {kind} is larger than {MAX_REPLY_BYTES} bytes; not read"
            )
        return body

    def _json(self, body: _Body) -> Any:
        """The body parsed as JSON with the key masked in every string; None when it is not JSON."""
        try:
            return self._key.mask.json(json.loads(body.data))
        except (ValueError, RecursionError):
            return None

    def _snippet(self, body: _Body) -> str:
        return repr(self._redact(body.data[:200].decode("utf-8", errors="replace")))

    def _task_from(
        self, body: _Body, expected_id: str | None, *, created: bool = False
    ) -> tuple[Task | None, str]:
        """The task a 2xx reply describes, or (None, why it cannot be used).

        ``created``: an Ark create reply, which holds only ``{"id": "cgt-..."}`` (status queued).
        """
        if not body.data.strip():
            return None, "the reply is empty"
        data = self._json(body)
        if data is None:
            return None, f"the reply is not JSON: {self._snippet(body)}"
        data = self._wire.unwrap(data)  # some gateways wrap the task: {"data": {...task...}}
        return self._task_of(data, expected_id, created=created)

    def _task_of(
        self, data: Any, expected_id: str | None, *, created: bool = False
    ) -> tuple[Task | None, str]:
        """The task a parsed reply (or list item) describes, or (None, why it cannot be used)."""
        if not isinstance(data, dict):
            return None, f"the reply is a JSON {type(data).__name__}, not a task object"
        ident = data.get("id", data.get("task_id"))
        if isinstance(ident, bool) or not isinstance(ident, (str, int)) or ident == "":
            return None, "the reply has no task id"
        ident = str(ident)
        problem = task_id_problem(ident)
        if problem:
            return None, f"the reply's task id {ident[:80]!r} {problem}"
        if expected_id is not None and ident != expected_id:
            return None, f"the reply is about task {ident[:80]!r}, not {expected_id!r}"
        acknowledged = self._wire.parse_create_reply(data) if created else None
        if acknowledged is not None:
            return acknowledged, ""  # e.g. Ark's create reply: the id alone; the task is queued
        status = data.get("status")
        if not isinstance(status, str) or not status.strip():
            kind = type(status).__name__ if status is not None else "missing"
            return None, f"the reply's status is {kind}, not text"
        if isinstance(data.get("progress"), (bool, list, dict)):
            return None, f"the reply's progress is a {type(data['progress']).__name__}, not a number"
        return self._wire.parse_task(data), ""

    # ---- the API -----------------------------------------------------------------------
    def create(
        self,
        request: GenerationRequest,
        *,
        client_business_id: str | None = None,
        execution_expires_after: int | None = None,
    ) -> Task:
        """Create a generation task (a paid call). Returns the task as the gateway describes it.

        ``client_business_id`` (the caller's own id for this intent, see
        ``toapis.check_business_id``) travels in the body, so that when the reply is lost the
        task can be looked up with :meth:`find_by_business_id` instead of being paid for twice.
        Ark has no such id: there it is checked and not sent (a lost reply is looked for with
        :meth:`list_tasks`). ``execution_expires_after`` (Ark only, 3600-259200 s; flex tasks get
        ``ark.FLEX_EXPIRES_AFTER`` when it is not given) is how long the task may stay queued.
        Raises :class:`TaskMayExistError` when the body may have reached the gateway but
        no usable reply came: the caller must not simply send it again.
        """
        if not isinstance(request, GenerationRequest):
            raise ValidationError("request", request, "a GenerationRequest")
        body = self._create_body(request, client_business_id, execution_expires_after)
        url = self._url(self._wire.CREATE_PATH)
        call = self._api_call()
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._exchange("create", "POST", url, call, json=body)
            except TransportError as err:
                if not err.nothing_sent:
                    log.warning("create: no reply after the body was sent; not re-sending")
                    raise self._may_exist(f"no usable reply came ({err})") from err
                wait = self._retry_wait(attempt, None, call)
                if wait is None:
                    raise TransportError(
                        f"Could not connect to {self.base_url}; nothing was sent, so no task was created. "
                        f"({err})",
                        nothing_sent=True,
                    ) from err
                self._sleep(wait)
                continue
            try:
                return self._as_sent(self._created(response, call, url), request)
            except (RateLimitError, ServerError) as err:
                # Only these replies prove no task was made: 429, or 503 with Retry-After.
                proven = isinstance(err, RateLimitError) or (
                    err.status == 503 and err.retry_after is not None
                )
                wait = self._retry_wait(attempt, err.retry_after, call) if proven else None
                if wait is None:
                    raise
                log.info("create: HTTP %s, so no task was made; retry %d in %.2fs", err.status, attempt, wait)
            finally:
                response.close()
            self._sleep(wait)

    def _as_sent(self, task: Task, request: GenerationRequest) -> Task:
        """The created task with what the provider's reply leaves out filled in (Ark: model, tier)."""
        return self._wire.as_sent(task, request)

    def _create_body(
        self, request: GenerationRequest, business_id: str | None, expires_after: int | None
    ) -> dict[str, Any]:
        """The provider's create body; every refusal is raised here, before anything is sent."""
        return self._wire.create_body(
            request,
            business_id=business_id,
            region=self._region,
            inline=self._inline,
            execution_expires_after=expires_after,
        )

    def _may_exist(self, what: str) -> TaskMayExistError:
        where = self._wire.LOST_TASK_HINT
        return TaskMayExistError(
            f"The create request was sent to {self.base_url} but {what}. The task may exist and may be "
            f"billed: it was NOT sent again, to avoid paying twice. Check {where} before retrying."
        )

    def _created(self, response: requests.Response, call: Call, url: str) -> Task:
        """The task a create's reply describes; APIError for a refusal, else TaskMayExistError."""
        self._raise_for_status(response, call, "create", url)
        status = response.status_code
        if not 200 <= status < 300:
            raise self._may_exist(f"the gateway answered HTTP {status} instead of a task")
        try:
            body = self._read_body(response, call, MAX_REPLY_BYTES, "create", url)
        except TransportError as err:
            raise self._may_exist(f"its reply broke off ({err})") from err
        if body.more:
            raise self._may_exist(f"its reply is larger than {MAX_REPLY_BYTES} bytes")
        task, problem = self._task_from(body, None, created=True)
        if task is None:
            raise self._may_exist(f"its reply (HTTP {status}) cannot be used: {problem}")
        return task

    def get(self, task_id: str) -> Task:
        """Poll one task (retried on 429, 5xx, network faults and unusable replies)."""
        task_id = _checked_task_id(task_id)
        url = self._task_url(task_id)
        call = self._api_call()

        def once() -> Task:
            response = self._exchange("get", "GET", url, call)
            try:
                body = self._reply_body(response, call, "get", url)
            finally:
                response.close()
            task, problem = self._task_from(body, task_id)
            if task is None:
                raise BadReplyError(f"The gateway's reply about task {task_id} cannot be used: {problem}")
            return task

        return self._retrying("get", call, once)

    def find_by_business_id(self, client_business_id: str) -> Task | None:
        """The task created with ``client_business_id``, or None when the gateway has none.

        ``GET /v1/videos/generations/{client_business_id}`` (the gateway answers its poll path for
        the caller's own id too). None only for a 404 in the gateway's JSON error shape; a reply
        about another business id, or one that cannot be read, raises (after the read retries):
        the caller must never take "unclear" for "not created". Retried like :meth:`get`.
        """
        self._refuse_unsupported(FIND_BY_BUSINESS_ID)
        wanted = toapis.check_business_id(client_business_id)
        url = self._task_url(wanted)
        call = self._api_call()

        def once() -> Task | None:
            response = self._exchange("get", "GET", url, call)
            try:
                if response.status_code == 404 and self._is_gateway_404(response, call, url):
                    return None
                body = self._reply_body(response, call, "get", url)
            finally:
                response.close()
            task, problem = self._task_from(body, None)
            if task is None:
                raise BadReplyError(
                    f"The gateway's reply about client_business_id {wanted} cannot be used: {problem}"
                )
            if task.client_business_id is not None and task.client_business_id != wanted:
                raise BadReplyError(
                    "The gateway answered about client_business_id "
                    f"{task.client_business_id[:80]!r}, not {wanted!r}"
                )
            return task

        return self._retrying("get", call, once)

    def _is_gateway_404(self, response: requests.Response, call: Call, url: str) -> bool:
        """True for a 404 whose body is the gateway's JSON error (not, say, a proxy's HTML page)."""
        try:
            body = self._read_body(response, call, MAX_ERROR_BODY_BYTES, "get", url)
        except TransportError:
            return False
        reply = self._json(body)
        if isinstance(reply, dict) and isinstance(reply.get("error"), dict):
            return True
        text = self._redact(body.data[:300].decode("utf-8", errors="replace"))
        raise error_from_response(404, reply, None, fallback_text=text)

    def _task_url(self, task_id: str) -> str:
        return self._url(self._wire.TASK_PATH.format(id=quote(task_id, safe="")))

    # ---- Ark: cancel, list, local images -------------------------------------------------
    def cancel(self, task_id: str) -> CancelResult:
        """Cancel a queued Ark task so it never runs and is never billed (``DELETE``).

        Looks first (so a finished task's record is never deleted by mistake): a queued task is
        deleted -> ``cancelled``; a running or finished one -> ``not_cancellable`` (it goes on);
        an unknown id -> ``not_found``. The ToAPIs gateway cannot cancel: :class:`UnsupportedError`.
        """
        self._refuse_unsupported(CANCEL)
        task_id = _checked_task_id(task_id)
        try:
            task = self.get(task_id)
        except NotFoundError:
            return CancelResult("not_found", f"Ark has no task {task_id}")
        if task.status == CANCELLED:
            return CancelResult("cancelled", f"task {task_id} was already cancelled at Ark: not billed")
        if task.status != QUEUED:
            return CancelResult("not_cancellable", _not_cancellable(task_id, task.status))
        return self._delete(task_id)

    def _delete(self, task_id: str) -> CancelResult:
        url = self._task_url(task_id)
        call = self._api_call()

        def once() -> CancelResult:
            response = self._exchange("cancel", "DELETE", url, call)
            try:
                self._reply_body(response, call, "cancel", url)
            finally:
                response.close()
            return CancelResult("cancelled", f"task {task_id} was cancelled at Ark before it ran: not billed")

        try:
            return self._retrying("cancel", call, once)
        except NotFoundError:
            return CancelResult("not_found", f"Ark has no task {task_id}")
        except (RateLimitError, ServerError):
            raise
        except APIError as err:
            # Ark refuses to delete a task that started running between our look and the DELETE.
            return CancelResult("not_cancellable", _not_cancellable(task_id, "running") + f" ({err})")

    def list_tasks(
        self,
        *,
        status: str | None = None,
        model: str | None = None,
        task_ids: list[str] | tuple[str, ...] | None = None,
        page_num: int = 1,
        page_size: int = 20,
    ) -> list[Task]:
        """The account's recent tasks at Ark (the last 7 days), newest first as Ark orders them.

        ``status``: ours (``queued``, ``in_progress``, ``completed``, ...) or Ark's word;
        ``model``: a catalogue id or an Ark model id; ``task_ids``: only these. Retried like
        :meth:`get`. The ToAPIs gateway has no task list: :class:`UnsupportedError`.
        """
        self._refuse_unsupported(LIST)
        params = self._list_params(status, model, task_ids, page_num, page_size)
        url = self._url(ark.TASKS_PATH)
        call = self._api_call()

        def once() -> list[Task]:
            response = self._exchange("list", "GET", url, call, params=params)
            try:
                body = self._reply_body(response, call, "list", url)
            finally:
                response.close()
            data = self._json(body)
            items = data.get("items") if isinstance(data, dict) else None
            if not isinstance(items, list):
                raise BadReplyError(f"Ark's task list reply has no 'items' list: {self._snippet(body)}")
            tasks = [self._task_of(item, None)[0] for item in items]
            return [task for task in tasks if task is not None]  # unusable items are skipped

        return self._retrying("list", call, once)

    def _list_params(
        self,
        status: str | None,
        model: str | None,
        task_ids: list[str] | tuple[str, ...] | None,
        page_num: int,
        page_size: int,
    ) -> list[tuple[str, str | int]]:
        """The list call's query (SDK ``tasks.list``: ``filter.*``, ``filter.task_ids`` repeated)."""
        for name, value, top in (("page_num", page_num, 10_000), ("page_size", page_size, ark.MAX_PAGE_SIZE)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
                raise ValidationError(name, value, f"a whole number from 1 to {top}")
        params: list[tuple[str, str | int]] = [("page_num", page_num), ("page_size", page_size)]
        if status is not None:
            word = ark.STATUS_FILTERS.get(status, status)
            if word not in ark.STATUS_MAP:
                raise ValidationError("status", status, "one of " + ", ".join(ark.STATUS_FILTERS))
            params.append(("filter.status", word))
        if model is not None:
            spec = MODELS.get(model)
            params.append(("filter.model", ark_model_id(spec, self._region) if spec else model))
        for task_id in task_ids or ():
            params.append(("filter.task_ids", _checked_task_id(task_id)))
        return params

    def _inline_image(self, source: str | os.PathLike[str] | bytes | IO[bytes], filename: str | None) -> str:
        """Ark: check a local image (type by content, Ark's inline size limit) and hold its ``data:``
        URL for the creates that name it; returns its stand-in URL (nothing is sent)."""
        limit = f"at most {ark.MAX_INLINE_IMAGE_BYTES // 2**20} MB (Ark's limit for an inline image)"
        data, name = _read_source(source, filename, "image", ark.MAX_INLINE_IMAGE_BYTES, limit)
        url = ark.data_url(data, name)
        stand_in = ark.inline_url(data)
        held = self._inline
        held.pop(stand_in, None)
        held[stand_in] = url
        while sum(len(v) for v in held.values()) > MAX_INLINE_HELD_CHARS and len(held) > 1:
            held.pop(next(iter(held)))  # the oldest goes first
        return stand_in

    def _retrying(self, kind: str, call: Call, once: Callable[[], T]) -> T:
        """Run ``once`` with the retry policy within ``call``'s deadline."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return once()
            except (RateLimitError, ServerError, TransportError) as err:
                wait = self._retry_wait(attempt, getattr(err, "retry_after", None), call)
                if wait is None:
                    raise
                log.info("%s: %s; retry %d in %.2fs", kind, type(err).__name__, attempt, wait)
            self._sleep(wait)

    def upload_image(
        self, source: str | os.PathLike[str] | bytes | IO[bytes], *, filename: str | None = None
    ) -> str:
        """Upload a local image (path, bytes or binary file) and return its URL on the gateway.

        The type (JPEG, PNG, WebP, GIF) is checked from the content, and the 10 MB limit,
        before anything is sent. The file name sent gets the extension of the real type.
        """
        if not self._wire.UPLOADS_MEDIA:
            return self._inline_image(source, filename)
        data, name = read_image(source, filename)
        mime = sniff_image_type(data[:16])
        if mime is None:
            allowed = "a JPEG, PNG, WebP or GIF image"
            raise ValidationError("image", name, allowed, f"{name} is not {allowed} (judged by its content)")
        return self._upload(toapis.UPLOAD_IMAGE_PATH, upload_name(name, mime), data, mime)

    def upload_video(
        self,
        source: str | os.PathLike[str] | bytes | IO[bytes],
        *,
        filename: str | None = None,
        refs: MediaRefs | None = None,
    ) -> str:
        """Upload a local reference video and return its URL on the gateway (``POST /v1/uploads/videos``).

        Checked before anything is sent (``media.read_video``): MP4, MOV or WebM by content, at
        most 50 MB; with ``refs`` (a spec's ``video_refs``) also the model's formats, size and
        per-clip length where the header gives it. There is no audio upload on the gateway:
        reference audio must be given as an http(s) URL.
        """
        self._wire.check_local_video(
            "video", filename or (str(source) if isinstance(source, (str, os.PathLike)) else "video")
        )
        media = read_video(source, refs=refs, filename=filename)
        return self._upload(
            toapis.UPLOAD_VIDEO_PATH, upload_name(media.name, media.mime), media.data, media.mime
        )

    def _upload(self, path: str, name: str, data: bytes, mime: str) -> str:
        """POST one file as the form field ``file``; returns the URL the gateway gives it."""
        url = self._url(path)
        call = self._api_call()

        def once() -> str:
            response = self._exchange(
                "upload",
                "POST",
                url,
                call,
                files={"file": (name, data, mime)},
                data={"purpose": "generation"},
            )
            try:
                body = self._reply_body(response, call, "upload", url)
            finally:
                response.close()
            reply = self._json(body)
            if reply is None:
                raise BadReplyError(f"the upload reply is not JSON: {self._snippet(body)}")
            if isinstance(reply, dict) and reply.get("success") is False:
                raise error_from_response(400, reply)
            inner = reply.get("data") if isinstance(reply, dict) else None
            found = inner.get("url") if isinstance(inner, dict) else None
            found = found or (reply.get("url") if isinstance(reply, dict) else None)
            if not isinstance(found, str) or not found:
                raise BadReplyError("the upload reply has no URL")
            return found

        return self._retrying("upload", call, once)

    # ---- downloads -----------------------------------------------------------------------
    def download(
        self,
        url: str,
        dest: str | os.PathLike[str],
        *,
        progress: ProgressCallback | None = None,
        chunk_size: int = DOWNLOAD_CHUNK_BYTES,
    ) -> Path:
        """Stream ``url`` to ``dest``: a temporary file beside it, checked, then renamed into place.

        Checks: the URL and every redirect against the address policy, the declared and
        the streamed size against ``max_download_bytes``, the byte count against
        ``Content-Length`` (when sent), the MP4 box structure. A half file never appears
        at ``dest``. Network faults, 5xx, 429 and cut-off transfers are retried with
        backoff within the download's time limit; 403/404/410 raise
        :class:`URLExpiredError` at once; a refused URL, an oversized or compressed body
        and a body that is not an MP4 raise :class:`DownloadError` at once.
        ``progress(received, total)`` is called per chunk (``total`` None when unknown).
        """
        return self._fetch(url, dest, _VIDEO, progress=progress, chunk_size=chunk_size)

    def download_image(
        self,
        url: str,
        dest: str | os.PathLike[str],
        *,
        progress: ProgressCallback | None = None,
        chunk_size: int = DOWNLOAD_CHUNK_BYTES,
    ) -> Path:
        """Stream a last-frame image (``Task.last_frame_url``) to ``dest``, with :meth:`download`'s safety.

        Same address policy, redirects, deadlines, retries, ``.part`` file and atomic rename;
        at most :data:`MAX_IMAGE_DOWNLOAD_BYTES`; the body must be a PNG, JPEG or WebP by its
        content and whole (its end marker present), else :class:`DownloadError`. Expired
        URLs (403/404/410) raise :class:`URLExpiredError`.
        """
        return self._fetch(url, dest, _LAST_FRAME, progress=progress, chunk_size=chunk_size)

    def _fetch(
        self,
        url: str,
        dest: str | os.PathLike[str],
        content: _Content,
        *,
        progress: ProgressCallback | None,
        chunk_size: int,
    ) -> Path:
        """Download with retries within the download's time limit (see :meth:`download`)."""
        expect = content.expect(self.max_download_bytes)
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        url = urljoin(self.base_url + "/", url)  # a relative URL is the gateway's own
        # Each byte received moves the deadline on by 1/download_min_rate s (transport.Call).
        call = Call(deadline=time.monotonic() + self.download_timeout, min_rate=self.download_min_rate)
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._download_once(url, dest, call, expect, progress=progress, chunk_size=chunk_size)
            except (TransportError, ServerError, RateLimitError, DownloadError) as err:
                retryable = err.retryable if isinstance(err, DownloadError) else True
                wait = (
                    self._retry_wait(attempt, getattr(err, "retry_after", None), call) if retryable else None
                )
                if wait is None:
                    raise
                log.info("download: %s; retry %d in %.2fs", type(err).__name__, attempt, wait)
            self._sleep(wait)

    def _gateway_is_internal(self) -> bool:
        if self._internal is None:
            self._internal = host_is_internal(urlsplit(self.base_url).hostname or "")
        return self._internal

    def _peer_problem(self, address: str) -> str | None:
        return address_problem(address, self._gateway_is_internal())

    def _same_origin(self, url: str) -> bool:
        a, b = urlsplit(url), urlsplit(self.base_url)
        try:
            return (a.scheme, a.hostname, a.port or a.scheme) == (b.scheme, b.hostname, b.port or b.scheme)
        except ValueError:  # a port that is not a number
            return False

    def _proxied(self, url: str) -> bool:
        """True when ``url`` goes through a proxy (then the address connected to is the proxy's)."""
        proxies = dict(self._session.proxies)
        if self._environment is not None:
            proxies = {**self._environment.for_url(url)["proxies"], **proxies}
        elif self._session.trust_env:
            proxies = {**requests.utils.get_environ_proxies(url), **proxies}
        return bool(requests.utils.select_proxy(url, proxies))

    def _open(self, url: str, call: Call, what: str) -> tuple[requests.Response, str]:
        """GET the file, following redirects by hand (each hop checked); returns (response, its URL)."""
        seen: set[str] = set()
        for _ in range(MAX_REDIRECTS + 1):
            problem = url_problem(url, self._gateway_is_internal())
            if problem:
                raise DownloadError(
                    f"Refused to fetch the {what} from {self._shown(url)}: {problem}.", retryable=False
                )
            call.check_peer = None if self._proxied(url) else self._peer_problem
            response = self._exchange(
                "download",
                "GET",
                url,
                call,
                auth=self._same_origin(url),
                headers={"Accept-Encoding": "identity"},
            )
            location = response.headers.get("Location")
            if response.status_code not in REDIRECT_STATUSES or not location:
                return response, url
            response.close()
            if self._redact(location) != location:
                del location  # not shown with the error
                raise DownloadError(
                    f"The {what} URL redirects to a URL holding the API key; not followed.", retryable=False
                )
            seen.add(url.split("#", 1)[0])
            url = urljoin(url, location)
            if url.split("#", 1)[0] in seen:
                raise DownloadError(
                    f"The {what} URL redirects in a loop (back to {self._shown(url)}); not followed.",
                    retryable=False,
                )
        raise DownloadError(
            f"The {what} URL redirected more than {MAX_REDIRECTS} times; not followed.", retryable=False
        )

    def _download_once(
        self,
        url: str,
        dest: Path,
        call: Call,
        expect: _Expect,
        *,
        progress: ProgressCallback | None,
        chunk_size: int,
    ) -> Path:
        response, url = self._open(url, call, expect.what)
        try:
            return self._save(
                response, url, dest, expect, call=call, progress=progress, chunk_size=chunk_size
            )
        finally:
            response.close()

    def _save(
        self,
        response: requests.Response,
        url: str,
        dest: Path,
        expect: _Expect,
        *,
        call: Call,
        progress: ProgressCallback | None,
        chunk_size: int,
    ) -> Path:
        shown = self._shown(url)
        status = response.status_code
        if status in EXPIRED_STATUSES:
            raise URLExpiredError(
                f"The {expect.what} URL no longer answers (HTTP {status}): the gateway's copy has expired. "
                "Only a new (paid) task can make it again."
            )
        self._raise_for_status(response, call, "download", url)
        if not 200 <= status < 300:
            raise DownloadError(
                f"{shown} answered HTTP {status} instead of the {expect.what}", retryable=False
            )
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
        if encoding not in ("", "identity"):
            raise DownloadError(
                f"{shown} sent the {expect.what} compressed ({encoding}) although it was asked not to; "
                "refused, since a compressed body can unpack to any size",
                retryable=False,
            )
        declared = response.headers.get("Content-Length", "").strip()
        total = int(declared) if declared.isdigit() else None
        if total is not None and total > expect.limit:
            raise DownloadError(
                f"{shown} declares {total} bytes, more than {expect.limit_name}; nothing was written",
                retryable=False,
            )
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        tmp = Path(tmp_name)
        try:
            received, head = self._stream_to(
                fd,
                response,
                url=url,
                call=call,
                chunk_size=chunk_size,
                progress=progress,
                total=total,
                expect=expect,
            )
            if total is not None and received != total:
                raise DownloadError(f"download of {shown} was truncated: {received} of {total} bytes arrived")
            problem = expect.head_problem(head)
            if problem:
                raise DownloadError(f"download of {shown} {problem}", retryable=False)
            problem = expect.file_problem(tmp)
            if problem:
                raise DownloadError(f"download of {shown} is not {expect.whole}: {problem}")
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        log.debug("download %s -> %s (%d bytes)", shown, dest.name, received)
        return dest

    def _stream_to(
        self,
        fd: int,
        response: requests.Response,
        *,
        url: str,
        call: Call,
        chunk_size: int,
        progress: ProgressCallback | None,
        total: int | None,
        expect: _Expect,
    ) -> tuple[int, bytes]:
        """Write the body into ``fd``; returns (bytes received, its first bytes)."""
        received = 0
        head = b""
        chunks = response.iter_content(chunk_size=chunk_size)
        with os.fdopen(fd, "wb") as out:
            writeback = _Writeback(fd)
            while True:
                with call:
                    chunk, failure = _attempt(lambda: next(chunks, None))
                if failure is not None:
                    error = self._cut_off(failure, url, call, received, total)
                    del failure
                    raise error from None
                if chunk is None:
                    break
                received += len(chunk)
                if received > expect.limit:
                    del chunk
                    raise DownloadError(
                        f"download of {self._shown(url)} passed {expect.limit_name}; stopped and removed",
                        retryable=False,
                    )
                if len(head) < _HEAD_BYTES:
                    head += chunk[: _HEAD_BYTES - len(head)]
                out.write(chunk)
                del chunk  # the gateway's bytes stay out of this frame's locals (see _Body)
                writeback.wrote(received)
                if progress is not None:
                    progress(received, total)
            out.flush()
            os.fsync(out.fileno())
        return received, head

    def _cut_off(
        self, failure: BaseException, url: str, call: Call, received: int, total: int | None
    ) -> BaseException:
        """The error for a body that stopped flowing: a truncated (retryable) DownloadError."""
        error = self._translated(failure, "download", "GET", url, call)
        if not isinstance(error, TransportError):
            return error  # an interrupt, or a refusal
        if call.expired or call.passed():
            return DownloadError(
                f"download of {self._shown(url)} did not finish within {self._limit_text('download')}: "
                f"{received} bytes arrived"
            )
        expected = f"{total} bytes" if total is not None else "an unknown length"
        return DownloadError(
            f"download of {self._shown(url)} was truncated: the connection broke after {received} of "
            f"{expected} ({type(failure).__name__})"
        )


#: Bytes kept from the start of a download to judge its type.
_HEAD_BYTES = 16
#: Bytes written between two starts of the disk write (see _Writeback).
_WRITEBACK_BYTES = 8 << 20
_SYNC_FILE_RANGE_WRITE = 2  # linux/fs.h: start writing the range's dirty pages, do not wait


@functools.cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """Linux's ``sync_file_range`` (the standard library has no binding), else None."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # here: only a download pays for the import

    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return cast("Callable[[int, int, int, int], int]", function)


class _Writeback:
    """Starts writing a download's finished stretches to disk while the rest streams in.

    The final ``fsync`` is still what makes the file durable before its rename; started early it
    has little left to wait for (a 200 MB file: ~75 ms less). Where ``sync_file_range`` is missing
    or refuses, this does nothing and the ``fsync`` does all the work, as before.
    """

    __slots__ = ("_fd", "_start", "_started")

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._started = 0
        self._start = _sync_file_range()

    def wrote(self, upto: int) -> None:
        """The file now holds ``upto`` bytes."""
        if self._start is None or upto - self._started < _WRITEBACK_BYTES:
            return
        if self._start(self._fd, self._started, upto - self._started, _SYNC_FILE_RANGE_WRITE) != 0:
            self._start = None
        self._started = upto


@dataclasses.dataclass(frozen=True)
class _Expect:
    """What one download must be: its name in messages, its size cap, and its content checks."""

    what: str
    limit: int
    limit_name: str
    #: Why the first bytes are not of the expected type (None: they are); the error is not retryable.
    head_problem: Callable[[bytes], str | None]
    #: Why the whole file is not whole (None: it is); retryable, as a cut transfer is.
    file_problem: Callable[[Path], str | None]
    whole: str


@dataclasses.dataclass(frozen=True)
class _Content:
    """A kind of download (a video, a last frame): everything but the client's own size cap."""

    what: str
    head_problem: Callable[[bytes], str | None]
    file_problem: Callable[[Path], str | None]
    whole: str
    #: The kind's own cap, below ``max_download_bytes`` (None: that cap alone).
    cap: int | None = None
    #: The cap as errors name it; ``{limit}`` is the cap in bytes.
    limit_name: str = "max_download_bytes={limit}"

    def expect(self, max_download_bytes: int) -> _Expect:
        limit = max_download_bytes if self.cap is None else min(self.cap, max_download_bytes)
        return _Expect(
            what=self.what,
            limit=limit,
            limit_name=self.limit_name.format(limit=limit),
            head_problem=self.head_problem,
            file_problem=self.file_problem,
            whole=self.whole,
        )


def _mp4_head_problem(head: bytes) -> str | None:
    return None if is_mp4(head) else "is not an MP4 file (it does not start with an 'ftyp' box)"


def _image_head_problem(head: bytes) -> str | None:
    if sniff_image_type(head) in ("image/png", "image/jpeg", "image/webp"):
        return None
    return "is not a PNG, JPEG or WebP image (judged by its first bytes)"


_VIDEO: Final = _Content("video", _mp4_head_problem, mp4_problem, "a whole MP4")
_LAST_FRAME: Final = _Content(
    "last-frame image",
    _image_head_problem,
    image_problem,
    "a whole image",
    cap=MAX_IMAGE_DOWNLOAD_BYTES,
    limit_name="the image cap of {limit} bytes",
)


def _not_cancellable(task_id: str, status: str) -> str:
    if status in ("in_progress", "running"):
        return f"task {task_id} is already running at Ark and cannot be cancelled: it goes on (and is billed)"
    return f"task {task_id} is {status} at Ark: there is nothing to cancel"


def _checked_task_id(task_id: Any) -> str:
    allowed = "a task id as returned by create, e.g. 'task_vid_...'"
    if not isinstance(task_id, str) or not task_id.strip():
        raise ValidationError("task_id", task_id, allowed)
    task_id = task_id.strip()
    problem = task_id_problem(task_id)
    if problem:
        shown = repr(task_id) if len(task_id) <= 80 else repr(task_id[:77] + "...")
        raise ValidationError("task_id", task_id, allowed, f"task_id={shown} {problem}; expected {allowed}")
    return task_id


def _exc_reason(exc: BaseException) -> str:
    reason = str(exc)
    return reason if len(reason) < 300 else reason[:297] + "..."
