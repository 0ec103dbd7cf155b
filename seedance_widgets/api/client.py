"""``SeedanceClient``: the one place that talks HTTP to the gateway.

Safety rules that shape this module:

* Reads (poll, upload, download) are retried with capped exponential backoff and
  jitter, honouring ``Retry-After``.
* A create is sent again only when the reply proves no task was made (429, or 503
  with ``Retry-After``) or the connection was never opened. Once the body may have
  reached the gateway, a lost reply raises :class:`TaskMayExistError` instead: a
  silent re-send could bill the user twice.
* The API key lives in a private holder whose repr is masked. It is added to a
  request only by an auth hook at send time, so no local variable of ours holds it
  in clear, and errors are raised outside the ``except`` block of the HTTP library's
  exception (whose request object carries the header), so neither a traceback, nor
  an exception chain, nor a log line can show it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urljoin, urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase

from seedance_widgets._version import __version__

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
from .media import MAX_UPLOAD_BYTES, is_mp4, mp4_problem, read_image, sniff_image_type, upload_name
from .models import GenerationRequest, Task
from .retry import RetryPolicy, parse_retry_after

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "MAX_UPLOAD_BYTES",
    "USER_AGENT",
    "ProgressCallback",
    "RetryPolicy",
    "SeedanceClient",
    "is_mp4",
    "parse_retry_after",
    "sniff_image_type",
]

log = logging.getLogger("seedance_widgets.api")

DEFAULT_BASE_URL = "https://toapis.com"
USER_AGENT = f"seedance_widgets/{__version__} (+python-requests)"
#: Connect and read timeouts (seconds) for API calls. Every call has one.
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 60.0)

ProgressCallback = Callable[[int, int | None], None]


class _Secret:
    """Holds the API key; its repr and str never show it, and it refuses to be pickled."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

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


def _load_key(given: str | None) -> _Secret:
    """The key from ``given`` or ``$TOAPIS_API_KEY``, wrapped at once (whitespace stripped)."""
    key = given if given is not None else os.environ.get("TOAPIS_API_KEY", "")
    secret = _Secret(key.strip()) if isinstance(key, str) and key.strip() else None
    del given, key  # not in this frame's locals when the error below is shown
    if secret is None:
        raise MissingKeyError()
    return secret


def _nothing_sent(exc: requests.RequestException) -> bool:
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


