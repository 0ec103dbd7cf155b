"""The gateway's data: what a generation request may hold, and what a task reply says.

Protocol only: no network, no threads. ``GenerationRequest`` validates on
construction, so an invalid request cannot exist and cannot reach a paid call.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlparse

from .errors import ValidationError

MODEL = "doubao-seedance-1-5-pro"
ASPECT_RATIOS: tuple[str, ...] = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9")
RESOLUTIONS: tuple[str, ...] = ("480p", "720p")
MIN_DURATION, MAX_DURATION = 4, 12
DEFAULT_DURATION = 5
MIN_SEED, MAX_SEED = -1, 2**32 - 1
#: Our documented cap on prompt length (characters); the gateway publishes none,
#: and longer prompts only dilute the model's attention.
MAX_PROMPT_CHARS = 2000
MAX_IMAGE_URLS = 6
MAX_REFERENCE_IMAGES = 4
ROLES: tuple[str, ...] = ("first_frame", "last_frame", "reference_image")
FPS = 24
#: The request fields a grid sweeps and a gallery lays out by (``rows=`` / ``cols=``), in the
#: order a grid's axes are chosen for its gallery.
GRID_PARAMS: tuple[str, ...] = (
    "prompt",
    "seed",
    "duration",
    "aspect_ratio",
    "resolution",
    "audio",
    "camera_fixed",
)

#: Output sizes (width, height) of Seedance 1.5 Pro, by resolution then ratio (contract section 5).
OUTPUT_SIZES: dict[str, dict[str, tuple[int, int]]] = {
    "480p": {
        "16:9": (864, 496),
        "4:3": (752, 560),
        "1:1": (640, 640),
        "3:4": (560, 752),
        "9:16": (496, 864),
        "21:9": (992, 432),
    },
    "720p": {
        "16:9": (1280, 720),
        "4:3": (1112, 834),
        "1:1": (960, 960),
        "3:4": (834, 1112),
        "9:16": (720, 1280),
        "21:9": (1470, 630),
    },
}


def output_size(resolution: str, aspect_ratio: str) -> tuple[int, int]:
    """Width and height in pixels of a clip at ``resolution`` and ``aspect_ratio``."""
    return OUTPUT_SIZES[resolution][aspect_ratio]


def _check_http_url(field: str, url: Any) -> str:
    if not isinstance(url, str) or urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc:
        raise ValidationError(
            field,
            url,
            "an http(s) URL; upload local images first (SeedanceClient.upload_image) - "
            "the gateway no longer accepts base64 data",
        )
    return url


@dataclasses.dataclass(frozen=True)
class ImageRole:
    """One image with an explicit role (``first_frame``, ``last_frame`` or ``reference_image``)."""

    url: str
    role: str

    def __post_init__(self) -> None:
        if self.role == "reference":
            raise ValidationError(
                "image_with_roles.role",
                self.role,
                "first_frame, last_frame or reference_image",
                "image_with_roles role 'reference' is the Seedance 1.0 name; Seedance 1.5 Pro calls it "
                "'reference_image' (allowed roles: first_frame, last_frame, reference_image)",
            )
        if self.role not in ROLES:
            raise ValidationError("image_with_roles.role", self.role, "one of " + ", ".join(ROLES))
        _check_http_url("image_with_roles.url", self.url)

    def to_json(self) -> dict[str, str]:
        return {"url": self.url, "role": self.role}


def _int_field(field: str, value: Any, lo: int, hi: int, allowed: str) -> int:
    # bool is an int subclass, but True as a duration is a mistake, not 1. Text such as
    # "5" is refused too: the gateway wants a JSON number, and silently converting text
    # hides bugs in the caller. Integer-like objects (numpy ints) and whole floats
    # (5.0 from a JSON parser) are plain numbers and are accepted.
    number: int
    if isinstance(value, (bool, str, bytes)):
        raise ValidationError(field, value, allowed)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValidationError(field, value, allowed)
        number = int(value)
    else:
        try:
            number = operator.index(value)
        except TypeError:
            raise ValidationError(field, value, allowed) from None
    if not lo <= number <= hi:
        raise ValidationError(field, value, allowed)
    return number


def _bool_field(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValidationError(field, value, "true or false")


@dataclasses.dataclass(frozen=True)
class GenerationRequest:
    """Everything one ``POST /v1/videos/generations`` can ask for, validated on creation.

    ``seed=None`` leaves the seed out of the body (the gateway then picks one, as
    with ``-1``). ``image_urls`` and ``image_with_roles`` are mutually exclusive.
    """

    prompt: str
    duration: int = DEFAULT_DURATION
    aspect_ratio: str = "16:9"
    resolution: str = "720p"
    audio: bool = False
    seed: int | None = None
    camera_fixed: bool = False
    image_urls: tuple[str, ...] = ()
    image_with_roles: tuple[ImageRole, ...] = ()
    model: str = MODEL

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise in place once, here
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise ValidationError("prompt", self.prompt, "a non-empty text describing the scene")
        if len(self.prompt) > MAX_PROMPT_CHARS:
            raise ValidationError(
                "prompt",
                self.prompt,
                f"at most {MAX_PROMPT_CHARS} characters",
                f"prompt is {len(self.prompt)} characters long; at most {MAX_PROMPT_CHARS} are allowed",
            )
        if self.model != MODEL:
            raise ValidationError(
                "model", self.model, f"'{MODEL}' (this package speaks Seedance 1.5 Pro only)"
            )
        set_(
            self,
            "duration",
            _int_field(
                "duration",
                self.duration,
                MIN_DURATION,
                MAX_DURATION,
                f"an integer number of seconds from {MIN_DURATION} to {MAX_DURATION}",
            ),
        )
        if self.aspect_ratio not in ASPECT_RATIOS:
            raise ValidationError("aspect_ratio", self.aspect_ratio, "one of " + ", ".join(ASPECT_RATIOS))
        if self.resolution not in RESOLUTIONS:
            if isinstance(self.resolution, str) and self.resolution.lower() in ("1080p", "1080", "2k", "4k"):
                raise ValidationError(
                    "resolution",
                    self.resolution,
                    "480p or 720p",
                    f"resolution {self.resolution!r} is not available: Seedance 1.5 Pro tops out at 720p "
                    "(use 480p or 720p)",
                )
            raise ValidationError("resolution", self.resolution, "480p or 720p")
        set_(self, "audio", _bool_field("audio", self.audio))
        set_(self, "camera_fixed", _bool_field("camera_fixed", self.camera_fixed))
        if self.seed is not None:
            set_(
                self,
                "seed",
                _int_field(
                    "seed", self.seed, MIN_SEED, MAX_SEED, f"an integer from -1 (random) to {MAX_SEED}"
                ),
            )
        self._check_images()

    def _check_images(self) -> None:
        urls = self.image_urls if self.image_urls is not None else ()
        if isinstance(urls, str):
            raise ValidationError("image_urls", urls, "a list of 1 to 6 http(s) URLs, not a single string")
        try:
            urls = tuple(urls)
        except TypeError:
            raise ValidationError("image_urls", urls, "a list of 1 to 6 http(s) URLs") from None
        object.__setattr__(self, "image_urls", urls)
        roles_in = self.image_with_roles if self.image_with_roles is not None else ()
        if isinstance(roles_in, (str, Mapping)):
            raise ValidationError(
                "image_with_roles", roles_in, "a list of {'url': ..., 'role': ...} items, not a single one"
            )
        roles: list[ImageRole] = []
        try:
            roles_in = tuple(roles_in)
        except TypeError:
            allowed = "a list of {'url': ..., 'role': ...} items"
            raise ValidationError("image_with_roles", roles_in, allowed) from None
        for item in roles_in:
            if isinstance(item, ImageRole):
                roles.append(item)
            elif isinstance(item, Mapping):
                roles.append(ImageRole(url=item.get("url"), role=item.get("role")))  # type: ignore[arg-type]
            else:
                raise ValidationError("image_with_roles", item, "items of the form {'url': ..., 'role': ...}")
        object.__setattr__(self, "image_with_roles", tuple(roles))
        if urls and roles:
            raise ValidationError(
                "image_urls",
                list(urls),
                "either image_urls or image_with_roles, never both",
                "image_urls and image_with_roles must not both be given: pick one way to pass images",
            )
        if len(urls) > MAX_IMAGE_URLS:
            raise ValidationError(
                "image_urls",
                list(urls),
                f"1 to {MAX_IMAGE_URLS} URLs (first frame, last frame, then up to 4 references)",
                f"image_urls has {len(urls)} URLs; at most {MAX_IMAGE_URLS} are allowed "
                "(first frame, last frame and up to 4 reference images)",
            )
        for url in urls:
            _check_http_url("image_urls", url)
        counts = {role: sum(1 for r in roles if r.role == role) for role in ROLES}
        for single in ("first_frame", "last_frame"):
            if counts[single] > 1:
                raise ValidationError(
                    "image_with_roles",
                    [r.to_json() for r in roles],
                    f"at most one {single}",
                    f"image_with_roles has {counts[single]} images with role {single}; "
                    "at most one is allowed",
                )
        if counts["reference_image"] > MAX_REFERENCE_IMAGES:
            raise ValidationError(
                "image_with_roles",
                [r.to_json() for r in roles],
                f"1 to {MAX_REFERENCE_IMAGES} reference_image entries",
                f"image_with_roles has {counts['reference_image']} reference images; "
                f"at most {MAX_REFERENCE_IMAGES} are allowed",
            )

    # ---- derived facts -------------------------------------------------------------
    @property
    def size(self) -> tuple[int, int]:
        """Output (width, height) in pixels."""
        return output_size(self.resolution, self.aspect_ratio)

    @property
    def roles(self) -> tuple[ImageRole, ...]:
        """Images with their effective roles, whichever list was used.

        ``image_urls`` gets roles by count: 1 = first frame; 2 = first + last;
        3 or more = first + last + references.
        """
        if self.image_with_roles:
            return self.image_with_roles
        names = ["first_frame", "last_frame"] + ["reference_image"] * MAX_REFERENCE_IMAGES
        return tuple(ImageRole(url, names[i]) for i, url in enumerate(self.image_urls))

    def image_url_list(self) -> list[str]:
        """Every image URL the request refers to, in order."""
        return [r.url for r in self.roles]

    # ---- wire format ---------------------------------------------------------------
    def to_body(self) -> dict[str, Any]:
        """The exact JSON body of the create call (only documented fields)."""
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": self.prompt,
            "duration": self.duration,
            "aspect_ratio": self.aspect_ratio,
        }
        if self.image_urls:
            body["image_urls"] = list(self.image_urls)
        if self.image_with_roles:
            body["image_with_roles"] = [r.to_json() for r in self.image_with_roles]
        metadata: dict[str, Any] = {"resolution": self.resolution, "audio": self.audio}
        if self.seed is not None:
            metadata["seed"] = self.seed
        if self.camera_fixed:
            metadata["camerafixed"] = True
        body["metadata"] = metadata
        return body

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> GenerationRequest:
        """Parse a create body (as sent on the wire) back into a request; validates it."""
        if not isinstance(body, Mapping):
            raise ValidationError("body", body, "a JSON object")
        meta = body.get("metadata") or {}
        if not isinstance(meta, Mapping):
            raise ValidationError("metadata", meta, "a JSON object")
        roles = body.get("image_with_roles") or ()
        if not isinstance(roles, (list, tuple)):
            raise ValidationError("image_with_roles", roles, "a list of {url, role} objects")
        urls = body.get("image_urls") or ()
        if not isinstance(urls, (list, tuple)):
            raise ValidationError("image_urls", urls, "a list of 1 to 6 http(s) URLs")
        return cls(
            prompt=body.get("prompt"),  # type: ignore[arg-type]
            duration=body.get("duration", DEFAULT_DURATION),
            aspect_ratio=body.get("aspect_ratio", "16:9"),
            resolution=meta.get("resolution", "720p"),
            audio=meta.get("audio", False),
            seed=meta.get("seed"),
            camera_fixed=meta.get("camerafixed", False),
            image_urls=tuple(urls),
            image_with_roles=tuple(roles),
            model=body.get("model", MODEL),
        )

    def replace(self, **changes: Any) -> GenerationRequest:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


# ---- tasks -----------------------------------------------------------------------------

QUEUED, IN_PROGRESS, COMPLETED, FAILED = "queued", "in_progress", "completed", "failed"
FINAL_STATUSES = frozenset({COMPLETED, FAILED})
KNOWN_STATUSES = frozenset({QUEUED, IN_PROGRESS, COMPLETED, FAILED})
#: Other names the gateway's pages use for a known status.
STATUS_ALIASES = {"submitted": QUEUED, "pending": QUEUED, "processing": IN_PROGRESS, "running": IN_PROGRESS}


def _as_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return int(number) if math.isfinite(number) else None


def _text(value: Any) -> str | None:
    """A non-empty string field, or None for anything else (numbers, objects, "")."""
    return value if isinstance(value, str) and value else None


def _status(value: Any) -> str:
    """A known status (aliases such as ``submitted`` folded in), else the value verbatim."""
    if value is None or value == "":
        return "unknown"
    text = value if isinstance(value, str) else str(value)
    key = text.strip().lower()
    if key in KNOWN_STATUSES:
        return key
    # An unknown value is kept exactly as sent, so whoever surfaces it shows the gateway's word.
    return STATUS_ALIASES.get(key, text)


def _task_id(data: Mapping[str, Any]) -> str:
    for key in ("id", "task_id"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return ""


@dataclasses.dataclass(frozen=True)
class Task:
    """A task as the gateway describes it (create and poll replies share this shape).

    Tolerant by design: missing fields become None, unknown fields are kept in
    ``raw``, an unknown ``status`` is kept verbatim and treated as not final.
    """

    id: str
    status: str
    progress: int = 0
    created_at: int | None = None
    completed_at: int | None = None
    expires_at: int | None = None
    video_url: str | None = None
    thumbnail_url: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    seed: int | None = None
    model: str | None = None
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def is_known_status(self) -> bool:
        return self.status in KNOWN_STATUSES

    @classmethod
    def from_json(cls, data: Any) -> Task:
        if not isinstance(data, Mapping):
            data = {}
        # Some gateways wrap the task: {"data": {...task...}}.
        if "status" not in data and isinstance(data.get("data"), Mapping) and "status" in data["data"]:
            data = data["data"]
        status = _status(data.get("status"))
        progress = _as_int(data.get("progress"))
        if progress is None:
            progress = 100 if status == COMPLETED else 0
        progress = max(0, min(100, progress))
        video_url = None
        result = data.get("result")
        if isinstance(result, Mapping):
            items = result.get("data")
            if isinstance(items, list) and items and isinstance(items[0], Mapping):
                video_url = _text(items[0].get("url"))
            video_url = video_url or _text(result.get("url"))
        video_url = video_url or _text(data.get("url"))
        error = data.get("error")
        error_code = error_message = None
        if isinstance(error, Mapping):
            code, message = error.get("code"), error.get("message")
            error_code = str(code) if code is not None and code != "" else None
            error_message = str(message) if message is not None and message != "" else None
        elif isinstance(error, str) and error:
            error_message = error
        metadata = data.get("metadata") if isinstance(data.get("metadata"), Mapping) else {}
        seed = _as_int(metadata.get("seed")) if metadata else None
        thumb = data.get("thumbnail")
        return cls(
            id=_task_id(data),
            status=status,
            progress=progress,
            created_at=_as_int(data.get("created_at")),
            completed_at=_as_int(data.get("completed_at")),
            expires_at=_as_int(data.get("expires_at")),
            video_url=video_url,
            thumbnail_url=_text(thumb),
            error_code=error_code,
            error_message=error_message,
            seed=seed,
            model=_text(data.get("model")),
            metadata=dict(metadata),
            raw=dict(data),
        )


def estimate_cost_usd(resolution: str, audio: bool, duration: int) -> float:
    """An ESTIMATE in US dollars from one provider's list price (contract section 6).

    The list is per 5 s clip; we scale linearly by duration. The gateway's own
    bill may differ: always label this number as an estimate.
    """
    per_5s = {("480p", False): 0.06, ("480p", True): 0.12, ("720p", False): 0.13, ("720p", True): 0.26}
    return round(per_5s[(resolution, bool(audio))] * duration / 5.0, 4)


def request_cost_usd(request: GenerationRequest) -> float:
    """Estimated cost of one request (see :func:`estimate_cost_usd`)."""
    return estimate_cost_usd(request.resolution, request.audio, request.duration)


def iter_fields() -> Iterable[str]:
    """Names of the request's user-settable fields, in display order."""
    return (f.name for f in dataclasses.fields(GenerationRequest) if f.name != "model")
