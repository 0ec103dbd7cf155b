"""The gateway's protocol: the model catalogue, request and task models, errors, and the HTTP client.

This layer has no threads, no IPython and no widgets; everything else builds on it.
"""

from typing import TYPE_CHECKING

from .catalog import DEFAULT_MODEL, MODELS, ModelSpec, models_allowing, spec_for
from .errors import (
    APIError,
    AuthenticationError,
    BadReplyError,
    BadRequestError,
    ContentPolicyError,
    DownloadError,
    InvalidKeyError,
    MissingKeyError,
    NoEstimateError,
    NotFoundError,
    QuotaError,
    RateLimitError,
    SeedanceError,
    ServerError,
    TaskMayExistError,
    TransportError,
    UnsupportedError,
    URLExpiredError,
    ValidationError,
    error_from_response,
)
from .keys import MIN_KEY_CHARS
from .media import MAX_DOWNLOAD_BYTES, MAX_UPLOAD_BYTES, MAX_VIDEO_UPLOAD_BYTES, is_mp4, sniff_image_type
from .models import (
    ASPECT_RATIOS,
    AUDIO_ROLE,
    CANCELLED,
    COMPLETED,
    EXPIRED,
    FAILED,
    FPS,
    IMAGE_ROLES,
    IN_PROGRESS,
    MAX_DURATION,
    MAX_PROMPT_CHARS,
    MAX_SEED,
    MIN_DURATION,
    MODEL,
    MODEL_DEFAULT,
    OUTPUT_SIZES,
    QUEUED,
    RESOLUTIONS,
    ROLES,
    VIDEO_ROLE,
    CancelResult,
    GenerationRequest,
    ImageRole,
    MediaRole,
    Task,
    estimate_cost_usd,
    output_size,
    request_cost_usd,
    request_estimate_usd,
)
from .retry import RetryPolicy

if TYPE_CHECKING:
    from .client import DEFAULT_BASE_URL, SeedanceClient


def __getattr__(name: str) -> object:
    # The client (and with it `requests`, the bulk of this package's import time) loads on first
    # use: `import seedance_widgets` and `%load_ext` stay cheap for sessions that only look.
    if name in ("SeedanceClient", "DEFAULT_BASE_URL"):
        from . import client

        return getattr(client, name)
    raise AttributeError(f"module 'seedance_widgets.api' has no attribute {name!r}")


__all__ = [
    "APIError",
    "ASPECT_RATIOS",
    "AUDIO_ROLE",
    "AuthenticationError",
    "BadReplyError",
    "CANCELLED",
    "CancelResult",
    "EXPIRED",
    "BadRequestError",
    "COMPLETED",
    "ContentPolicyError",
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "DownloadError",
    "FAILED",
    "FPS",
    "GenerationRequest",
    "IMAGE_ROLES",
    "IN_PROGRESS",
    "ImageRole",
    "InvalidKeyError",
    "MAX_DOWNLOAD_BYTES",
    "MAX_DURATION",
    "MAX_PROMPT_CHARS",
    "MAX_SEED",
    "MAX_UPLOAD_BYTES",
    "MAX_VIDEO_UPLOAD_BYTES",
    "MIN_DURATION",
    "MIN_KEY_CHARS",
    "MODEL",
    "MODELS",
    "MODEL_DEFAULT",
    "MediaRole",
    "MissingKeyError",
    "ModelSpec",
    "NoEstimateError",
    "NotFoundError",
    "OUTPUT_SIZES",
    "QUEUED",
    "QuotaError",
    "RESOLUTIONS",
    "ROLES",
    "RateLimitError",
    "RetryPolicy",
    "SeedanceClient",
    "SeedanceError",
    "ServerError",
    "Task",
    "TaskMayExistError",
    "TransportError",
    "URLExpiredError",
    "UnsupportedError",
    "VIDEO_ROLE",
    "ValidationError",
    "error_from_response",
    "estimate_cost_usd",
    "is_mp4",
    "models_allowing",
    "output_size",
    "request_cost_usd",
    "request_estimate_usd",
    "sniff_image_type",
    "spec_for",
]
