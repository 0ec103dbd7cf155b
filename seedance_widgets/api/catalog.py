"""The model catalogue: what each Seedance model on the ToAPIs gateway accepts, as data.

Data first: one :class:`ModelSpec` per model id in :data:`MODELS`, plus small helpers that read
only the spec (:func:`spec_for`, :func:`models_allowing`, :func:`limits_json`,
:func:`estimate_usd`, :func:`output_size`, :func:`body_name`). Nothing here talks to the
network or is wired into the client yet.

Where the facts came from (each spec lists its pages in ``sources``; comments name the page
behind a limit):

- the gateway's own model pages on docs.toapis.com (section A of /work/shared/seedance-models.md)
  for ids, durations, resolutions, ratios, roles, counts and where a parameter sits in the body;
- /work/shared/seedance-api.md (the 1.5 Pro contract) for Seedance 1.5 Pro, whose entry equals
  today's constants in ``api/models.py`` exactly (a test holds the two together);
- other providers' public model pages (Runware, 302.AI, PiAPI, qingbo, empiriolabs, apiyi, ComfyUI)
  for pixel sizes and list prices, and BytePlus/Volcengine Ark pages for Ark model ids.

Rules: where two pages disagree, the newest official page wins (the gateway's page for the
gateway's behaviour). A fact nobody confirmed is never guessed: a size is ``None`` (unknown), a
price is ``None`` (no estimate) or missing for that resolution, and a value we had to assume for
the spec to be usable (say, that a model's parameters sit at the top level like its siblings') is
named in that spec's ``unconfirmed`` tuple, so the form can mark it and a later check can settle it.
Prices are one provider's list, scaled linearly: an ESTIMATE, never the gateway's bill.
"""

from __future__ import annotations

import dataclasses
import difflib
import operator
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

from . import sizes
from .errors import ValidationError
from .sizes import SizeTable

AudioMode = Literal["none", "optional", "default_on"]
Placement = Literal["top", "metadata"]
Family = Literal["seedance-1.0", "seedance-1.5", "seedance-2.0", "seedance-2.5"]

ADAPTIVE = "adaptive"
#: The six fixed ratios every model here offers, in the order of today's ``ASPECT_RATIOS``.
SIX_RATIOS: tuple[str, ...] = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9")
#: Neutral parameter names a spec may place in the body (``placement`` keys).
KNOWN_PARAMS: frozenset[str] = frozenset(
    {
        "duration",
        "aspect_ratio",
        "resolution",
        "audio",
        "seed",
        "camera_fixed",
        "return_last_frame",
        "web_search",
        "output_format",
        "video_operation",
    }
)
#: Keys of ``ModelSpec.ark_ids``: the first-party Ark platforms (issue 14).
ARK_VOLCENGINE = "volcengine"
ARK_BYTEPLUS = "bytepluses"
#: Ark's regions in the order we prefer them (Volcengine is the default).
ARK_REGIONS: tuple[str, ...] = (ARK_VOLCENGINE, ARK_BYTEPLUS)
#: The flex (offline) tier's price as a share of the default tier's: "half price" (digest section B;
#: 302.AI's 1.5 Pro table lists offline at 0.6 / 1.2 against online 1.2 / 2.4 per million tokens).
FLEX_PRICE_FACTOR = 0.5
#: Seedance 1.5 Pro on BytePlus: 1.2 USD per million tokens silent, 2.4 with audio; 1.0 Pro: 2.5.
_ARK_PRICES_PAGE = "https://docs.dev.xavier.icvr.xyz/models/byteplus/seedance-1-5-pro-251215.html"
#: -1 (random) to 2^32-1: the seed range the gateway's 1.0 and 1.5 pages document.
SEED_RANGE: tuple[int, int] = (-1, 2**32 - 1)


@dataclasses.dataclass(frozen=True)
class Durations:
    """Allowed clip lengths in whole seconds, plus the values that let the model pick one."""

    min: int
    max: int
    #: Values meaning "the model picks the length" (e.g. ``(-1,)`` or ``(0, -1)``); empty if none.
    auto_values: tuple[int, ...] = ()

    @property
    def auto(self) -> int | None:
        """The value we send to let the model pick (the first auto value), or None."""
        return self.auto_values[0] if self.auto_values else None

    def allows(self, seconds: int) -> bool:
        return self.min <= seconds <= self.max or seconds in self.auto_values


