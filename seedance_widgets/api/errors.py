"""One error hierarchy for everything the protocol layer can report.

Every error reads well to a person (``str(err)``) and keeps the machine facts
(HTTP status, gateway code and type, ``retry_after``) as attributes. No error
ever holds the API key: messages are built from the gateway's reply and our own
words only, and the request headers are never attached.
"""

from __future__ import annotations

import html
import re
from typing import Any


class SeedanceError(Exception):
    """Base class of every error raised by seedance_widgets."""


class ValidationError(SeedanceError, ValueError):
    """A request was refused locally, before any network call (so nothing was charged).

    ``field`` names the offending field, ``value`` is what was given and ``allowed``
    says what would have been accepted.
    """

    def __init__(self, field: str, value: Any, allowed: str, message: str | None = None) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        text = message or f"{field}={shown} is not allowed: {allowed}"
        super().__init__(text)

    def __reduce__(self) -> tuple[type[ValidationError], tuple[str, Any, str, str]]:
        return (type(self), (self.field, self.value, self.allowed, str(self)))


class NoEstimateError(SeedanceError, ValueError):
    """No price estimate exists for these settings (the spec lists none, or the model picks the length).

    Means "unknown", never "free": a budget check that meets one must not count the request as zero.
    """

    def __init__(self, model: str, resolution: str, duration: int, audio: bool) -> None:
        self.model = model
        self.resolution = resolution
        self.duration = duration
        self.audio = audio
        length = "a length the model picks" if duration <= 0 else f"{duration} s"
        super().__init__(
            f"no cost estimate for {model} at {resolution}, {length}, "
            f"{'with' if audio else 'without'} audio: no list price is known for these settings"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.model, self.resolution, self.duration, self.audio))


class APIError(SeedanceError):
    """The gateway answered with an HTTP error.

    Attributes: ``status`` (HTTP status), ``code`` (the gateway's code, number or
    string, may be None), ``type`` (the gateway's error type, may be None),
    ``gateway_message`` (the gateway's own words) and ``retry_after`` (seconds, or None).
    """

    #: What the status means in plain words; subclasses override it.
    summary = "The gateway refused the request"

    def __init__(
        self,
        gateway_message: str,
        *,
        status: int | None = None,
        code: str | int | None = None,
        type: str | None = None,  # noqa: A002 - mirrors the gateway's field name
        retry_after: float | None = None,
    ) -> None:
        self.gateway_message = gateway_message
        self.status = status
        self.code = code
        self.type = type
        self.retry_after = retry_after
        super().__init__(self._render())

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild from the parts (the default would feed the rendered text back in as the message).
        facts = {"status": self.status, "code": self.code, "type": self.type, "retry_after": self.retry_after}
        return (_rebuild_api_error, (type(self), self.gateway_message, facts))

    def _render(self) -> str:
        label = ", ".join(str(p) for p in (f"HTTP {self.status}" if self.status else None, self.type) if p)
        text = f"{self.summary}: {self.gateway_message}" if self.gateway_message else self.summary
        text = f"{text} ({label})" if label else text
        if self.retry_after is not None:
            text += f"; the gateway asks to wait {self.retry_after:.0f} s"
        return text


def _rebuild_api_error(cls: type[APIError], gateway_message: str, facts: dict[str, Any]) -> APIError:
    return cls(gateway_message, **facts)


class BadRequestError(APIError):
    summary = "The gateway rejected the request's parameters"


class AuthenticationError(APIError):
    summary = "Authentication failed: check TOAPIS_API_KEY"


class QuotaError(APIError):
    summary = "The account's balance is exhausted"


class NotFoundError(APIError):
    summary = "Not found"


class ContentPolicyError(APIError):
    summary = "Refused by the content policy (nothing was charged)"


class RateLimitError(APIError):
    summary = "Rate limited by the gateway"


class ServerError(APIError):
    summary = "The gateway had a server error"


class UnsupportedError(SeedanceError):
    """The provider cannot do this at all (ToAPIs has no cancel and no task list; Ark has no
    upload endpoint for videos or audio). Nothing was sent. The message names who can."""


class TransportError(SeedanceError):
    """The network failed: could not connect, timed out, or the connection was reset.

    ``nothing_sent`` is True when the failure proves the request never left this
    machine (the connection could not be opened), so repeating it is always safe.
    """

    def __init__(self, message: str, *, nothing_sent: bool = False) -> None:
        self.nothing_sent = nothing_sent
        super().__init__(message)


