"""The gateway's data: what a generation request may hold, and what a task reply says.

Protocol only: no network, no threads. ``GenerationRequest`` validates on construction against
its model's spec in :mod:`.catalog` (the one place limits live), so an invalid request cannot
exist and cannot reach a paid call. The request is a neutral description of intent: how it is
written on the wire (ToAPIs today) lives in :mod:`.protocols`.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import urlparse

from . import catalog, sizes
from .catalog import ModelSpec
from .errors import NoEstimateError, ValidationError

# ---- Seedance 1.5 Pro's limits under their old names, all read from its spec -------------------

MODEL = catalog.DEFAULT_MODEL
_SPEC_15 = catalog.spec_for(MODEL)
assert _SPEC_15.seed is not None
assert _SPEC_15.fps is not None
assert _SPEC_15.images.max_image_urls
ASPECT_RATIOS: tuple[str, ...] = _SPEC_15.ratios
RESOLUTIONS: tuple[str, ...] = _SPEC_15.resolutions
MIN_DURATION, MAX_DURATION = _SPEC_15.durations.min, _SPEC_15.durations.max
DEFAULT_DURATION = _SPEC_15.default_duration
MIN_SEED, MAX_SEED = _SPEC_15.seed
#: Our documented cap on prompt length (characters), for every model; the gateway publishes none,
#: and longer prompts only dilute the model's attention.
MAX_PROMPT_CHARS = 2000
MAX_IMAGE_URLS: int = _SPEC_15.images.max_image_urls
MAX_REFERENCE_IMAGES = _SPEC_15.images.max_references
ROLES: tuple[str, ...] = _SPEC_15.images.roles
FPS: int = _SPEC_15.fps
#: Output sizes (width, height) of Seedance 1.5 Pro, by resolution then ratio (contract section 5).
OUTPUT_SIZES: dict[str, dict[str, tuple[int, int]]] = {
    res: dict(table) for res, table in _SPEC_15.output_sizes.items() if table is not None
}
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
    "model",
)

#: Image roles of a request, whatever the model: the wire may rename one (1.0 sends ``reference``).
IMAGE_ROLES: tuple[str, ...] = ("first_frame", "last_frame", "reference_image")
VIDEO_ROLE = "reference_video"
AUDIO_ROLE = "reference_audio"
#: Service tiers (``GenerationRequest.service_tier``): ``flex`` is Ark's offline tier (half price,
#: slower, with an expiry window); ToAPIs takes only ``default``.
SERVICE_TIERS: tuple[str, ...] = ("default", "flex")
#: Resolutions from lowest to highest, for "tops out at" messages (aliases people type included).
_RESOLUTION_RANK = {"480p": 0, "720p": 1, "1080p": 2, "1080": 2, "2k": 2, "4k": 3, "2160p": 3}
_CANONICAL_RESOLUTION = {"1080": "1080p", "2k": "1080p", "2160p": "4k"}


class _ModelDefault:
    """Marks a field left out: it takes the model's default (e.g. audio on for Seedance 2.x)."""

    def __repr__(self) -> str:
        return "<the model's default>"

    def __reduce__(self) -> str:
        return "MODEL_DEFAULT"


#: Default of the fields whose default depends on the model (duration, ratio, resolution, audio).
MODEL_DEFAULT: Any = _ModelDefault()


def output_size(resolution: str, aspect_ratio: str) -> tuple[int, int]:
    """Width and height in pixels of a Seedance 1.5 Pro clip at ``resolution`` and ``aspect_ratio``."""
    return OUTPUT_SIZES[resolution][aspect_ratio]


def model_spec(model: object) -> ModelSpec:
    """The spec of ``model``; an unknown id is a ValidationError naming every known model."""
    try:
        return catalog.spec_for(model)
    except ValidationError as err:
        text = f"{err}; the default is {MODEL} ({_SPEC_15.label})"
        raise ValidationError("model", model, err.allowed, text) from None