@dataclasses.dataclass(frozen=True)
class ImageRoles:
    """How many images of each role a model takes, and the role names it expects."""

    max_first: int
    max_last: int
    max_references: int
    #: The role name of a reference image: 1.0 says ``reference``, 1.5 and 2.x ``reference_image``.
    reference_role: str | None
    #: Whether first/last frames may be sent together with reference images in one request.
    modes_mix: bool
    #: The most URLs the auto-role ``image_urls`` list takes; None = we do not offer that list.
    max_image_urls: int | None
    #: Resolutions allowed when reference images are given; None = every listed resolution.
    reference_resolutions: tuple[str, ...] | None = None

    @property
    def roles(self) -> tuple[str, ...]:
        """The role names this model accepts, in the order first, last, reference."""
        named = (("first_frame", self.max_first), ("last_frame", self.max_last))
        roles = tuple(name for name, count in named if count > 0)
        if self.max_references > 0 and self.reference_role:
            roles += (self.reference_role,)
        return roles


@dataclasses.dataclass(frozen=True)
class MediaRefs:
    """Limits on reference videos or reference audio (None where no page gives the number)."""

    max_count: int
    role: str
    body_field: str
    min_seconds: float | None
    max_seconds: float | None
    max_total_seconds: float | None
    max_bytes: int | None
    formats: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Price:
    """One provider's list price, for estimates only.

    ``usd[(resolution, audio)]`` is the price of ``per_seconds`` seconds of output (1 = USD per
    second, 5 = USD per 5 s clip). A missing key means no estimate for that combination.
    """

    per_seconds: int
    usd: Mapping[tuple[str, bool], float]
    source: str
    note: str = ""