class BadReplyError(TransportError):
    """The gateway answered 2xx, but the reply cannot be used: empty, not JSON, not a task
    (wrong JSON types, no id or status), about another task, or larger than the client reads.

    A poll that gets one can simply poll again later; nothing about the task is known from it.
    """


class TaskMayExistError(TransportError):
    """A create request was sent but its reply never arrived.

    The gateway may have made (and will bill) the task. It is not sent again
    automatically: re-sending could pay twice. Look for the task before retrying.
    """


class DownloadError(SeedanceError):
    """A download did not give a whole, valid MP4 (truncated, broke off, not an MP4, ...).

    ``retryable`` says whether fetching the same URL again may help (a cut-off
    transfer) or not (the server sends something that is not a video).
    """

    retryable_default = True

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        self.retryable = self.retryable_default if retryable is None else retryable
        super().__init__(message)


class URLExpiredError(DownloadError):
    """The video URL no longer answers (HTTP 403/404/410): the gateway's copy has expired.

    Raised only from the gateway's own answer, never from comparing ``expires_at`` with a
    local clock (which may be wrong).
    """

    retryable_default = False


STATUS_TO_ERROR: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: QuotaError,
    404: NotFoundError,
    422: ContentPolicyError,
    429: RateLimitError,
}


def error_from_response(
    status: int, body: Any, retry_after: float | None = None, fallback_text: str = ""
) -> APIError:
    """Build the right :class:`APIError` from an HTTP status and a parsed JSON body.

    Both shapes the gateway uses are understood: ``{"error": {"code", "message", "type"}}``
    (code a number or a string) and ``{"success": false, "message": ...}``. Anything
    else falls back to ``fallback_text`` (the body as text, shortened).
    """
    message, code, err_type = "", None, None
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict):
            message = _words(inner.get("message"))
            code = _code(inner.get("code"))
            err_type = _words(inner.get("type")) or None
        elif isinstance(inner, str):
            message = _words(inner)
        message = message or _words(body.get("message"))
        code = code if code is not None else _code(body.get("code"))
        err_type = err_type or _words(body.get("type")) or None
    if not message:
        message = _plain(fallback_text or "")[:300]
    if status >= 500:
        cls: type[APIError] = ServerError
    else:
        cls = STATUS_TO_ERROR.get(status, APIError)
    return cls(message, status=status, code=code, type=err_type, retry_after=retry_after)


#: What a masked API key reads as, in gateway text (see ``keys``).
HIDDEN = "<hidden>"


def _plain(text: str) -> str:
    """A body that is not JSON, made readable: an HTML error page reduced to its words."""
    if "<" in text and ">" in text:
        kept = text.replace(HIDDEN, "\0")  # a masked key is not a tag: keep its mark
        kept = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", kept)
        text = html.unescape(re.sub(r"<[^>]*>", " ", kept)).replace("\0", HIDDEN)
    return " ".join(text.split())


#: Longest gateway message kept in an error (it ends in messages and the ledger).
MAX_MESSAGE_CHARS = 500


def _words(value: Any) -> str:
    """A message-like field as text ("" for absent or empty), shortened to MAX_MESSAGE_CHARS."""
    if value is None or isinstance(value, (dict, list)):
        return ""
    text = str(value).strip()
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 3] + "..."


def _code(value: Any) -> str | int | None:
    """The gateway's code when it is a number or a string (the two shapes it uses), else None."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        return None
    return value


class MissingKeyError(SeedanceError):
    """No API key was given and ``TOAPIS_API_KEY`` is not set."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "No API key: set the TOAPIS_API_KEY environment variable or pass api_key=... "
            "(the key is never shown or saved by seedance_widgets)"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self),))


class InvalidKeyError(MissingKeyError, ValueError):
    """The API key cannot be used: a line break, tab, space or non-ASCII character in it, or too short.

    Raised when a client is made (and by ``set_api_key``), before anything is sent. The
    message names the problem and its position (``position``, 1-based, None when the
    problem is the length) and where the key came from (``source``), never the key.
    """

    def __init__(self, problem: str, position: int | None, length: int, source: str) -> None:
        self.problem = problem
        self.position = position
        self.length = length
        self.source = source
        if position is not None:
            problem = f"{problem} at character {position} of {length}, so it cannot be sent in an HTTP header"
        super().__init__(
            f"The API key ({source}) {problem}. Copy the key again from the ToAPIs (or Ark) console as plain "
            "text (the key is not shown here)."
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.problem, self.position, self.length, self.source))