def _shown(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _offered(what: str, others: Sequence[str], spec: ModelSpec) -> str:
    """ "; 1080p: seedance-2, ..." naming the other models that allow ``what`` (or "")."""
    others = [m for m in others if m != spec.id]
    return f"; {what}: {', '.join(others)}" if others else ""


def _refuse(
    field: str, value: Any, spec: ModelSpec, allowed: str, *, others: Sequence[str] = (), what: str = ""
) -> ValidationError:
    """The standard refusal: field, value, model, what it allows, and who else offers the value."""
    text = f"{field}={_shown(value)} is not allowed for {spec.id}: {allowed}"
    return ValidationError(field, value, allowed, text + _offered(what or _shown(value), others, spec))


def _models_where(test: Callable[[ModelSpec], object]) -> tuple[str, ...]:
    return tuple(spec.id for spec in catalog.MODELS.values() if test(spec))


def _check_http_url(field: str, url: Any, hint: str | None = None) -> str:
    if not isinstance(url, str) or urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc:
        raise ValidationError(
            field,
            url,
            hint
            or "an http(s) URL; upload local images first (SeedanceClient.upload_image) - "
            "the gateway no longer accepts base64 data",
        )
    return url


@dataclasses.dataclass(frozen=True)
class ImageRole:
    """One image with an explicit role (``first_frame``, ``last_frame`` or ``reference_image``).

    Roles are the neutral names for every model: Seedance 1.0's wire name ``reference`` is
    written by the protocol, never held here.
    """

    url: str
    role: str

    def __post_init__(self) -> None:
        if self.role == "reference":
            raise ValidationError(
                "image_with_roles.role",
                self.role,
                "first_frame, last_frame or reference_image",
                "image_with_roles role 'reference' is the Seedance 1.0 name; Seedance 1.5 Pro and 2.x call "
                "it 'reference_image', and requests use 'reference_image' for every model "
                "(allowed roles: first_frame, last_frame, reference_image)",
            )
        if self.role not in IMAGE_ROLES:
            raise ValidationError("image_with_roles.role", self.role, "one of " + ", ".join(IMAGE_ROLES))
        _check_http_url("image_with_roles.url", self.url)

    def to_json(self) -> dict[str, str]:
        return {"url": self.url, "role": self.role}


_MEDIA_FIELDS = {VIDEO_ROLE: "video_with_roles", AUDIO_ROLE: "audio_with_roles"}
_MEDIA_URL_HINTS = {
    VIDEO_ROLE: "an http(s) URL; upload local videos first (SeedanceClient.upload_video)",
    AUDIO_ROLE: "an http(s) URL; the gateway has no audio upload, so reference audio must already be online",
}


@dataclasses.dataclass(frozen=True)
class MediaRole:
    """A reference video (role ``reference_video``) or reference audio (``reference_audio``) by URL."""

    url: str
    role: str

    def __post_init__(self) -> None:
        field = _MEDIA_FIELDS.get(self.role)
        if field is None:
            raise ValidationError("media.role", self.role, "reference_video or reference_audio")
        _check_http_url(f"{field}.url", self.url, _MEDIA_URL_HINTS[self.role])

    def to_json(self) -> dict[str, str]:
        return {"url": self.url, "role": self.role}


def _whole_number(field: str, value: Any, allowed: str) -> int:
    # bool is an int subclass, but True as a duration is a mistake, not 1. Text such as
    # "5" is refused too: the gateway wants a JSON number, and silently converting text
    # hides bugs in the caller. Integer-like objects (numpy ints) and whole floats
    # (5.0 from a JSON parser) are plain numbers and are accepted.
    if isinstance(value, (bool, str, bytes)):
        raise ValidationError(field, value, allowed)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValidationError(field, value, allowed)
        return int(value)
    try:
        return operator.index(value)
    except TypeError:
        raise ValidationError(field, value, allowed) from None


def _bool_field(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValidationError(field, value, "true or false")


def _as_tuple(field: str, value: Any, allowed: str, single: str) -> tuple[Any, ...]:
    """A list field as a tuple; a lone string or object is refused (a common slip)."""
    if value is None:
        return ()
    if isinstance(value, (str, bytes, Mapping)):
        raise ValidationError(field, value, f"{allowed}, not {single}")
    try:
        return tuple(value)
    except TypeError:
        raise ValidationError(field, value, allowed) from None


@dataclasses.dataclass(frozen=True)
class GenerationRequest:
    """Everything one generation can ask for, validated on creation against ``model``'s spec.

    Fields left out take the model's default (``duration``, ``aspect_ratio``, ``resolution``,
    ``audio``: Seedance 2.x makes sound unless ``audio=False``); ``seed=None`` leaves the seed
    to the gateway, as ``-1`` does. ``image_urls`` (roles by count; Seedance 1.5 Pro only) and
    ``image_with_roles`` are mutually exclusive. ``video_with_roles`` / ``audio_with_roles`` hold
    reference videos (role ``reference_video``) and reference audio (``reference_audio``), by
    URL. ``return_last_frame`` asks for the clip's last frame as an image; ``web_search`` lets
    the model search the web. Every refusal names the field, the value, the model, what the
    model allows and, where another model allows the value, which ones.

    ``replace(**changes)`` keeps every other field as it is (a changed ``model`` does not reset
    the others to its defaults).
    """

    prompt: str
    duration: int = MODEL_DEFAULT
    aspect_ratio: str = MODEL_DEFAULT
    resolution: str = MODEL_DEFAULT
    audio: bool = MODEL_DEFAULT
    seed: int | None = None
    camera_fixed: bool = False
    image_urls: tuple[str, ...] = ()
    image_with_roles: tuple[ImageRole, ...] = ()
    model: str = MODEL
    video_with_roles: tuple[MediaRole, ...] = ()
    audio_with_roles: tuple[MediaRole, ...] = ()
    return_last_frame: bool = False
    web_search: bool = False
    service_tier: str = "default"

    def __post_init__(self) -> None:
        self._check_prompt()
        spec = model_spec(self.model)
        self._fill_defaults(spec)
        self._check_duration(spec)
        self._check_ratio_and_resolution(spec)
        self._check_switches(spec)
        self._check_tier()
        self._check_seed(spec)
        self._check_images(spec)
        self._check_media(spec)
        self._check_modes(spec)

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)  # frozen: normalised in place once, here

    def _check_prompt(self) -> None:
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise ValidationError("prompt", self.prompt, "a non-empty text describing the scene")
        if len(self.prompt) > MAX_PROMPT_CHARS:
            raise ValidationError(
                "prompt",
                self.prompt,
                f"at most {MAX_PROMPT_CHARS} characters",
                f"prompt is {len(self.prompt)} characters long; at most {MAX_PROMPT_CHARS} are allowed",
            )

    def _fill_defaults(self, spec: ModelSpec) -> None:
        defaults = {
            "duration": spec.default_duration,
            "aspect_ratio": spec.default_ratio,
            "resolution": spec.default_resolution,
            "audio": spec.audio == "default_on",
        }
        for name, value in defaults.items():
            if getattr(self, name) is MODEL_DEFAULT:
                self._set(name, value)

    def _check_duration(self, spec: ModelSpec) -> None:
        d = spec.durations
        allowed = f"an integer number of seconds from {d.min} to {d.max}"
        if d.auto_values:
            allowed += f", or {' or '.join(map(str, d.auto_values))} to let the model choose"
        seconds = _whole_number("duration", self.duration, allowed)
        if not d.allows(seconds):
            others = catalog.models_allowing(duration=seconds)
            raise _refuse("duration", self.duration, spec, allowed, others=others, what=f"{seconds} s")
        self._set("duration", seconds)

    def _check_ratio_and_resolution(self, spec: ModelSpec) -> None:
        if not isinstance(self.aspect_ratio, str) or self.aspect_ratio not in spec.ratios:
            others = (
                catalog.models_allowing(ratio=self.aspect_ratio) if isinstance(self.aspect_ratio, str) else ()
            )
            allowed = "one of " + ", ".join(spec.ratios)
            raise _refuse(
                "aspect_ratio", self.aspect_ratio, spec, allowed, others=others, what=str(self.aspect_ratio)
            )
        if isinstance(self.resolution, str) and self.resolution in spec.resolutions:
            return
        allowed = _either(spec.resolutions)
        typed = self.resolution.strip().lower() if isinstance(self.resolution, str) else ""
        wanted = _CANONICAL_RESOLUTION.get(typed, typed)
        others = catalog.models_allowing(resolution=wanted) if wanted in _RESOLUTION_RANK else ()
        top = spec.resolutions[-1]
        if _RESOLUTION_RANK.get(typed, -1) > _RESOLUTION_RANK[top]:
            text = (
                f"resolution {self.resolution!r} is not available for {spec.id}: {spec.label} tops out at "
                f"{top} (use {allowed})" + _offered(wanted, others, spec)
            )
            raise ValidationError("resolution", self.resolution, allowed, text)
        raise _refuse("resolution", self.resolution, spec, allowed, others=others, what=wanted)

    def _check_switches(self, spec: ModelSpec) -> None:
        for name in ("audio", "camera_fixed", "return_last_frame", "web_search"):
            self._set(name, _bool_field(name, getattr(self, name)))
        offered = {
            "audio": (spec.audio != "none", f"{spec.id} makes no sound", "audio"),
            "camera_fixed": (
                spec.supports_camera_fixed,
                f"{spec.id} has no fixed-camera switch",
                "camera_fixed",
            ),
            "return_last_frame": (spec.last_frame, f"{spec.id} cannot return its last frame", "last frame"),
            "web_search": (spec.web_search, f"{spec.id} has no web search", "web search"),
        }
        for name, (supported, why, what) in offered.items():
            if getattr(self, name) and not supported:
                others = catalog.models_allowing(
                    audio=name == "audio",
                    camera_fixed=name == "camera_fixed",
                    last_frame=name == "return_last_frame",
                    web_search=name == "web_search",
                )
                raise _refuse(name, True, spec, f"false ({why})", others=others, what=what)

    def _check_tier(self) -> None:
        if not isinstance(self.service_tier, str) or self.service_tier not in SERVICE_TIERS:
            raise ValidationError(
                "service_tier",
                self.service_tier,
                "'default' or 'flex'",
                f"service_tier={_shown(self.service_tier)} is not allowed: 'default' or 'flex' "
                "(flex is Ark's offline tier: half price, slower)",
            )

    def _check_seed(self, spec: ModelSpec) -> None:
        if self.seed is None:
            return
        if spec.seed is None:
            raise _refuse("seed", self.seed, spec, "None (this model takes no seed)")
        lo, hi = spec.seed
        allowed = f"an integer from {lo} (random) to {hi}"
        number = _whole_number("seed", self.seed, allowed)
        if not lo <= number <= hi:
            raise _refuse("seed", self.seed, spec, allowed)
        self._set("seed", number)

    # ---- images and reference media -----------------------------------------------------------
    def _check_images(self, spec: ModelSpec) -> None:
        urls = _as_tuple("image_urls", self.image_urls, "a list of 1 to 6 http(s) URLs", "a single string")
        self._set("image_urls", urls)
        items = _as_tuple(
            "image_with_roles",
            self.image_with_roles,
            "a list of {'url': ..., 'role': ...} items",
            "a single one",
        )
        roles = tuple(_image_role(item, spec) for item in items)
        self._set("image_with_roles", roles)
        if urls and roles:
            raise ValidationError(
                "image_urls",
                list(urls),
                "either image_urls or image_with_roles, never both",
                "image_urls and image_with_roles must not both be given: pick one way to pass images",
            )
        if urls:
            _check_image_urls(urls, spec)
        _check_role_counts(roles, spec)

    def _check_media(self, spec: ModelSpec) -> None:
        for role, refs in ((VIDEO_ROLE, spec.video_refs), (AUDIO_ROLE, spec.audio_refs)):
            field = _MEDIA_FIELDS[role]
            items = _as_tuple(
                field, getattr(self, field), "a list of {'url': ..., 'role': ...} items", "a single one"
            )
            media = tuple(_media_role(field, role, item) for item in items)
            self._set(field, media)
            if not media:
                continue
            kind = "reference videos" if role == VIDEO_ROLE else "reference audio clips"
            limit = refs.max_count if refs else 0
            if len(media) <= limit:
                continue
            count = len(media)
            if role == VIDEO_ROLE:
                others = catalog.models_allowing(reference_videos=count)
            else:
                others = catalog.models_allowing(reference_audios=count)
            if limit:
                allowed = f"at most {limit} {kind}"
                text = f"{field} has {count} {kind}; at most {limit} are allowed for {spec.id}"
            else:
                allowed = f"no {kind} ({spec.id} takes none)"
                text = f"{field} has {count} {kind}; {spec.id} takes none"
            shown = [m.to_json() for m in media]
            raise ValidationError(field, shown, allowed, text + _offered(f"{count} {kind}", others, spec))
        if (
            self.audio_with_roles
            and not spec.audio_alone
            and not (self.video_with_roles or self._references())
        ):
            raise ValidationError(
                "audio_with_roles",
                [m.to_json() for m in self.audio_with_roles],
                "reference audio together with reference images or videos",
                f"audio_with_roles cannot be used alone on {spec.id}: add a reference image or video"
                + _offered("audio alone", _models_where(lambda s: s.audio_alone), spec),
            )

    def _references(self) -> tuple[ImageRole, ...]:
        return tuple(r for r in self.roles if r.role == "reference_image")

    def _check_modes(self, spec: ModelSpec) -> None:
        frames = [r.role for r in self.roles if r.role != "reference_image"]
        refs = bool(self._references() or self.video_with_roles or self.audio_with_roles)
        if frames and refs and not spec.images.modes_mix:
            field = "image_with_roles" if self._references() else "video_with_roles"
            if not self._references() and not self.video_with_roles:
                field = "audio_with_roles"
            raise ValidationError(
                field,
                [r.to_json() for r in self.roles],
                "first/last frames or reference media, not both",
                f"{spec.id} does not mix first/last frames ({', '.join(frames)}) with reference media "
                "(reference images, videos or audio): pick one mode"
                + _offered("both together", self._mixing_models(), spec),
            )
        allowed_res = spec.images.reference_resolutions
        if self._references() and allowed_res is not None and self.resolution not in allowed_res:
            raise _refuse(
                "resolution",
                self.resolution,
                spec,
                f"{_either(allowed_res)} when reference images are given",
            )

    def _mixing_models(self) -> tuple[str, ...]:
        """Models that take this request's frames and reference media together."""
        able = catalog.models_allowing(
            reference_images=len(self._references()),
            reference_videos=len(self.video_with_roles),
            reference_audios=len(self.audio_with_roles),
        )
        return tuple(m for m in able if catalog.MODELS[m].images.modes_mix)

    # ---- derived facts -------------------------------------------------------------------
    @property
    def spec(self) -> ModelSpec:
        """The catalogue's spec of this request's model."""
        return catalog.spec_for(self.model)

    @property
    def known_size(self) -> tuple[int, int] | None:
        """Output (width, height) as the model's spec gives it; None when unknown (adaptive, no table)."""
        return catalog.output_size(self.spec, self.resolution, self.aspect_ratio)

    @property
    def size(self) -> tuple[int, int]:
        """Output (width, height): the spec's size, else the nominal size of ``sizes.NOMINAL_SIZES``.

        Exact for Seedance 1.5 Pro; for a size no page confirms (``known_size`` is None) this is a
        stand-in for layout and for the emulator, not a promise about the real clip.
        """
        known = self.known_size
        if known is not None:
            return known
        nominal = sizes.nominal_size(self.resolution, self.aspect_ratio)
        assert nominal is not None, self.resolution  # every catalogue resolution has a nominal table
        return nominal

    @property
    def roles(self) -> tuple[ImageRole, ...]:
        """Images with their effective roles, whichever list was used.

        ``image_urls`` gets roles by count: 1 = first frame; 2 = first + last;
        3 or more = first + last + references.
        """
        if self.image_with_roles:
            return self.image_with_roles
        names = ["first_frame", "last_frame"] + ["reference_image"] * max(0, len(self.image_urls) - 2)
        return tuple(ImageRole(url, names[i]) for i, url in enumerate(self.image_urls))

    def image_url_list(self) -> list[str]:
        """Every image URL the request refers to, in order."""
        return [r.url for r in self.roles]

    def media(self) -> tuple[ImageRole | MediaRole, ...]:
        """Every input by URL with its role: images (effective roles), then videos, then audio."""
        return (*self.roles, *self.video_with_roles, *self.audio_with_roles)

    # ---- neutral forms ---------------------------------------------------------------------
    def neutral(self) -> dict[str, Any]:
        """The protocol-free description of this request, as plain JSON types: what a cache key is made of.

        Equal intent gives an equal dict however the request was made: images appear with their
        effective roles (``image_urls=[a, b]`` and first/last ``image_with_roles`` agree), defaults
        are filled in, and the 2.x extras appear only when used (``videos``, ``audios``,
        ``return_last_frame``, ``web_search``), so a request without them keeps the same keys.
        """
        out: dict[str, Any] = {
            "model": self.model,
            "prompt": self.prompt,
            "duration": self.duration,
            "aspect_ratio": self.aspect_ratio,
            "resolution": self.resolution,
            "audio": self.audio,
            "seed": self.seed,
            "camera_fixed": self.camera_fixed,
            "images": [r.to_json() for r in self.roles],
        }
        if self.video_with_roles:
            out["videos"] = [m.to_json() for m in self.video_with_roles]
        if self.audio_with_roles:
            out["audios"] = [m.to_json() for m in self.audio_with_roles]
        if self.return_last_frame:
            out["return_last_frame"] = True
        if self.web_search:
            out["web_search"] = True
        if self.service_tier != "default":
            out["service_tier"] = self.service_tier  # absent by default: older cache keys stay equal
        return out

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain JSON types (lists of ``{url, role}``); ``from_dict`` gives it back."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = [v.to_json() if isinstance(v, (ImageRole, MediaRole)) else v for v in value]
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GenerationRequest:
        """A request from :meth:`to_dict`'s form (unknown keys are refused, naming them)."""
        if not isinstance(data, Mapping):
            raise ValidationError("request", data, "a JSON object of request fields")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(k) for k in data if k not in names)
        if unknown:
            raise ValidationError(
                "request", unknown, "fields of GenerationRequest: " + ", ".join(sorted(names))
            )
        return cls(**data)

    # ---- wire format (the ToAPIs protocol; thin wrappers kept for existing callers and ledgers) ----
    def to_body(self) -> dict[str, Any]:
        """The exact JSON body of the ToAPIs create call (see ``protocols.toapis.build_body``)."""
        from .protocols import toapis

        return toapis.build_body(self)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> GenerationRequest:
        """Parse a ToAPIs create body back into a request; validates it (``toapis.request_from_body``)."""
        from .protocols import toapis

        return toapis.request_from_body(body)

    def replace(self, **changes: Any) -> GenerationRequest:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def _either(values: Sequence[str]) -> str:
    """ "480p or 720p", "480p, 720p, 1080p or 4k" """
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"