@dataclasses.dataclass(frozen=True)
class TokenPrice:
    """Ark's list price in USD per million output tokens (``usage.completion_tokens``).

    ``with_audio`` is the price when the clip has sound, where it differs (Seedance 1.5 Pro);
    None = the same price. The ``flex`` tier costs :data:`FLEX_PRICE_FACTOR` of it.
    """

    usd_per_million: float
    source: str
    with_audio: float | None = None

    def rate(self, audio: bool) -> float:
        return self.with_audio if audio and self.with_audio is not None else self.usd_per_million


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Everything that differs between models, as the gateway documents it."""

    id: str
    label: str
    family: Family
    durations: Durations
    default_duration: int
    resolutions: tuple[str, ...]
    default_resolution: str
    ratios: tuple[str, ...]
    default_ratio: str
    #: {resolution: {ratio: (width, height)}}; None for a resolution whose sizes nobody confirmed.
    output_sizes: Mapping[str, SizeTable | None]
    fps: int | None
    audio: AudioMode
    #: Body name of the audio switch (``audio`` on 1.5 Pro, ``generate_audio`` on 2.x); None = no audio.
    audio_field: str | None
    images: ImageRoles
    video_refs: MediaRefs | None
    audio_refs: MediaRefs | None
    #: Whether reference audio may be the only reference (False: it needs an image or a video too).
    audio_alone: bool
    #: Whether the model can return its last frame (``return_last_frame``).
    last_frame: bool
    #: (min, max) seed; None = the model takes no seed.
    seed: tuple[int, int] | None
    #: Body name of the fixed-camera switch (1.5 Pro: ``camerafixed``); None = not supported.
    camera_fixed: str | None
    #: Whether ``tools: [{"type": "web_search"}]`` is accepted.
    web_search: bool
    #: Where each parameter goes in the ToAPIs body: top level or inside ``metadata``.
    placement: Mapping[str, Placement]
    price: Price | None
    #: Ark model ids by platform (ARK_VOLCENGINE, ARK_BYTEPLUS); empty when none is known.
    ark_ids: Mapping[str, str]
    sources: tuple[str, ...]
    #: Spec fields (``field`` or ``field.part``) holding a value no page confirmed for this model.
    unconfirmed: tuple[str, ...] = ()
    output_formats: tuple[str, ...] = ("mp4",)
    video_operations: tuple[str, ...] = ()
    #: Rules that the fields above cannot express, in words.
    notes: tuple[str, ...] = ()
    #: Ark's token price (issue 14); None when no page confirms it (then ``unconfirmed`` names it).
    ark_price: TokenPrice | None = None

    def __post_init__(self) -> None:
        # The catalogue is shared, module-level data: hand out read-only views so no caller
        # can change one model's limits for everyone else.
        for name in ("output_sizes", "placement", "ark_ids"):
            object.__setattr__(self, name, _read_only(getattr(self, name)))

    @property
    def supports_camera_fixed(self) -> bool:
        return self.camera_fixed is not None

    @property
    def allows_adaptive(self) -> bool:
        return ADAPTIVE in self.ratios


def _read_only(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(
        {k: MappingProxyType(dict(v)) if isinstance(v, Mapping) else v for k, v in value.items()}
    )


def _price(per_seconds: int, rows: Mapping[tuple[str, bool], float], source: str, note: str = "") -> Price:
    return Price(per_seconds, MappingProxyType(dict(rows)), source, note)


def _same_with_audio(per_resolution: Mapping[str, float]) -> dict[tuple[str, bool], float]:
    """Rows for a model whose price does not change with audio (2.x: audio is included)."""
    return {(res, audio): usd for res, usd in per_resolution.items() for audio in (False, True)}


# ---- shared pieces -----------------------------------------------------------------------

_TOAPIS = "https://docs.toapis.com/docs/en/api-reference/videos"
_PAGE_10 = f"{_TOAPIS}/doubao-seedance/generation"
_PAGE_15 = f"{_TOAPIS}/doubao-seedance-1-5/generation"
_PAGE_20 = f"{_TOAPIS}/doubao-seedance-2-0/generation"
_PAGE_2 = f"{_TOAPIS}/seedance-2/generation"
_SIZES_10_PAGES = (
    "https://302ai-en.apifox.cn/305958132e0",
    "https://runware.ai/docs/models/bytedance-seedance-1-0-pro.md",
)
_QINGBO = "https://docs.qingbo.dev/en/api-reference/video/seedance"
_PIAPI_2 = "https://piapi.ai/docs/seedance-api/seedance-2"
# BytePlus model list naming seedance-1-5-pro-251215, seedance-1-0-pro-250528,
# seedance-1-0-pro-fast-251015, dreamina-seedance-2-0-260128 and dreamina-seedance-2-0-fast-260128.
_BYTEPLUS_IDS = "https://docs.powertokens.ai/en/zmodelVideo/byteplus/seedance/seedance-video"
# Volcengine ids doubao-seedance-2-0-260128 / -fast-260128 ("official Volcengine resources").
_VOLC_IDS_20 = "https://docs.apiyi.com/en/api-capabilities/seedance2/overview"

_SIZES_15_20: dict[str, SizeTable | None] = {
    "480p": sizes.SEEDANCE_15_20_480P,
    "720p": sizes.SEEDANCE_15_20_720P,
}
_SIZES_10: dict[str, SizeTable | None] = {
    "480p": sizes.SEEDANCE_10_480P,
    "720p": sizes.SEEDANCE_10_720P,
    "1080p": sizes.SEEDANCE_10_1080P,
}

# The 2.0 family's reference media, from the gateway's 2.0 page: videos mp4/mov, 2-15 s each,
# 15 s in all, under 50 MB; audio wav/mp3, 2-15 s each, 15 s in all, under 15 MB.
_VIDEO_REFS_20 = MediaRefs(3, "reference_video", "video_with_roles", 2, 15, 15, 50 * 2**20, ("mp4", "mov"))
_AUDIO_REFS_20 = MediaRefs(3, "reference_audio", "audio_with_roles", 2, 15, 15, 15 * 2**20, ("wav", "mp3"))

_PLACE_10: dict[str, Placement] = {
    "duration": "top",
    "aspect_ratio": "top",
    "resolution": "top",
    "seed": "metadata",
}
_PLACE_15: dict[str, Placement] = {
    "duration": "top",
    "aspect_ratio": "top",
    "resolution": "metadata",
    "audio": "metadata",
    "seed": "metadata",
    "camera_fixed": "metadata",
}
_PLACE_20: dict[str, Placement] = {
    "duration": "top",
    "aspect_ratio": "top",
    "resolution": "metadata",
    "audio": "metadata",
    "seed": "metadata",
    "return_last_frame": "metadata",
    "web_search": "metadata",
}
_PLACE_2: dict[str, Placement] = dict.fromkeys(
    ("duration", "aspect_ratio", "resolution", "audio", "seed", "return_last_frame", "web_search"), "top"
)


def _seedance_10(
    model_id: str,
    label: str,
    *,
    max_last: int,
    price: Mapping[str, float],
    ark_ids: Mapping[str, str],
    unconfirmed: tuple[str, ...] = (),
    ark_price: TokenPrice | None = None,
) -> ModelSpec:
    """Seedance 1.0 Pro Fast and Quality: same page, they differ in the last frame and price."""
    return ModelSpec(
        id=model_id,
        label=label,
        family="seedance-1.0",
        durations=Durations(2, 12),  # gateway page: 2 ~ 12 seconds, default 5
        default_duration=5,
        resolutions=("480p", "720p", "1080p"),  # top-level field, default 720p
        default_resolution="720p",
        ratios=SIX_RATIOS,
        default_ratio="16:9",
        output_sizes=_SIZES_10,
        fps=24,  # the token tables behind _SIZES_10 are at 24 fps
        audio="none",
        audio_field=None,
        images=ImageRoles(
            max_first=1,
            max_last=max_last,
            max_references=1,
            reference_role="reference",  # the 1.0 name; 1.5 and 2.x say reference_image
            modes_mix=False,
            max_image_urls=None,
            # gateway page: "When using reference images (role: reference), 1080p is not supported"
            reference_resolutions=("480p", "720p"),
        ),
        video_refs=None,
        audio_refs=None,
        audio_alone=False,
        last_frame=False,
        seed=SEED_RANGE,  # metadata.seed, -1 to 2^32-1 (gateway page)
        camera_fixed=None,
        web_search=False,
        placement=_PLACE_10,
        price=_price(
            1,
            {(res, False): usd for res, usd in price.items()},
            _QINGBO,
            "one provider's list, USD per second; the gateway's own price is not published",
        ),
        ark_ids=ark_ids,
        sources=(_PAGE_10, *_SIZES_10_PAGES, _QINGBO, _BYTEPLUS_IDS),
        # Not on the gateway page: whether first frame and the reference image may be combined,
        # and whether metadata.camerafixed is honoured (so we do not offer it).
        unconfirmed=("images.modes_mix", "camera_fixed", *unconfirmed),
        notes=("reference images cannot be combined with 1080p",),
        ark_price=ark_price,
    )


def _seedance_20_doubao(
    model_id: str, label: str, *, max_seconds: int, ark_suffix: str, price: Mapping[str, float]
) -> ModelSpec:
    """doubao-seedance-2-0 and -2-0-fast: one gateway page, parameters inside ``metadata``."""
    return ModelSpec(
        id=model_id,
        label=label,
        family="seedance-2.0",
        # gateway page: 2.0 takes 4-15 s, 2.0 Fast 4-12 s; -1 lets the model choose
        durations=Durations(4, max_seconds, (-1,)),
        default_duration=5,
        resolutions=("480p", "720p"),  # metadata.resolution; no 1080p on this gateway page
        default_resolution="720p",
        ratios=(*SIX_RATIOS, ADAPTIVE),
        default_ratio=ADAPTIVE,  # the page's default
        output_sizes=_SIZES_15_20,
        fps=24,  # fixed 24 fps (apiyi's 2.0 overview, which mirrors Volcengine's page)
        audio="default_on",
        audio_field="generate_audio",  # metadata.generate_audio, default true
        images=ImageRoles(
            max_first=1,
            max_last=1,
            max_references=9,  # reference_image 1-9
            reference_role="reference_image",
            modes_mix=False,  # "first/last-frame mode and reference mode are mutually exclusive"
            max_image_urls=None,  # image_urls is a compatibility field; roles are what the page advises
        ),
        video_refs=_VIDEO_REFS_20,
        audio_refs=_AUDIO_REFS_20,
        audio_alone=False,  # "audio_with_roles cannot be used alone"
        last_frame=True,  # metadata.return_last_frame
        seed=SEED_RANGE,
        camera_fixed=None,  # not among the page's metadata fields
        web_search=True,  # metadata.tools: [{"type": "web_search"}]
        placement=_PLACE_20,
        price=_price(
            1,
            _same_with_audio(price),
            _QINGBO,
            "one provider's list, USD per second, audio included; more when reference videos are sent",
        ),
        ark_ids={
            ARK_VOLCENGINE: f"doubao-seedance-2-0{ark_suffix}-260128",
            ARK_BYTEPLUS: f"dreamina-seedance-2-0{ark_suffix}-260128",
        },
        sources=(_PAGE_20, _VOLC_IDS_20, _BYTEPLUS_IDS, _QINGBO),
        # The page gives no seed range for 2.0: we use the 1.x range. No page gives Ark's token price.
        unconfirmed=("seed", "ark_price"),
        notes=(
            "images: first_frame; or first_frame + last_frame; or 1-9 reference_image; modes never mix",
            "reference videos must be 480p or 720p, 24-60 fps",
        ),
    )


def _seedance_2(
    model_id: str,
    label: str,
    *,
    resolutions: tuple[str, ...],
    frames: bool,
    auto: bool,
    price: Mapping[str, float],
    price_source: str,
    ark_ids: Mapping[str, str],
    unconfirmed: tuple[str, ...],
) -> ModelSpec:
    """seedance-2, -2-fast, -2-mini: one gateway page, every parameter at the top level."""
    return ModelSpec(
        id=model_id,
        label=label,
        family="seedance-2.0",
        # gateway page (newest): 4-15 s for all three; 0 and -1 = auto for 2 and 2-fast only
        durations=Durations(4, 15, (-1, 0) if auto else ()),
        default_duration=5,
        resolutions=resolutions,
        default_resolution="720p",
        # The page lists exactly 21:9 16:9 4:3 1:1 3:4 9:16 (no "adaptive", although the digest
        # says "6 + adaptive"): the newest page wins.
        ratios=SIX_RATIOS,
        default_ratio="16:9",
        # Same underlying model as doubao-seedance-2-0, whose page gives the 480p/720p table;
        # nobody confirms the 1080p / 4k pixel sizes.
        output_sizes={res: _SIZES_15_20.get(res) for res in resolutions},
        fps=24,
        audio="default_on",
        audio_field="generate_audio",  # top-level generate_audio
        images=ImageRoles(
            max_first=1 if frames else 0,  # mini: reference_image only
            max_last=1 if frames else 0,
            max_references=9,
            reference_role="reference_image",
            modes_mix=False,
            max_image_urls=None,
        ),
        video_refs=_VIDEO_REFS_20,  # mini: up to 3 videos, 3 audios (page); 2 and 2-fast: see unconfirmed
        audio_refs=_AUDIO_REFS_20,
        audio_alone=False,
        last_frame=True,
        seed=SEED_RANGE,
        camera_fixed=None,
        web_search=True,
        placement=_PLACE_2,
        price=_price(1, _same_with_audio(price), price_source, "one provider's list, USD per second"),
        ark_ids=ark_ids,
        sources=(_PAGE_2, price_source, _BYTEPLUS_IDS),
        unconfirmed=("seed", "ark_price", *unconfirmed),
        notes=("client_business_id may be sent at the top level",),
    )


_SEEDANCE_15_PRO = ModelSpec(
    id="doubao-seedance-1-5-pro",
    label="Seedance 1.5 Pro",
    family="seedance-1.5",
    durations=Durations(4, 12),  # 4 to 12 inclusive, default 5 (contract section 1)
    default_duration=5,
    resolutions=("480p", "720p"),  # metadata.resolution; 1.5 Pro has NO 1080p
    default_resolution="720p",
    ratios=SIX_RATIOS,
    default_ratio="16:9",
    output_sizes=_SIZES_15_20,  # contract section 5
    fps=24,
    audio="optional",
    audio_field="audio",  # metadata.audio, default false
    images=ImageRoles(
        max_first=1,
        max_last=1,
        max_references=4,  # reference_image 1 to 4
        reference_role="reference_image",
        modes_mix=True,  # image_urls with 3+ images = first + last + references
        max_image_urls=6,
    ),
    video_refs=None,
    audio_refs=None,
    audio_alone=False,
    last_frame=False,
    seed=SEED_RANGE,
    camera_fixed="camerafixed",
    web_search=False,
    placement=_PLACE_15,
    price=_price(
        5,
        {("480p", False): 0.06, ("480p", True): 0.12, ("720p", False): 0.13, ("720p", True): 0.26},
        # The contract's list (section 6). It equals BytePlus' token price for 1.5 Pro (1.2 USD per
        # million tokens, 2.4 with audio) at the 16:9 sizes, as 302.AI's page lists it.
        "https://doc-en.302.ai/344157192e0",
        "one provider's list, USD per 5 s clip; the gateway's own price may differ",
    ),
    ark_ids={ARK_VOLCENGINE: "doubao-seedance-1-5-pro-251215", ARK_BYTEPLUS: "seedance-1-5-pro-251215"},
    # BytePlus' list (302.AI's table and _ARK_PRICES_PAGE agree): 1.2 USD per million tokens, 2.4 with audio.
    ark_price=TokenPrice(1.2, _ARK_PRICES_PAGE, with_audio=2.4),
    sources=(_PAGE_15, _PAGE_20, "https://doc-en.302.ai/344157192e0", _BYTEPLUS_IDS, _ARK_PRICES_PAGE),
    notes=(
        "image_urls roles by count: 1 = first frame; 2 = first + last; 3+ = first + last + references",
        "image_urls and image_with_roles must not both be sent",
    ),
)

_SEEDANCE_25 = ModelSpec(
    id="seedance-2-5",
    label="Seedance 2.5",
    family="seedance-2.5",
    # 4-30 s, -1 = model picks (digest; apiyi: "duration defaults to -1 ... the model picked 10 s and
    # the bill doubled", so we default to an explicit 5 s).
    durations=Durations(4, 30, (-1,)),
    default_duration=5,
    # 480p/720p on the gateway (digest). Ark's own 2.5 has since gained 1080p and 4k (apiyi,
    # BytePlus' ComfyUI release notes), unconfirmed on the gateway, so not offered.
    resolutions=("480p", "720p"),
    default_resolution="720p",
    ratios=(*SIX_RATIOS, ADAPTIVE),
    # First-frame, edit and extend tasks must use "adaptive" (apiyi), so it is the safe default.
    default_ratio=ADAPTIVE,
    output_sizes={"480p": None, "720p": None},  # no page gives 2.5's pixel sizes
    fps=None,
    audio="default_on",
    audio_field="generate_audio",
    images=ImageRoles(
        max_first=1,
        max_last=1,
        max_references=30,  # up to 30 images (digest, apiyi, ComfyUI)
        reference_role="reference_image",
        modes_mix=False,
        max_image_urls=None,
    ),
    # Up to 10 videos and 10 audio clips; per-clip and total lengths and sizes: no page for 2.5.
    video_refs=MediaRefs(10, "reference_video", "video_with_roles", None, None, None, None, ("mp4", "mov")),
    audio_refs=MediaRefs(10, "reference_audio", "audio_with_roles", None, None, None, None, ("wav", "mp3")),
    audio_alone=True,  # "audio can be a reference on its own" (apiyi; ComfyUI: "2.5 also accepts audio only")
    last_frame=False,
    seed=SEED_RANGE,
    camera_fixed=None,
    web_search=False,
    placement=dict.fromkeys(
        ("duration", "aspect_ratio", "resolution", "audio", "seed", "output_format", "video_operation"), "top"
    ),
    # PiAPI's 2.5 page: 480p $0.15/s, 720p $0.35/s.
    price=_price(
        1,
        _same_with_audio({"480p": 0.15, "720p": 0.35}),
        "https://piapi.ai/en/seedance-2-5",
        "one provider's list, USD per second",
    ),
    ark_ids={ARK_VOLCENGINE: "doubao-seedance-2-5-260628", ARK_BYTEPLUS: "dreamina-seedance-2-5-260628"},
    sources=(
        "https://docs.apiyi.com/live/2026-08/seedance-2-5-launch.md",
        "https://docs.comfy.org/zh/built-in-nodes/ByteDance2ReferenceNodeV2",
        "https://dev.to/codesugar_lin_037a57b06a4/seedance-25-api-the-official-endpoint-and-6-gotchas-a22",
        "https://piapi.ai/en/seedance-2-5",
    ),
    # The gateway's own 2.5 page is not in any stored copy: where parameters sit, the seed, the
    # last frame and web search are assumed like seedance-2's until it is read.
    unconfirmed=(
        "placement",
        "seed",
        "last_frame",
        "web_search",
        "fps",
        "video_refs",
        "audio_refs",
        "ark_price",
    ),
    output_formats=("mp4", "mov"),  # output_format
    video_operations=("generate", "edit", "extend"),  # video_operation
    notes=(
        "up to 50 references in all",
        "first-frame, edit and extend tasks need aspect ratio 'adaptive'",
        "edit and extend need at least one reference video",
    ),
)

#: Every model the gateway offers, by id.
MODELS: dict[str, ModelSpec] = {
    spec.id: spec
    for spec in (
        _seedance_10(
            "doubao-seedance-1-0-pro-fast",
            "Seedance 1.0 Pro Fast",
            max_last=0,  # last_frame: quality only (gateway page / digest)
            price={"480p": 0.00935, "720p": 0.02125, "1080p": 0.0442},
            ark_ids={
                ARK_VOLCENGINE: "doubao-seedance-1-0-pro-fast-251015",
                ARK_BYTEPLUS: "seedance-1-0-pro-fast-251015",
            },
            unconfirmed=("ark_price",),
        ),
        _seedance_10(
            "doubao-seedance-1-0-pro-quality",
            "Seedance 1.0 Pro Quality",
            max_last=1,
            price={"480p": 0.021675, "720p": 0.04675, "1080p": 0.1105},
            # The gateway's "quality" is taken to be Ark's plain 1.0 Pro (no page says so).
            ark_ids={
                ARK_VOLCENGINE: "doubao-seedance-1-0-pro-250528",
                ARK_BYTEPLUS: "seedance-1-0-pro-250528",
            },
            unconfirmed=("ark_ids",),
            ark_price=TokenPrice(2.5, _ARK_PRICES_PAGE),  # seedance-1-0-pro: 2.5 USD per million tokens
        ),
        _SEEDANCE_15_PRO,
        _seedance_20_doubao(
            "doubao-seedance-2-0",
            "Seedance 2.0",
            max_seconds=15,
            ark_suffix="",
            price={"480p": 0.077095, "720p": 0.16592},
        ),
        _seedance_20_doubao(
            "doubao-seedance-2-0-fast",
            "Seedance 2.0 Fast",
            max_seconds=12,
            ark_suffix="-fast",
            price={"480p": 0.06205, "720p": 0.13345},
        ),
        _seedance_2(
            "seedance-2",
            "Seedance 2",
            # 4k and 1080p on seedance-2 only (digest; together.ai's Seedance 2.0 page lists 4k)
            resolutions=("480p", "720p", "1080p", "4k"),
            frames=True,
            auto=True,
            price={"480p": 0.10, "720p": 0.20, "1080p": 0.50},  # PiAPI: no 4k price
            price_source=_PIAPI_2,
            ark_ids={
                ARK_VOLCENGINE: "doubao-seedance-2-0-260128",
                ARK_BYTEPLUS: "dreamina-seedance-2-0-260128",
            },
            unconfirmed=("output_sizes", "video_refs", "audio_refs"),
        ),
        _seedance_2(
            "seedance-2-fast",
            "Seedance 2 Fast",
            resolutions=("480p", "720p"),
            frames=True,
            auto=True,
            price={"480p": 0.08, "720p": 0.16},
            price_source=_PIAPI_2,
            ark_ids={
                ARK_VOLCENGINE: "doubao-seedance-2-0-fast-260128",
                ARK_BYTEPLUS: "dreamina-seedance-2-0-fast-260128",
            },
            unconfirmed=("output_sizes", "video_refs", "audio_refs"),
        ),
        _seedance_2(
            "seedance-2-mini",
            "Seedance 2 Mini",
            resolutions=("480p", "720p"),
            frames=False,
            auto=False,
            price={"480p": 0.070, "720p": 0.150},
            price_source="https://docs.empiriolabs.ai/models/seedance-2-0-mini",
            # Two public codebases name the Volcengine id -260615; one says -260128; no BytePlus id.
            ark_ids={ARK_VOLCENGINE: "doubao-seedance-2-0-mini-260615"},
            unconfirmed=("output_sizes", "ark_ids"),
        ),
        _SEEDANCE_25,
    )
}

DEFAULT_MODEL = "doubao-seedance-1-5-pro"


# ---- helpers (they read only the spec) ------------------------------------------------------


def spec_for(model_id: object) -> ModelSpec:
    """The spec of ``model_id``; an unknown id is a :class:`ValidationError` naming the known ones."""
    if isinstance(model_id, str) and model_id in MODELS:
        return MODELS[model_id]
    known = ", ".join(MODELS)
    typed = model_id.strip().lower() if isinstance(model_id, str) else ""
    close = difflib.get_close_matches(typed, MODELS, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    shown = repr(model_id)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    raise ValidationError(
        "model", model_id, f"one of {known}", f"unknown model {shown}: {hint}known models are {known}"
    )


def models_allowing(
    *,
    resolution: str | None = None,
    ratio: str | None = None,
    duration: int | None = None,
    audio: bool | None = None,
    reference_images: int = 0,
    reference_videos: int = 0,
    reference_audios: int = 0,
    last_frame: bool = False,
    web_search: bool = False,
    camera_fixed: bool = False,
) -> tuple[str, ...]:
    """Ids of the models that allow every given setting, in catalogue order.

    For messages such as "1.5 Pro tops out at 720p; 1080p: seedance-2, ...". ``audio=True``
    asks for a model that can make sound; counts ask for at least that many references.
    """
    wanted = {
        "resolution": resolution,
        "ratio": ratio,
        "duration": duration,
        "audio": audio,
    }
    return tuple(
        spec.id
        for spec in MODELS.values()
        if _allows_settings(spec, wanted)
        and spec.images.max_references >= reference_images
        and _refs_count(spec.video_refs) >= reference_videos
        and _refs_count(spec.audio_refs) >= reference_audios
        and (spec.last_frame or not last_frame)
        and (spec.web_search or not web_search)
        and (spec.supports_camera_fixed or not camera_fixed)
    )


def _allows_settings(spec: ModelSpec, wanted: Mapping[str, Any]) -> bool:
    if wanted["resolution"] is not None and wanted["resolution"] not in spec.resolutions:
        return False
    if wanted["ratio"] is not None and wanted["ratio"] not in spec.ratios:
        return False
    if wanted["duration"] is not None and not spec.durations.allows(wanted["duration"]):
        return False
    return not (wanted["audio"] and spec.audio == "none")


def _refs_count(refs: MediaRefs | None) -> int:
    return refs.max_count if refs else 0


def output_size(spec: ModelSpec, resolution: str, ratio: str) -> tuple[int, int] | None:
    """Width and height of a clip, or None when unknown (adaptive, or no confirmed table)."""
    table = spec.output_sizes.get(resolution)
    return None if table is None else table.get(ratio)


def estimate_usd(
    spec: ModelSpec, resolution: str, duration: int, audio: bool, *, tier: str = "default"
) -> float | None:
    """An ESTIMATE in US dollars from the spec's list price, or None when there is none.

    None when the spec has no price, has none for this resolution and audio, or the length is
    left to the model (``-1``/``0``: the clip's length, hence its price, is not known before).
    ``tier="flex"`` (Ark's offline tier) is :data:`FLEX_PRICE_FACTOR` of the default price.
    """
    if spec.price is None or isinstance(duration, bool):
        return None
    try:
        seconds = operator.index(duration)
    except TypeError:
        return None
    if seconds in spec.durations.auto_values or seconds <= 0:
        return None
    rate = spec.price.usd.get((resolution, bool(audio)))
    if rate is None:
        return None
    # Same arithmetic as models.estimate_cost_usd, so 1.5 Pro estimates do not move by a cent.
    usd = rate * seconds / float(spec.price.per_seconds)
    if tier == "flex":
        usd *= FLEX_PRICE_FACTOR
    return round(usd, 4)


def cost_from_tokens(
    spec: ModelSpec, tokens: int | None, *, tier: str = "default", audio: bool | None = None
) -> float | None:
    """The real cost in USD of a finished Ark task from its ``usage.completion_tokens``.

    None when the tokens are unknown or no page confirms the model's Ark price (never "free").
    ``audio`` picks the price where sound costs more (1.5 Pro); None = the model's default.
    """
    price = spec.ark_price
    if price is None or tokens is None or isinstance(tokens, bool) or tokens < 0:
        return None
    with_sound = spec.audio == "default_on" if audio is None else bool(audio)
    usd = tokens * price.rate(with_sound) / 1_000_000
    if tier == "flex":
        usd *= FLEX_PRICE_FACTOR
    return round(usd, 6)


def ark_model_id(spec: ModelSpec, region: str | None = None) -> str:
    """The model id Ark's ``region`` (default Volcengine) knows ``spec`` by.

    A model Ark lacks there is a :class:`ValidationError` naming the regions that have it (or the
    ToAPIs gateway, which has every catalogue model), before anything is sent.
    """
    region = ARK_VOLCENGINE if region is None else region
    if region not in ARK_REGIONS:
        raise ValidationError("region", region, "one of " + ", ".join(ARK_REGIONS))
    found = spec.ark_ids.get(region)
    if found:
        return found
    others = [r for r in ARK_REGIONS if spec.ark_ids.get(r)]
    where = f"Ark {', '.join(others)} and " if others else ""
    raise ValidationError(
        "model",
        spec.id,
        f"a model Ark {region} serves",
        f"{spec.label} ({spec.id}) is not offered on Ark {region}; {where}the ToAPIs gateway "
        "(TOAPIS_API_KEY) have it",
    )


def body_name(spec: ModelSpec, param: str) -> str:
    """The body field that carries the neutral ``param`` for this model (audio -> generate_audio ...)."""
    if param == "audio" and spec.audio_field:
        return spec.audio_field
    if param == "camera_fixed" and spec.camera_fixed:
        return spec.camera_fixed
    if param == "web_search":
        return "tools"
    return param


def limits_json(spec: ModelSpec) -> dict[str, Any]:
    """Every limit, label and default of ``spec`` as plain JSON types (for the JS form)."""
    return {
        "id": spec.id,
        "label": spec.label,
        "family": spec.family,
        "durations": {
            "min": spec.durations.min,
            "max": spec.durations.max,
            "auto": spec.durations.auto,
            "auto_values": list(spec.durations.auto_values),
            "default": spec.default_duration,
        },
        "resolutions": list(spec.resolutions),
        "default_resolution": spec.default_resolution,
        "ratios": list(spec.ratios),
        "default_ratio": spec.default_ratio,
        "output_sizes": {
            res: None if table is None else {ratio: list(wh) for ratio, wh in table.items()}
            for res, table in spec.output_sizes.items()
        },
        "fps": spec.fps,
        "audio": {"mode": spec.audio, "field": spec.audio_field},
        "images": {
            "max_first": spec.images.max_first,
            "max_last": spec.images.max_last,
            "max_references": spec.images.max_references,
            "reference_role": spec.images.reference_role,
            "roles": list(spec.images.roles),
            "modes_mix": spec.images.modes_mix,
            "max_image_urls": spec.images.max_image_urls,
            "reference_resolutions": _list_or_none(spec.images.reference_resolutions),
        },
        "video_refs": _refs_json(spec.video_refs),
        "audio_refs": _refs_json(spec.audio_refs),
        "audio_alone": spec.audio_alone,
        "last_frame": spec.last_frame,
        "seed": None if spec.seed is None else {"min": spec.seed[0], "max": spec.seed[1]},
        "camera_fixed": {"supported": spec.supports_camera_fixed, "field": spec.camera_fixed},
        "web_search": spec.web_search,
        "placement": dict(spec.placement),
        "price": _price_json(spec.price),
        "ark_ids": dict(spec.ark_ids),
        "ark_price": None if spec.ark_price is None else dataclasses.asdict(spec.ark_price),
        "sources": list(spec.sources),
        "unconfirmed": list(spec.unconfirmed),
        "output_formats": list(spec.output_formats),
        "video_operations": list(spec.video_operations),
        "notes": list(spec.notes),
    }


def _list_or_none(values: tuple[str, ...] | None) -> list[str] | None:
    return None if values is None else list(values)


def _refs_json(refs: MediaRefs | None) -> dict[str, Any] | None:
    if refs is None:
        return None
    fields = dataclasses.asdict(refs)
    fields["formats"] = list(refs.formats)
    return fields


def _price_json(price: Price | None) -> dict[str, Any] | None:
    if price is None:
        return None
    rows = [{"resolution": res, "audio": audio, "usd": usd} for (res, audio), usd in price.usd.items()]
    return {"per_seconds": price.per_seconds, "source": price.source, "note": price.note, "rows": rows}