class SeedanceClient:
    """A client for the ToAPIs gateway's Seedance video API.

    ``api_key`` defaults to ``$TOAPIS_API_KEY``; ``base_url`` to ``$SEEDANCE_BASE_URL``
    or ``https://toapis.com``. One pooled ``requests.Session`` is used for every call,
    each with a timeout (``timeout``: seconds, or a (connect, read) pair). ``sleep``
    is what waits between retries (tests pass one that records the delays).
    Thread-safe for concurrent calls.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        pool_size: int = 16,
    ) -> None:
        try:
            self._key = _load_key(api_key)
        finally:
            # Any error's traceback passes through this frame: its locals must not hold the key.
            del api_key
        self._bearer = _BearerAuth(self._key)
        base = (base_url or os.environ.get("SEEDANCE_BASE_URL") or DEFAULT_BASE_URL).strip().rstrip("/")
        if urlsplit(base).scheme not in ("http", "https") or not urlsplit(base).netloc:
            raise ValidationError("base_url", base, "an http(s) URL such as https://toapis.com")
        self.base_url = base
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

    # ---- low level -------------------------------------------------------------------
    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _redact(self, text: str) -> str:
        """``text`` with the key masked: a misbehaving server or proxy might echo our headers."""
        return text.replace(self._key.reveal(), "<hidden>")

    def _send(
        self, kind: str, method: str, url: str, *, auth: bool = True, **kwargs: Any
    ) -> requests.Response:
        """One HTTP exchange with a timeout; network failures become :class:`TransportError`."""
        self.request_counts[kind] = self.request_counts.get(kind, 0) + 1
        failure: requests.RequestException | None = None
        try:
            response = self._session.request(
                method, url, auth=self._bearer if auth else None, timeout=self.timeout, **kwargs
            )
        except requests.RequestException as exc:
            failure = exc
        if failure is not None:
            # Raised here, outside the except block, so the library's exception (whose
            # request carries the Authorization header) is not chained to ours.
            reason = self._redact(_exc_reason(failure))
            log.debug("%s %s failed: %s", method, _safe(url), type(failure).__name__)
            raise TransportError(
                f"{method} {_safe(url)} failed: {type(failure).__name__}: {reason}",
                nothing_sent=_nothing_sent(failure),
            )
        log.debug("%s %s -> %s", method, _safe(url), response.status_code)
        return response

    def _raise_for(self, response: requests.Response) -> None:
        if response.status_code < 400:
            return
        text = self._redact(response.text)
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise error_from_response(response.status_code, body, retry_after, fallback_text=text[:300])

    def _retrying(self, kind: str, call: Callable[[], requests.Response]) -> requests.Response:
        """Run ``call`` with the retry policy; returns a successful response."""
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
                log.info("%s: %s; retry %d in %.2fs", kind, type(err).__name__, attempt, wait)
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
            try:
                response = self._send("create", "POST", url, json=body)
            except TransportError as err:
                if not err.nothing_sent:
                    log.warning("create: no reply after the body was sent; not re-sending")
                    raise TaskMayExistError(
                        f"The create request was sent to {self.base_url} but no reply came ({err}). "
                        "The task may exist and may be billed: it was NOT sent again, to avoid paying "
                        "twice. Check the gateway's task list before retrying."
                    ) from err
                if attempt >= self.retry.attempts:
                    raise TransportError(
                        f"Could not connect to {self.base_url}; nothing was sent, so no task was created. "
                        f"({err})",
                        nothing_sent=True,
                    ) from err
                self._sleep(self.retry.delay(attempt))
                continue
            try:
                self._raise_for(response)
            except (RateLimitError, ServerError) as err:
                # Only these replies prove no task was made: 429, or 503 with Retry-After.
                proven = isinstance(err, RateLimitError) or (
                    err.status == 503 and err.retry_after is not None
                )
                if (
                    not proven
                    or attempt >= self.retry.attempts
                    or (err.retry_after or 0) > self.retry.max_retry_after
                ):
                    raise
                wait = self.retry.delay(attempt, err.retry_after)
                log.info("create: HTTP %s, so no task was made; retry %d in %.2fs", err.status, attempt, wait)
                self._sleep(wait)
                continue
            return self._task_from(response)

    def get(self, task_id: str) -> Task:
        """Poll one task (retried on 429, 5xx and network faults)."""
        if not isinstance(task_id, str) or not task_id.strip() or "/" in task_id:
            raise ValidationError("task_id", task_id, "a task id as returned by create, e.g. 'task_vid_...'")
        url = self._url(f"/v1/videos/generations/{quote(task_id.strip(), safe='')}")
        response = self._retrying("get", lambda: self._send("get", "GET", url))
        return self._task_from(response)

    def _task_from(self, response: requests.Response) -> Task:
        text = self._redact(response.text)
        try:
            data = json.loads(text)
        except ValueError:
            raise APIError(
                f"the gateway replied with something that is not JSON: {text[:200]!r}",
                status=response.status_code,
            ) from None
        task = Task.from_json(data)
        if not task.id:
            raise APIError("the gateway's reply has no task id", status=response.status_code)
        return task

    def upload_image(
        self, source: str | os.PathLike[str] | bytes | IO[bytes], *, filename: str | None = None
    ) -> str:
        """Upload a local image (path, bytes or binary file) and return its URL on the gateway.

        The type (JPEG, PNG, WebP, GIF) is checked from the content, and the 10 MB limit,
        before anything is sent. The file name sent gets the extension of the real type.
        """
        data, name = read_image(source, filename)
        mime = sniff_image_type(data[:16])
        if mime is None:
            allowed = "a JPEG, PNG, WebP or GIF image"
            raise ValidationError("image", name, allowed, f"{name} is not {allowed} (judged by its content)")
        name = upload_name(name, mime)
        url = self._url("/v1/uploads/images")

        def call() -> requests.Response:
            return self._send(
                "upload", "POST", url, files={"file": (name, data, mime)}, data={"purpose": "generation"}
            )

        response = self._retrying("upload", call)
        try:
            reply = json.loads(self._redact(response.text))
        except ValueError:
            raise APIError("the upload reply is not JSON", status=response.status_code) from None
        if isinstance(reply, dict) and reply.get("success") is False:
            raise error_from_response(400, reply)
        inner = reply.get("data") if isinstance(reply, dict) else None
        found = inner.get("url") if isinstance(inner, dict) else None
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
        chunk_size: int = 1 << 16,
    ) -> Path:
        """Stream ``url`` to ``dest``: a temporary file beside it, checked, then renamed into place.

        Checks: the byte count equals ``Content-Length`` (when sent), the file starts
        like an MP4 and its top-level boxes add up. A half file never appears at
        ``dest``. Network faults, 5xx, 429 and cut-off transfers are retried with
        backoff; 404/410 raise :class:`URLExpiredError` at once; a body that is not an
        MP4 raises :class:`DownloadError` at once. ``progress(received, total)`` is
        called per chunk (``total`` None when unknown).
        """
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        url = urljoin(self.base_url + "/", url)  # a relative URL is the gateway's own
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._download_once(url, dest, progress, chunk_size)
            except (TransportError, ServerError, RateLimitError, DownloadError) as err:
                retryable = err.retryable if isinstance(err, DownloadError) else True
                retry_after = getattr(err, "retry_after", None)
                if (
                    not retryable
                    or attempt >= self.retry.attempts
                    or (retry_after is not None and retry_after > self.retry.max_retry_after)
                ):
                    raise
                wait = self.retry.delay(attempt, retry_after)
                log.info("download: %s; retry %d in %.2fs", type(err).__name__, attempt, wait)
                self._sleep(wait)

    def _download_once(
        self, url: str, dest: Path, progress: ProgressCallback | None, chunk_size: int
    ) -> Path:
        # The key goes only to the gateway itself, never to a separate file host.
        same_origin = url.startswith(self.base_url + "/")
        response = self._send("download", "GET", url, auth=same_origin, stream=True)
        with contextlib.closing(response):
            if response.status_code in (404, 410):
                raise URLExpiredError(
                    f"The video URL no longer answers (HTTP {response.status_code}): the gateway's copy "
                    "has expired. Only a new (paid) task can make it again."
                )
            self._raise_for(response)
            expected = response.headers.get("Content-Length", "")
            # With a Content-Encoding the length counts compressed bytes, not the ones we write
            # (urllib3 still checks the raw length itself).
            encoded = response.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")
            total = int(expected) if expected.isdigit() and not encoded else None
            fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
            tmp = Path(tmp_name)
            try:
                received, head = self._stream_to(
                    fd, response, url, chunk_size=chunk_size, progress=progress, total=total
                )
                if total is not None and received != total:
                    raise DownloadError(
                        f"download of {_safe(url)} was truncated: {received} of {total} bytes arrived"
                    )
                if not is_mp4(head):
                    raise DownloadError(
                        f"download of {_safe(url)} is not an MP4 file (it does not start with an 'ftyp' box)",
                        retryable=False,
                    )
                problem = mp4_problem(tmp)
                if problem:
                    raise DownloadError(f"download of {_safe(url)} is not a whole MP4: {problem}")
                os.replace(tmp, dest)
            except BaseException:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                raise
        log.debug("download %s -> %s (%d bytes)", _safe(url), dest.name, received)
        return dest

    def _stream_to(
        self,
        fd: int,
        response: requests.Response,
        url: str,
        *,
        chunk_size: int,
        progress: ProgressCallback | None,
        total: int | None,
    ) -> tuple[int, bytes]:
        """Write the body into ``fd``; returns (bytes received, first 8 bytes)."""
        received = 0
        head = b""
        chunks = response.iter_content(chunk_size=chunk_size)
        with os.fdopen(fd, "wb") as out:
            while True:
                failure: requests.RequestException | None = None
                try:
                    chunk = next(chunks)
                except StopIteration:
                    break
                except requests.RequestException as exc:
                    failure = exc
                if failure is not None:
                    # Cut off mid-body: a truncated download, worth another try. Raised outside
                    # the except block so the library's error is not chained to ours.
                    expected = f"{total} bytes" if total is not None else "an unknown length"
                    raise DownloadError(
                        f"download of {_safe(url)} was truncated: the connection broke after {received} of "
                        f"{expected} ({type(failure).__name__})"
                    )
                if not chunk:
                    continue
                if len(head) < 8:
                    head += chunk[: 8 - len(head)]
                out.write(chunk)
                received += len(chunk)
                if progress is not None:
                    progress(received, total)
            out.flush()
            os.fsync(out.fileno())
        return received, head


def _safe(url: str) -> str:
    """A URL for messages: without query string (signed URLs carry tokens there)."""
    return url.split("?", 1)[0]


def _exc_reason(exc: BaseException) -> str:
    reason = str(exc)
    return reason if len(reason) < 300 else reason[:297] + "..."