def _image_role(item: Any, spec: ModelSpec) -> ImageRole:
    if isinstance(item, ImageRole):
        return item
    if not isinstance(item, Mapping):
        raise ValidationError("image_with_roles", item, "items of the form {'url': ..., 'role': ...}")
    role = item.get("role")
    if role == "reference" and spec.images.reference_role != "reference":
        raise ValidationError(
            "image_with_roles.role",
            role,
            "first_frame, last_frame or reference_image",
            f"image_with_roles role 'reference' is the Seedance 1.0 name; {spec.label} ({spec.id}) calls it "
            "'reference_image' (allowed roles: first_frame, last_frame, reference_image)",
        )
    if role == "reference":
        role = "reference_image"  # Seedance 1.0's wire name, accepted for 1.0 models and held neutral
    return ImageRole(url=item.get("url"), role=role)  # type: ignore[arg-type]


def _check_image_urls(urls: tuple[Any, ...], spec: ModelSpec) -> None:
    most = spec.images.max_image_urls
    if most is None:
        raise ValidationError(
            "image_urls",
            list(urls),
            "image_with_roles (roles named)",
            f"image_urls (roles by count) is not offered for {spec.id}: pass images with image_with_roles "
            "and a role each"
            + _offered("image_urls", _models_where(lambda s: s.images.max_image_urls), spec),
        )
    if len(urls) > most:
        raise ValidationError(
            "image_urls",
            list(urls),
            f"1 to {most} URLs (first frame, last frame, then up to {spec.images.max_references} references)",
            f"image_urls has {len(urls)} URLs; at most {most} are allowed for {spec.id} "
            f"(first frame, last frame and up to {spec.images.max_references} reference images)",
        )
    for url in urls:
        _check_http_url("image_urls", url)


