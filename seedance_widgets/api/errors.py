"""One error hierarchy for everything the protocol layer can report.

Every error reads well to a person (``str(err)``) and keeps the machine facts
(HTTP status, gateway code and type, ``retry_after``) as attributes. No error
ever holds the API key: messages are built from the gateway's reply and our own
words only, and the request headers are never attached.
"""

from __future__ import annotations

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

    def _render(self) -> str:
        label = ", ".join(str(p) for p in (f"HTTP {self.status}" if self.status else None, self.type) if p)
        text = f"{self.summary}: {self.gateway_message}" if self.gateway_message else self.summary
        return f"{text} ({label})" if label else text


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


class TransportError(SeedanceError):
    """The network failed: could not connect, timed out, or the connection was reset."""


class TaskMayExistError(TransportError):
    """A create request was sent but its reply never arrived.

    The gateway may have made (and will bill) the task. It is not sent again
    automatically: re-sending could pay twice. Look for the task before retrying.
    """


class DownloadError(SeedanceError):
    """A download arrived but is not a whole, valid MP4 (truncated, wrong type, ...)."""


class URLExpiredError(DownloadError):
    """The video URL no longer answers (HTTP 404/410): the gateway's copy has expired."""


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
            message = str(inner.get("message") or "")
            code = inner.get("code")
            err_type = inner.get("type")
            err_type = str(err_type) if err_type is not None else None
        elif isinstance(inner, str):
            message = inner
        if not message and body.get("message"):
            message = str(body["message"])
    if not message:
        message = (fallback_text or "").strip()[:300]
    if status >= 500:
        cls: type[APIError] = ServerError
    else:
        cls = STATUS_TO_ERROR.get(status, APIError)
    return cls(message, status=status, code=code, type=err_type, retry_after=retry_after)


class MissingKeyError(SeedanceError):
    """No API key was given and ``TOAPIS_API_KEY`` is not set."""

    def __init__(self) -> None:
        super().__init__(
            "No API key: set the TOAPIS_API_KEY environment variable or pass api_key=... "
            "(the key is never shown or saved by seedance_widgets)"
        )
