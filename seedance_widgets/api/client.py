"""``SeedanceClient``: the one place that talks HTTP to the gateway.

Safety rules that shape this module:

* Reads (poll, upload, download) are retried with capped exponential backoff and
  jitter, honouring ``Retry-After``.
* A create is sent again only when the reply proves no task was made (429, or 503
  with ``Retry-After``) or the connection was never opened. Once the body may have
  reached the gateway, a lost reply raises :class:`TaskMayExistError` instead: a
  silent re-send could bill the user twice.
* The API key lives in a private holder whose repr is masked; it is only ever put
  into the ``Authorization`` header of an outgoing request, never into a message,
  a log line or an exception.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import logging
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import requests
from requests.adapters import HTTPAdapter

from .._version import __version__
from .errors import (
    APIError,
    DownloadError,
    MissingKeyError,
    RateLimitError,
    ServerError,
    TaskMayExistError,
    TransportError,
    URLExpiredError,
    ValidationError,
    error_from_response,
)
from .models import GenerationRequest, Task

log = logging.getLogger("seedance_widgets.api")

DEFAULT_BASE_URL = "https://toapis.com"
USER_AGENT = f"seedance_widgets/{__version__} (+python-requests)"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: Connect and read timeouts (seconds) for API calls. Every call has one.
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 60.0)

ProgressCallback = Callable[[int, int | None], None]


class _Secret:
    """Holds the API key; its repr and str never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<hidden>"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # never pickle the key along with a client
        raise TypeError("the API key holder cannot be pickled")


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How reads are retried: capped exponential backoff with jitter, honouring Retry-After."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    #: Random spread around each delay, as a fraction (0.25 = ±25%), so many clients don't retry in step.
    jitter: float = 0.25
    #: A Retry-After longer than this is not waited for: the error is raised instead.
    max_retry_after: float = 300.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        if retry_after is not None:
            return max(0.0, retry_after)
        base = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        spread = base * self.jitter
        return max(0.0, base + random.uniform(-spread, spread))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def sniff_image_type(head: bytes) -> str | None:
    """MIME type of an image from its first bytes (JPEG, PNG, WebP or GIF), else None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}


def is_mp4(head: bytes) -> bool:
    """True when ``head`` starts like an ISO-BMFF (MP4) file: a box whose type is ``ftyp``."""
    return len(head) >= 8 and head[4:8] == b"ftyp"


def _connection_never_opened(exc: requests.RequestException) -> bool:
    """True when a failure proves the request never left this machine."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = repr(exc.args[0]) if exc.args else ""
        return "NewConnectionError" in text or "NameResolutionError" in text
    return False