_ROLE_LIMITS: dict[str, Callable[[ModelSpec], int]] = {
    "first_frame": lambda s: s.images.max_first,
    "last_frame": lambda s: s.images.max_last,
    "reference_image": lambda s: s.images.max_references,
}


def _check_role_counts(roles: tuple[ImageRole, ...], spec: ModelSpec) -> None:
    for role, limit_of in _ROLE_LIMITS.items():
        count = sum(1 for r in roles if r.role == role)
        limit = limit_of(spec)
        if count <= limit:
            continue
        shown = [r.to_json() for r in roles]
        others = tuple(s.id for s in catalog.MODELS.values() if limit_of(s) >= count)
        if limit == 0:
            allowed = f"no {role} image ({spec.id} takes none)"
            text = f"image_with_roles has a {role} image, which {spec.id} does not take"
        elif role == "reference_image":
            allowed = f"1 to {limit} reference_image entries"
            text = f"image_with_roles has {count} reference images; at most {limit} are allowed for {spec.id}"
        else:
            allowed = f"at most one {role}"
            text = (
                f"image_with_roles has {count} images with role {role}; at most one is allowed for {spec.id}"
            )
        what = f"{count} {role} image{'s' if count > 1 else ''}"
        raise ValidationError("image_with_roles", shown, allowed, text + _offered(what, others, spec))


def _media_role(field: str, role: str, item: Any) -> MediaRole:
    got: Any
    url: Any
    if isinstance(item, MediaRole):
        got, url = item.role, item.url
    elif isinstance(item, Mapping):
        got, url = item.get("role", role), item.get("url")
    else:
        raise ValidationError(field, item, "items of the form {'url': ..., 'role': ...}")
    if got != role:
        raise ValidationError(f"{field}.role", got, f"'{role}' (the only role {field} takes)")
    return MediaRole(url=url, role=role)


# ---- tasks -----------------------------------------------------------------------------

QUEUED, IN_PROGRESS, COMPLETED, FAILED = "queued", "in_progress", "completed", "failed"
#: Ark only (issue 14): a queued task cancelled with DELETE (never billed), and one still queued
#: when its ``execution_expires_after`` passed.
CANCELLED, EXPIRED = "cancelled", "expired"
FINAL_STATUSES = frozenset({COMPLETED, FAILED, CANCELLED, EXPIRED})
KNOWN_STATUSES = frozenset({QUEUED, IN_PROGRESS, COMPLETED, FAILED, CANCELLED, EXPIRED})
#: The statuses ToAPIs documents. It has no cancel and no expiry, so a ToAPIs reply saying
#: "cancelled" is an unknown word there (kept verbatim, not final: the task is still watched).
TOAPIS_STATUSES = frozenset({QUEUED, IN_PROGRESS, COMPLETED, FAILED})
#: Other names the gateway's pages use for a known status.
STATUS_ALIASES = {"submitted": QUEUED, "pending": QUEUED, "processing": IN_PROGRESS, "running": IN_PROGRESS}