class SeedanceClient:
    """A client for the ToAPIs gateway's Seedance video API.

    ``api_key`` defaults to ``$TOAPIS_API_KEY``; ``base_url`` to ``$SEEDANCE_BASE_URL``
    or ``https://toapis.com``. One pooled ``requests.Session`` is used for every call.
    Thread-safe for concurrent calls (requests sessions are, for this use).
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        pool_size: int = 16,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("TOAPIS_API_KEY", "")
        key = key.strip()
        if not key:
            raise MissingKeyError()
        self._key = _Secret(key)
        self.base_url = (base_url or os.environ.get("SEEDANCE_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        session.headers["User-Agent"] = USER_AGENT
        self._session = session
        #: Count of HTTP requests sent, by kind (create/get/upload/download); for tests and benchmarks.
        self.request_counts: dict[str, int] = {"create": 0, "get": 0, "upload": 0, "download": 0}

    def __repr__(self) -> str:
        return f"SeedanceClient(base_url={self.base_url!r}, api_key=<hidden>)"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> SeedanceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- low level -------------------------------------------------------------------
    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key.reveal()}"}

    def _send(self, kind: str, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One HTTP exchange, with errors mapped to our hierarchy (no retries here)."""
        self.request_counts[kind] = self.request_counts.get(kind, 0) + 1
        headers = {**kwargs.pop("headers", {}), **self._auth()}
        try:
            response = self._session.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            # The exception text carries the URL but never our headers.
            raise TransportError(f"{method} {_safe(url)} failed: {type(exc).__name__}: {_exc_reason(exc)}") from exc
        log.debug("%s %s -> %s", method, _safe(url), response.status_code)
        return response

    def _raise_for(self, response: requests.Response) -> None:
        if response.status_code < 400:
            return
        try:
            body = response.json()
        except ValueError:
            body = None
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise error_from_response(response.status_code, body, retry_after, fallback_text=response.text[:300])

    def _retrying(self, kind: str, call: Callable[[], requests.Response]) -> requests.Response:
        """Run ``call`` with the read retry policy; returns a successful response."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = call()
                self._raise_for(response)
                return response
            except (RateLimitError, ServerError, TransportError) as err:
                retry_after = getattr(err, "retry_after", None)
                if attempt >= self.retry.attempts or (
                    retry_after is not None and retry_after > self.retry.max_retry_after
                ):
                    raise
                wait = self.retry.delay(attempt, retry_after)
                log.info("%s: %s; retry %d in %.1fs", kind, type(err).__name__, attempt, wait)
                self._sleep(wait)

    # ---- the API -----------------------------------------------------------------------
    def create(self, request: GenerationRequest) -> Task:
        """Create a generation task (a paid call). Returns the task as the gateway describes it.

        Raises :class:`TaskMayExistError` when the body may have reached the gateway but
        no reply came: the caller must not simply send it again.
        """
        if not isinstance(request, GenerationRequest):
            raise ValidationError("request", request, "a GenerationRequest")
        body = request.to_body()
        url = self._url("/v1/videos/generations")
        attempt = 0
        while True:
            attempt += 1
            self.request_counts["create"] += 1
            try:
                response = self._session.post(url, json=body, headers=self._auth(), timeout=self.timeout)
            except requests.RequestException as exc:
                if _connection_never_opened(exc) and attempt < self.retry.attempts:
                    self._sleep(self.retry.delay(attempt))
                    continue
                if _connection_never_opened(exc):
                    raise TransportError(
                        f"Could not connect to {self.base_url} ({_exc_reason(exc)}); nothing was sent, "
                        "so no task was created."
                    ) from exc
                raise TaskMayExistError(
                    f"The create request was sent to {self.base_url} but no reply came "
                    f"({type(exc).__name__}). The task may exist and may be billed: it was NOT sent "
                    "again, to avoid paying twice. Check the gateway's task list before retrying."
                ) from exc
            try:
                self._raise_for(response)
            except (RateLimitError, ServerError) as err:
                # Only these replies prove no task was made: 429, or 503 with Retry-After.
                proven = isinstance(err, RateLimitError) or (err.status == 503 and err.retry_after is not None)
                if (
                    not proven
                    or attempt >= self.retry.attempts
                    or (err.retry_after or 0) > self.retry.max_retry_after
                ):
                    raise
                self._sleep(self.retry.delay(attempt, err.retry_after))
                continue
            return self._task_from(response)

    def get(self, task_id: str) -> Task:
        """Poll one task (retried on 429, 5xx and network faults)."""
        if not task_id or not isinstance(task_id, str) or "/" in task_id:
            raise ValidationError("task_id", task_id, "a task id as returned by create, e.g. 'task_vid_...'")
        url = self._url(f"/v1/videos/generations/{task_id}")
        response = self._retrying("get", lambda: self._send("get", "GET", url))
        return self._task_from(response)

    def _task_from(self, response: requests.Response) -> Task:
        try:
            data = response.json()
        except ValueError as exc:
            raise APIError(
                f"the gateway replied with something that is not JSON: {response.text[:200]!r}",
                status=response.status_code,
            ) from exc
        task = Task.from_json(data)
        if not task.id:
            raise APIError("the gateway's reply has no task id", status=response.status_code)
        return task

    def upload_image(
        self, source: str | os.PathLike[str] | bytes | IO[bytes], *, filename: str | None = None
    ) -> str:
        """Upload a local image (path, bytes or binary file) and return its URL on the gateway.

        The type (JPEG, PNG, WebP, GIF) is checked from the content and the 10 MB limit
        before anything is sent.
        """
        data, name = _read_image(source, filename)
        mime = sniff_image_type(data[:16])
        if mime is None:
            raise ValidationError(
                "image", name, "a JPEG, PNG, WebP or GIF image", f"{name} is not a JPEG, PNG, WebP or GIF image"
            )
        if not name.lower().endswith("." + _EXTENSIONS[mime]) and "." not in name:
            name = f"{name}.{_EXTENSIONS[mime]}"
        url = self._url("/v1/uploads/images")

        def call() -> requests.Response:
            return self._send(
                "upload", "POST", url, files={"file": (name, data, mime)}, data={"purpose": "generation"}
            )

        response = self._retrying("upload", call)
        try:
            reply = response.json()
        except ValueError as exc:
            raise APIError("the upload reply is not JSON", status=response.status_code) from exc
        if isinstance(reply, dict) and reply.get("success") is False:
            raise error_from_response(400, reply)
        inner = reply.get("data") if isinstance(reply, dict) else None
        found = (inner or {}).get("url") if isinstance(inner, dict) else None
        found = found or (reply.get("url") if isinstance(reply, dict) else None)
        if not isinstance(found, str) or not found:
            raise APIError("the upload reply has no URL", status=response.status_code)
        return found

    def download(
        self,
        url: str,
        dest: str | os.PathLike[str],
        *,
        progress: ProgressCallback | None = None,
        chunk_size: int = 1 << 20,
    ) -> Path:
        """Stream ``url`` to ``dest``: a temporary file, checked, then renamed into place.

        Checks: the byte count equals ``Content-Length`` (when sent) and the file starts
        like an MP4. A half file never appears at ``dest``. Retried with backoff on
        network faults and 5xx; 404/410 raise :class:`URLExpiredError` at once.
        """
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._download_once(url, dest, progress, chunk_size)
            except (TransportError, ServerError, RateLimitError, DownloadError) as err:
                if isinstance(err, URLExpiredError) or attempt >= self.retry.attempts:
                    raise
                if isinstance(err, DownloadError) and "not an MP4" in str(err):
                    raise
                wait = self.retry.delay(attempt, getattr(err, "retry_after", None))
                log.info("download: %s; retry %d in %.1fs", type(err).__name__, attempt, wait)
                self._sleep(wait)

    def _download_once(
        self, url: str, dest: Path, progress: ProgressCallback | None, chunk_size: int
    ) -> Path:
        self.request_counts["download"] += 1
        # Our own emulator and the gateway's file host both get the key only if same origin.
        headers = self._auth() if url.startswith(self.base_url + "/") else {}
        try:
            response = self._session.get(url, stream=True, timeout=self.timeout, headers=headers)
        except requests.RequestException as exc:
            raise TransportError(f"download of {_safe(url)} failed: {_exc_reason(exc)}") from exc
        with contextlib.closing(response):
            if response.status_code in (404, 410):
                raise URLExpiredError(
                    f"The video URL no longer answers (HTTP {response.status_code}): the gateway's copy has "
                    "expired. Only a new (paid) task can make it again."
                )
            self._raise_for(response)
            expected = response.headers.get("Content-Length")
            total = int(expected) if expected and expected.isdigit() else None
            fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
            tmp = Path(tmp_name)
            received = 0
            head = b""
            try:
                with os.fdopen(fd, "wb") as out:
                    for chunk in _iter_chunks(response, chunk_size, url):
                        if len(head) < 8:
                            head += chunk[: 8 - len(head)]
                        out.write(chunk)
                        received += len(chunk)
                        if progress is not None:
                            progress(received, total)
                    out.flush()
                    os.fsync(out.fileno())
                if total is not None and received != total:
                    raise DownloadError(
                        f"download of {_safe(url)} was truncated: {received} of {total} bytes arrived"
                    )
                if not is_mp4(head):
                    raise DownloadError(f"download of {_safe(url)} is not an MP4 file (no 'ftyp' box)")
                os.replace(tmp, dest)
            except BaseException:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                raise
        return dest


def _iter_chunks(response: requests.Response, chunk_size: int, url: str) -> Iterator[bytes]:
    try:
        for chunk in response.iter_content(chunk_size=chunk_size):
            if chunk:
                yield chunk
    except requests.RequestException as exc:
        raise TransportError(f"download of {_safe(url)} broke off: {_exc_reason(exc)}") from exc


def _read_image(source: str | os.PathLike[str] | bytes | IO[bytes], filename: str | None) -> tuple[bytes, str]:
    limit_msg = "at most 10 MB (the gateway's upload limit)"
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        name = filename or "image"
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ValidationError("image", str(path), "a path to an existing image file", f"no image file at {path}")
        size = path.stat().st_size
        if size > MAX_UPLOAD_BYTES:
            raise ValidationError("image", str(path), limit_msg, f"{path.name} is {size / 1e6:.1f} MB; {limit_msg}")
        data = path.read_bytes()
        name = filename or path.name
    elif hasattr(source, "read"):
        data = source.read(MAX_UPLOAD_BYTES + 1)
        if not isinstance(data, bytes):
            raise ValidationError("image", source, "a file opened in binary mode ('rb')")
        name = filename or Path(str(getattr(source, "name", "image"))).name
    else:
        raise ValidationError("image", source, "a path, bytes or a binary file object")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationError("image", name, limit_msg, f"{name} is larger than 10 MB; {limit_msg}")
    if not data:
        raise ValidationError("image", name, "a non-empty image", f"{name} is empty")
    return data, name


def _safe(url: str) -> str:
    """A URL for messages: without query string (signed URLs carry tokens there)."""
    return url.split("?", 1)[0]


def _exc_reason(exc: BaseException) -> str:
    reason = str(exc)
    return reason if len(reason) < 300 else reason[:297] + "..."