@dataclasses.dataclass(frozen=True)
class Task:
    """A task as the gateway describes it (create and poll replies share this shape).

    Tolerant by design: missing fields become None, unknown fields are kept in
    ``raw``, an unknown ``status`` is kept verbatim and treated as not final.
    ``last_frame_url`` is set when the request asked for its last frame;
    ``client_business_id`` when the gateway echoes the caller's own id.
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
    last_frame_url: str | None = None
    client_business_id: str | None = None
    #: The real bill in tokens (Ark ``usage.completion_tokens``; ToAPIs ``usage`` when it has tokens).
    usage_tokens: int | None = None
    #: The tier the task runs on (Ark: ``default`` or ``flex``); None when the reply does not say.
    service_tier: str | None = None
    #: Which protocol described the task (``toapis`` or ``ark``): it decides which words are known.
    protocol: str = "toapis"

    @property
    def is_final(self) -> bool:
        return self.is_known_status and self.status in FINAL_STATUSES

    @property
    def is_known_status(self) -> bool:
        known = KNOWN_STATUSES if self.protocol == "ark" else TOAPIS_STATUSES
        return self.status in known

    @classmethod
    def from_json(cls, data: Any) -> Task:
        """The task a ToAPIs reply describes (``protocols.toapis.parse_task``)."""
        from .protocols import toapis

        return toapis.parse_task(data)


@dataclasses.dataclass(frozen=True)
class CancelResult:
    """What a cancel did: ``cancelled`` (a queued task stopped before it ran: not billed),
    ``not_cancellable`` (it is running or done: it goes on, and is billed if it finishes) or
    ``not_found`` (the provider has no such task). ``message`` says it in words."""

    outcome: Literal["cancelled", "not_cancellable", "not_found"]
    message: str


def as_int(value: Any) -> int | None:
    """A number field as an int (None for absent, bool, text that is no number, inf/nan)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return int(number) if math.isfinite(number) else None


# ---- estimates -------------------------------------------------------------------------


def estimate_cost_usd(resolution: str, audio: bool, duration: int, *, model: str = MODEL) -> float:
    """An ESTIMATE in US dollars from one provider's list price in ``model``'s spec.

    The gateway's own bill may differ: always label this number as an estimate. Raises
    :class:`NoEstimateError` where the spec has no price for these settings (or the model picks
    the length); :func:`request_estimate_usd` returns None instead.
    """
    usd = catalog.estimate_usd(model_spec(model), resolution, duration, audio)
    if usd is None:
        raise NoEstimateError(model, resolution, duration, audio)
    return usd


def request_estimate_usd(request: GenerationRequest) -> float | None:
    """Estimated cost of one request, or None when its spec gives no price for its settings.

    None means "unknown", never "free": a budget check must not count it as zero.
    """
    return catalog.estimate_usd(
        request.spec, request.resolution, request.duration, request.audio, tier=request.service_tier
    )


def request_cost_usd(request: GenerationRequest) -> float:
    """Estimated cost of one request; :class:`NoEstimateError` when there is no estimate.

    Kept as a float for today's callers (1.5 Pro is always priced). New code uses
    :func:`request_estimate_usd`, which says "no estimate" with None.
    """
    usd = request_estimate_usd(request)
    if usd is None:
        raise NoEstimateError(request.model, request.resolution, request.duration, request.audio)
    return usd


def iter_fields() -> Iterable[str]:
    """Names of the request's user-settable fields, in display order."""
    return (f.name for f in dataclasses.fields(GenerationRequest) if f.name != "model")
