"""Ark's wire format (Volcengine and BytePlus, the first-party API): create bodies, task replies, errors.

Where the facts came from:

- field names: the official SDK, volcengine-python-sdk ``volcenginesdkarkruntime/resources/
  content_generation/tasks.py`` (create sends ``model``, ``content`` and the top-level
  ``return_last_frame``, ``service_tier``, ``execution_expires_after``, ``generate_audio``,
  ``camera_fixed``, ``watermark``, ``seed``, ``resolution``, ``ratio``, ``duration``, ``tools``,
  ``callback_url``, ...; list sends ``page_num``, ``page_size``, ``filter.status``,
  ``filter.model``, ``filter.task_ids`` (repeated), ``filter.service_tier``; delete is
  ``DELETE {TASKS_PATH}/{id}``) and its types ``types/content_generation/*.py`` (content items
  ``{"type": "image_url", "image_url": {"url"}, "role"}``, ``video_url``, ``audio_url``; a task
  has ``status``, ``content.video_url``/``last_frame_url``, ``usage.completion_tokens``,
  ``error {code, message}``, ``seed``, ``service_tier``, ``created_at``/``updated_at``, ...; a
  list reply is ``{"total", "items"}``);
- statuses, limits, base URLs and model ids: section B of /work/shared/seedance-models.md
  (queued, running, succeeded, failed, cancelled, expired; ``execution_expires_after``
  3600-259200 s; video URLs valid 24 h);
- error codes: Ark's error code pages (https://www.volcengine.com/docs/82379/1299023,
  https://docs.byteplus.com/en/docs/ModelArk/1299023).

Ark has no upload endpoint: a local image travels inside the body as a ``data:`` URL. A
:class:`~seedance_widgets.api.models.GenerationRequest` only holds http(s) URLs (so a request,
its cache key and the ledger never hold megabytes of base64), so the Ark client hands out a
stand-in URL for a local image, :func:`inline_url` (content-addressed, on the reserved
``.invalid`` domain, never fetched), and :func:`build_body` puts the picture's ``data:`` URL in
its place. :func:`request_from_body` does the reverse, so a body round-trips to the same request.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from seedance_widgets.api import catalog
from seedance_widgets.api.catalog import ARK_BYTEPLUS, ARK_VOLCENGINE, ModelSpec
from seedance_widgets.api.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ContentPolicyError,
    NotFoundError,
    QuotaError,
    RateLimitError,
    ServerError,
    ValidationError,
    error_from_response,
)
from seedance_widgets.api.media import sniff_image_type
from seedance_widgets.api.models import (
    AUDIO_ROLE,
    CANCELLED,
    COMPLETED,
    EXPIRED,
    FAILED,
    IN_PROGRESS,
    MODEL_DEFAULT,
    QUEUED,
    VIDEO_ROLE,
    GenerationRequest,
    Task,
    as_int,
)

from .base import CANCEL, FIND_BY_BUSINESS_ID, LIST
from .toapis import check_business_id

NAME = "ark"
#: The provider as messages name it.
LABEL = "Ark"
LOST_TASK_HINT = "Ark's task list (list_tasks)"
#: Base URLs by region (keys: the catalogue's region names). Digest section B.
ARK_BASE_URLS: dict[str, str] = {
    ARK_VOLCENGINE: "https://ark.cn-beijing.volces.com/api/v3",
    ARK_BYTEPLUS: "https://ark.ap-southeast.bytepluses.com/api/v3",
}
DEFAULT_REGION = ARK_VOLCENGINE
#: Create and list; relative to the base URL, which ends in ``/api/v3`` (SDK ``tasks.py``).
TASKS_PATH = "/contents/generations/tasks"
#: Get and delete one task.
TASK_PATH = TASKS_PATH + "/{id}"
#: A create is a POST to the task list (``base.WireProtocol.CREATE_PATH``).
CREATE_PATH = TASKS_PATH
#: What Ark cannot do, and the way out (``base.WireProtocol.UNSUPPORTED``).
UNSUPPORTED: Mapping[str, str] = {
    FIND_BY_BUSINESS_ID: "Ark has no client_business_id: a task cannot be found by it; use list_tasks() "
    "(the ToAPIs gateway finds tasks by business id)",
}
FINDS_BY_BUSINESS_ID = FIND_BY_BUSINESS_ID not in UNSUPPORTED
CAN_CANCEL = CANCEL not in UNSUPPORTED
CAN_LIST = LIST not in UNSUPPORTED
#: Task replies carry ``usage.completion_tokens``, which the catalogue prices (``cost_from_tokens``).
REPORTS_COST = True
#: Ark has no upload endpoint: local images travel inline as ``data:`` URLs; videos cannot.
UPLOADS_MEDIA = False

#: ``execution_expires_after`` bounds in seconds (digest section B): how long a task may wait
#: in the queue before it ends ``expired`` (unbilled).
MIN_EXPIRES_AFTER, MAX_EXPIRES_AFTER = 3600, 259200
#: What we send for a flex task when the caller gives no window: 48 h, inside the documented
#: range, so the engine knows the window instead of relying on an unstated server default.
FLEX_EXPIRES_AFTER = 172800
#: Tasks per list page: Ark's SDK passes ``page_size`` through; we keep to 1-500 (our cap; the
#: documented default page is 10).
MAX_PAGE_SIZE = 500

#: One image's largest decoded size in a ``data:`` URL. Digest section A lists the 2.0 family's
#: image limit as "under 30 MB" and the whole request "under 64 MB" (the gateway's page mirrors
#: Ark's); we hold Ark's bodies to the same numbers.
MAX_INLINE_IMAGE_BYTES = 30 * 1024 * 1024
#: Largest create body we send (its ``data:`` URLs included), same source.
MAX_BODY_BYTES = 64 * 1024 * 1024
#: MIME types we inline (judged by content). Ark also lists bmp/tiff; we cannot check those by content.
INLINE_IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")

#: The stand-in host of a local image (RFC 2606 reserves ``.invalid``: it never resolves).
INLINE_HOST = "inline.seedance-widgets.invalid"
_INLINE_URL = re.compile(rf"https://{re.escape(INLINE_HOST)}/sha256/([0-9a-f]{{64}})")
_DATA_URL = re.compile(r"data:(image/[a-z0-9.+-]+);base64,([A-Za-z0-9+/=\s]*)", re.DOTALL)

#: Ark's status words -> ours (SDK type docstring: running, failed, queued, succeeded, cancelled;
#: digest: expired).
STATUS_MAP: dict[str, str] = {
    "queued": QUEUED,
    "running": IN_PROGRESS,
    "succeeded": COMPLETED,
    "failed": FAILED,
    "cancelled": CANCELLED,
    "expired": EXPIRED,
}
#: Ark's words for a status filter, from ours (``list_tasks(status=...)`` takes either).
STATUS_FILTERS: dict[str, str] = {ours: theirs for theirs, ours in STATUS_MAP.items()}
#: Video URLs live 24 h after the task finishes (digest section B).
VIDEO_URL_SECONDS = 24 * 3600

WEB_SEARCH_TOOL = {"type": "web_search"}
_IMAGE_ROLES = ("first_frame", "last_frame", "reference_image")
#: Top-level fields the SDK's create sends that we accept in a body but do not model.
_IGNORED_FIELDS = frozenset({"watermark", "callback_url", "safety_identifier", "priority"})
_KNOWN_FIELDS = frozenset(
    {
        "model",
        "content",
        "resolution",
        "ratio",
        "duration",
        "seed",
        "camera_fixed",
        "generate_audio",
        "return_last_frame",
        "tools",
        "service_tier",
        "execution_expires_after",
    }
)


# ---- regions and models ------------------------------------------------------------------------


def check_region(region: Any) -> str:
    """``region`` when it names an Ark platform (None: the default, Volcengine)."""
    if region is None:
        return DEFAULT_REGION
    if isinstance(region, str) and region in ARK_BASE_URLS:
        return region
    raise ValidationError("region", region, "one of " + ", ".join(ARK_BASE_URLS))


def region_for_base_url(url: str) -> str | None:
    """The region a base URL belongs to (BytePlus hosts end in ``bytepluses.com``), else None."""
    host = url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
    if host.endswith(("bytepluses.com", "byteplus.com")):
        return ARK_BYTEPLUS
    if host.endswith(("volces.com", "volcengine.com")):
        return ARK_VOLCENGINE
    return None


def spec_for_ark_id(ark_id: Any, region: str | None = None) -> ModelSpec | None:
    """The catalogue spec whose Ark id (in ``region``, or any region) is ``ark_id``, else None."""
    for spec in catalog.MODELS.values():
        for where, ident in spec.ark_ids.items():
            if ident == ark_id and (region is None or where == region):
                return spec
    return None


# ---- local images as data: URLs ------------------------------------------------------------------


def inline_url(data: bytes) -> str:
    """The stand-in URL of a local image: content-addressed, so equal pictures get equal URLs."""
    return f"https://{INLINE_HOST}/sha256/{hashlib.sha256(data).hexdigest()}"


def is_inline_url(url: Any) -> bool:
    """Whether ``url`` is a stand-in for a local image (it is never fetched; only Ark takes it)."""
    return isinstance(url, str) and _INLINE_URL.fullmatch(url) is not None


def data_url(data: bytes, name: str = "image") -> str:
    """``data:<mime>;base64,...`` of a local image; type judged by content; size within Ark's limit.

    Raises :class:`ValidationError` naming the limit and the way out (an http(s) URL) before
    anything is sent.
    """
    mime = sniff_image_type(data[:16])
    if mime not in INLINE_IMAGE_TYPES:
        allowed = "a JPEG, PNG, WebP or GIF image"
        raise ValidationError("image", name, allowed, f"{name} is not {allowed} (judged by its content)")
    if len(data) > MAX_INLINE_IMAGE_BYTES:
        raise ValidationError(
            "image",
            name,
            f"at most {MAX_INLINE_IMAGE_BYTES // 2**20} MB",
            f"{name} is {len(data)} bytes; Ark takes a local image inline (as a data: URL) only up to "
            f"{MAX_INLINE_IMAGE_BYTES // 2**20} MB: make it smaller, or put it online and pass its "
            "http(s) URL",
        )
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def decode_data_url(url: str, field: str = "image_url.url") -> bytes:
    """The picture in a ``data:image/...;base64,`` URL, checked as :func:`data_url` checks it."""
    match = _DATA_URL.fullmatch(url)
    shown = url[:40] + "..." if len(url) > 40 else url
    if match is None:
        raise ValidationError(field, shown, "data:image/<type>;base64,<data>")
    try:
        data = base64.b64decode("".join(match.group(2).split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(field, shown, "valid base64 after 'base64,'") from None
    if sniff_image_type(data[:16]) != match.group(1):
        raise ValidationError(field, shown, f"a {match.group(1)} image (its bytes say otherwise)")
    data_url(data, field)  # same type and size rules as the client's
    return data


# ---- request -> body -----------------------------------------------------------------------------


def build_body(
    request: GenerationRequest,
    *,
    region: str | None = None,
    inline: Mapping[str, str] | None = None,
    execution_expires_after: int | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST {TASKS_PATH}`` for ``request`` on ``region``'s Ark.

    ``inline`` maps the stand-in URLs of local images (:func:`inline_url`) to their ``data:``
    URLs (the client passes its own); a stand-in missing from it is refused. Without
    ``inline`` (a body for people to read, e.g. in the ledger) stand-ins stay as they are.
    Refuses, before any call, a model Ark lacks in ``region`` (naming who has it), a bad
    ``execution_expires_after``, and a body over :data:`MAX_BODY_BYTES`.
    """
    if not isinstance(request, GenerationRequest):
        raise ValidationError("request", request, "a GenerationRequest")
    model = catalog.ark_model_id(request.spec, check_region(region))
    body: dict[str, Any] = {
        "model": model,
        "content": _content(request, inline),
        "resolution": request.resolution,
        "ratio": request.aspect_ratio,
        "duration": request.duration,
        **_switches(request),
    }
    if request.service_tier != "default":
        body["service_tier"] = request.service_tier
        if execution_expires_after is None:
            execution_expires_after = FLEX_EXPIRES_AFTER
    if execution_expires_after is not None:
        body["execution_expires_after"] = check_expires_after(execution_expires_after)
    if inline is not None:
        _check_body_size(body)
    return body


def create_body(
    request: GenerationRequest,
    *,
    business_id: str | None,
    region: str | None,
    inline: Mapping[str, str],
    execution_expires_after: int | None,
) -> dict[str, Any]:
    """The body a create sends (``base.WireProtocol``): :func:`build_body` with local images
    inlined. Ark has no field for ``business_id``: it is checked by the gateway's rule and not sent."""
    if business_id is not None:
        check_business_id(business_id)
    return build_body(request, region=region, inline=inline, execution_expires_after=execution_expires_after)


def ledger_body(request: GenerationRequest, *, business_id: str | None, region: str | None) -> dict[str, Any]:
    """The create body for the ledger: local pictures stay as their stand-in URLs (by hash), so
    the ledger never holds image data; ``business_id`` is not Ark's."""
    return build_body(request, region=region)


def dry_run_body(
    request: GenerationRequest, media: Sequence[tuple[str, str]], *, region: str | None
) -> dict[str, Any]:
    """:func:`build_body` (stand-ins kept) with its media items' URLs replaced in order by
    ``media``'s references of the same role."""
    body = build_body(request, region=region)
    given: dict[str, list[str]] = {}
    for role, ref in media:
        given.setdefault(role, []).append(ref)
    for item in body.get("content", ()):
        refs = given.get(item.get("role", ""))
        kind = item.get("type", "")
        if refs and kind in item and isinstance(item[kind], dict):
            item[kind] = {**item[kind], "url": refs.pop(0)}
    return body


def check_local_video(field: str, value: Any, tail: str = "") -> None:
    """Refuse a local reference video: Ark has no upload endpoint (``tail`` ends the message)."""
    raise ValidationError(
        field,
        value,
        "an http(s) URL of a video already online",
        "Ark has no upload endpoint, so a local reference video cannot be sent: put it online and pass "
        "its http(s) URL (or use the ToAPIs gateway, which uploads local videos)" + tail,
    )


def _content(request: GenerationRequest, inline: Mapping[str, str] | None) -> list[dict[str, Any]]:
    """The prompt, then images (effective roles), reference videos and reference audio."""
    content: list[dict[str, Any]] = [{"type": "text", "text": request.prompt}]
    for image in request.roles:
        url = _sent_url(image.url, inline)
        content.append({"type": "image_url", "image_url": {"url": url}, "role": image.role})
    for video in request.video_with_roles:
        content.append({"type": "video_url", "video_url": {"url": video.url}, "role": VIDEO_ROLE})
    for audio in request.audio_with_roles:
        content.append({"type": "audio_url", "audio_url": {"url": audio.url}, "role": AUDIO_ROLE})
    return content


def _switches(request: GenerationRequest) -> dict[str, Any]:
    """Top-level optional fields: sound (models that make it), seed when set, switches when on."""
    out: dict[str, Any] = {}
    if request.spec.audio != "none":
        out["generate_audio"] = request.audio
    if request.seed is not None:
        out["seed"] = request.seed
    if request.camera_fixed:
        out["camera_fixed"] = True
    if request.return_last_frame:
        out["return_last_frame"] = True
    if request.web_search:
        out["tools"] = [dict(WEB_SEARCH_TOOL)]
    return out


def _sent_url(url: str, inline: Mapping[str, str] | None) -> str:
    if inline is None or not is_inline_url(url):
        return url
    found = inline.get(url)
    if found is None:
        raise ValidationError(
            "image_with_roles.url",
            url,
            "a local image this client holds",
            f"the local image {url.rsplit('/', 1)[-1][:12]}... is not held by this client (it was added "
            "through another client or before a restart): give the image again",
        )
    return found


def _check_body_size(body: Mapping[str, Any]) -> None:
    # Only the data: URLs can make a body large; each character is one byte of JSON.
    size = sum(len(item["image_url"]["url"]) for item in body["content"] if item["type"] == "image_url")
    if size > MAX_BODY_BYTES:
        raise ValidationError(
            "image_with_roles",
            f"{size} bytes of inline images",
            f"a create body under {MAX_BODY_BYTES // 2**20} MB",
            f"the local images make a {size // 2**20} MB request; Ark takes at most "
            f"{MAX_BODY_BYTES // 2**20} MB: use fewer or smaller images, or put them online and pass "
            "their http(s) URLs",
        )


def check_expires_after(value: Any) -> int:
    """``execution_expires_after`` as whole seconds within 3600-259200 (digest section B)."""
    allowed = f"whole seconds from {MIN_EXPIRES_AFTER} (1 h) to {MAX_EXPIRES_AFTER} (72 h)"
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not MIN_EXPIRES_AFTER <= value <= MAX_EXPIRES_AFTER
    ):
        raise ValidationError("execution_expires_after", value, allowed)
    return value


# ---- body -> request -------------------------------------------------------------------------


def request_from_body(body: Any, *, region: str | None = None) -> GenerationRequest:
    """Parse an Ark create body back into a validated request (what the emulator checks with).

    Strict: an unknown model id for ``region``, a field Ark does not document, a content item
    of an unknown type or role, more than one text, a broken ``data:`` URL, a bad
    ``service_tier`` or ``execution_expires_after`` are refused, naming the field. ``data:``
    URLs come back as their stand-in URLs (:func:`inline_url`).

    Two catalogue models can share one Ark id (``seedance-2`` and ``doubao-seedance-2-0`` are the
    same model on Ark): the request gets the first, in catalogue order, whose limits take the body.
    """
    if not isinstance(body, Mapping):
        raise ValidationError("body", body, "a JSON object")
    region = check_region(region)
    specs = _specs_of(body.get("model"), region)
    unknown = sorted(str(k) for k in body if k not in _KNOWN_FIELDS and k not in _IGNORED_FIELDS)
    if unknown:
        raise ValidationError(
            unknown[0], body[unknown[0]], "fields of Ark's create body: " + ", ".join(sorted(_KNOWN_FIELDS))
        )
    prompt, images, videos, audios = _read_content(body.get("content"))
    if "execution_expires_after" in body:
        check_expires_after(body["execution_expires_after"])
    first: ValidationError | None = None
    for spec in specs:
        try:
            return _request(body, spec, (prompt, images, videos, audios))
        except ValidationError as err:
            first = first or err
    assert first is not None
    raise first


_Content = tuple[Any, list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]


def _request(body: Mapping[str, Any], spec: ModelSpec, content: _Content) -> GenerationRequest:
    prompt, images, videos, audios = content
    return GenerationRequest(
        prompt=prompt,
        duration=body.get("duration", MODEL_DEFAULT),
        aspect_ratio=body.get("ratio", MODEL_DEFAULT),
        resolution=body.get("resolution", MODEL_DEFAULT),
        audio=body.get("generate_audio", MODEL_DEFAULT),
        seed=body.get("seed"),
        camera_fixed=body.get("camera_fixed", False),
        image_with_roles=tuple(images),  # type: ignore[arg-type]
        model=spec.id,
        video_with_roles=tuple(videos),  # type: ignore[arg-type]
        audio_with_roles=tuple(audios),  # type: ignore[arg-type]
        return_last_frame=body.get("return_last_frame", False),
        web_search=_web_search(body.get("tools")),
        service_tier=body.get("service_tier", "default"),
    )


def execution_expires_after(body: Mapping[str, Any]) -> int | None:
    """The body's ``execution_expires_after`` (checked), or None when it has none."""
    value = body.get("execution_expires_after")
    return None if value is None else check_expires_after(value)


def _specs_of(model: Any, region: str) -> list[ModelSpec]:
    specs = [s for s in catalog.MODELS.values() if model is not None and s.ark_ids.get(region) == model]
    if specs:
        return specs
    known = [s.ark_ids[region] for s in catalog.MODELS.values() if region in s.ark_ids]
    elsewhere = spec_for_ark_id(model)
    hint = ""
    if elsewhere is not None:
        hint = f" ({model!r} is {elsewhere.label}'s id on another Ark region)"
    raise ValidationError(
        "model",
        model,
        "one of " + ", ".join(known),
        f"model={str(model)[:80]!r} is not a Seedance model id on Ark {region}{hint}; "
        f"known: {', '.join(known)}",
    )


def _read_content(content: Any) -> _Content:
    if not isinstance(content, list) or not content:
        raise ValidationError("content", content, "a non-empty list of content items")
    prompt: Any = None
    images: list[dict[str, Any]] = []
    videos: list[dict[str, Any]] = []
    audios: list[dict[str, Any]] = []
    for item in content:
        if not isinstance(item, Mapping):
            raise ValidationError("content", item, "objects with a 'type'")
        kind = item.get("type")
        if kind == "text":
            if prompt is not None:
                raise ValidationError("content", item, "exactly one text item (the prompt)")
            prompt = item.get("text")
        elif kind == "image_url":
            role = item.get("role", "first_frame")
            if role not in _IMAGE_ROLES:
                raise ValidationError("content.role", role, "first_frame, last_frame or reference_image")
            url = _item_url(item, "image_url")
            if isinstance(url, str) and url.startswith("data:"):
                url = inline_url(decode_data_url(url, "content.image_url.url"))
            images.append({"url": url, "role": role})
        elif kind in ("video_url", "audio_url"):
            role = VIDEO_ROLE if kind == "video_url" else AUDIO_ROLE
            if item.get("role", role) != role:
                raise ValidationError("content.role", item.get("role"), f"{role} for a {kind} item")
            (videos if kind == "video_url" else audios).append({"url": _item_url(item, kind), "role": role})
        else:
            raise ValidationError("content.type", kind, "text, image_url, video_url or audio_url")
    if prompt is None:
        raise ValidationError("content", content, "a text item holding the prompt")
    return prompt, images, videos, audios


def _item_url(item: Mapping[str, Any], kind: str) -> Any:
    holder = item.get(kind)
    if not isinstance(holder, Mapping):
        raise ValidationError(f"content.{kind}", holder, "an object {'url': ...}")
    return holder.get("url")


def _web_search(tools: Any) -> bool:
    if tools is None or tools == []:
        return False
    if isinstance(tools, list) and all(isinstance(t, Mapping) and dict(t) == WEB_SEARCH_TOOL for t in tools):
        return True
    raise ValidationError("tools", tools, '[{"type": "web_search"}] (the only tool we send)')


# ---- replies -> Task -------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def status_of(value: Any) -> str:
    """Our status for Ark's word (running -> in_progress, succeeded -> completed, ...); an unknown
    word is kept verbatim (not final: the task is still watched)."""
    if not isinstance(value, str) or not value.strip():
        return "unknown"
    return STATUS_MAP.get(value.strip().lower(), value)


#: Settings a task reply echoes, kept in ``Task.metadata`` (numbers, text and switches only).
_ECHOED = ("resolution", "ratio", "duration", "framespersecond", "generate_audio", "execution_expires_after")


def parse_task(data: Any) -> Task:
    """A get (or list item, or create) reply as a Task. Tolerant: missing fields become None.

    ``model`` is the catalogue id when the Ark id is known (Ark's own id stays in ``raw`` and
    ``metadata["ark_model"]``); ``usage_tokens`` is ``usage.completion_tokens``; ``expires_at``
    is the video URL's end (finished + 24 h) for a completed task.
    """
    if not isinstance(data, Mapping):
        data = {}
    status = status_of(data.get("status")) if "status" in data else QUEUED  # create replies: id only
    content = data.get("content") if isinstance(data.get("content"), Mapping) else {}
    error = data.get("error") if isinstance(data.get("error"), Mapping) else {}
    usage = data.get("usage") if isinstance(data.get("usage"), Mapping) else {}
    updated = as_int(data.get("updated_at"))
    final = status in (COMPLETED, FAILED, CANCELLED, EXPIRED)
    ark_model = _text(data.get("model"))
    spec = spec_for_ark_id(ark_model) if ark_model else None
    metadata: dict[str, Any] = {
        key: data[key] for key in _ECHOED if isinstance(data.get(key), (str, int, float))
    }
    if ark_model:
        metadata["ark_model"] = ark_model
    tokens = usage.get("completion_tokens")
    return Task(
        id=_text(data.get("id")) or "",
        status=status,
        progress=100 if status == COMPLETED else 0,
        created_at=as_int(data.get("created_at")),
        completed_at=updated if final else None,
        expires_at=updated + VIDEO_URL_SECONDS if status == COMPLETED and updated is not None else None,
        video_url=_text(content.get("video_url")),
        error_code=_code(error.get("code")),
        error_message=_text(error.get("message")),
        seed=as_int(data.get("seed")),
        model=spec.id if spec is not None else ark_model,
        metadata=metadata,
        raw=dict(data),
        last_frame_url=_text(content.get("last_frame_url")),
        usage_tokens=tokens
        if isinstance(tokens, int) and not isinstance(tokens, bool) and tokens >= 0
        else None,
        service_tier=_text(data.get("service_tier")),
        protocol=NAME,
    )


def unwrap(data: Any) -> Any:
    """Ark's replies are not wrapped: the task object is the reply."""
    return data


def parse_create_reply(data: Mapping[str, Any]) -> Task | None:
    """Ark's create reply holds only ``{"id": ...}``: that task, queued; a reply with a status
    is read like a poll reply (None)."""
    return parse_task(data) if data.get("status") is None else None


def as_sent(task: Task, request: GenerationRequest) -> Task:
    """Ark's create reply names only the id: fill in the model and tier that were sent."""
    return dataclasses.replace(
        task, model=task.model or request.model, service_tier=task.service_tier or request.service_tier
    )


def _code(value: Any) -> str | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    return str(value) if isinstance(value, (str, int)) else None


def parse_task_list(data: Any) -> list[Task]:
    """The tasks of a list reply (``{"total", "items": [...]}``); items that are not objects are skipped."""
    items = data.get("items") if isinstance(data, Mapping) else None
    if not isinstance(items, list):
        return []
    return [parse_task(item) for item in items if isinstance(item, Mapping)]


# ---- errors ----------------------------------------------------------------------------------


class ArkAuthenticationError(AuthenticationError):
    summary = "Ark refused the key: check ARK_API_KEY (and that it belongs to this region)"


class ArkAccessDeniedError(AuthenticationError):
    summary = "Ark denied access: activate the model in the Ark console, or check the key's permissions"


#: Ark codes whose HTTP status alone would say less (Ark's error code pages). Content-safety
#: codes end in ``SensitiveContentDetected`` (with suffixes such as ``.SevereViolation``).
CODE_ERRORS: dict[str, type[APIError]] = {
    "AuthenticationError": ArkAuthenticationError,
    "AccessDenied": ArkAccessDeniedError,
    "AccountOverdueError": QuotaError,
    "InvalidEndpointOrModel.NotFound": NotFoundError,
    "InvalidEndpoint.NotFound": NotFoundError,
    "ModelAccountRpmRateLimitExceeded": RateLimitError,
    "ModelAccountTpmRateLimitExceeded": RateLimitError,
    "RateLimitExceeded.EndpointRPMExceeded": RateLimitError,
    "RateLimitExceeded.EndpointTPMExceeded": RateLimitError,
    "QuotaExceeded": RateLimitError,
    "ServerOverloaded": RateLimitError,
    "InvalidParameter": BadRequestError,
    "MissingParameter": BadRequestError,
}
#: Codes that mean "back off the whole account" (the engine's account-wide wait).
RATE_LIMIT_CODES = frozenset(code for code, cls in CODE_ERRORS.items() if cls is RateLimitError)


def is_content_code(code: Any) -> bool:
    """Whether an Ark error code is a content-safety refusal (input text/image/video, output video)."""
    return isinstance(code, str) and "SensitiveContentDetected" in code


def error_from_reply(
    status: int, body: Any, retry_after: float | None = None, fallback_text: str = ""
) -> APIError:
    """The typed error of an Ark error reply (``{"error": {"code", "message", "type"}}``).

    By code first (see :data:`CODE_ERRORS`; content-safety codes -> :class:`ContentPolicyError`
    with the code kept), else by HTTP status as for ToAPIs (401 -> the Ark auth error, 403 -> access
    denied, 429 -> :class:`RateLimitError`, 5xx -> :class:`ServerError`).
    """
    base = error_from_response(status, body, retry_after, fallback_text)
    code = base.code
    cls: type[APIError] | None = CODE_ERRORS.get(code) if isinstance(code, str) else None
    if cls is None and is_content_code(code):
        cls = ContentPolicyError
    if cls is None:
        cls = {401: ArkAuthenticationError, 403: ArkAccessDeniedError}.get(status)
    if cls is None or cls is type(base):
        return base
    return cls(base.gateway_message, status=status, code=code, type=base.type, retry_after=retry_after)


__all__ = [
    "ARK_BASE_URLS",
    "CAN_CANCEL",
    "CAN_LIST",
    "CREATE_PATH",
    "DEFAULT_REGION",
    "FINDS_BY_BUSINESS_ID",
    "LABEL",
    "LOST_TASK_HINT",
    "REPORTS_COST",
    "UNSUPPORTED",
    "UPLOADS_MEDIA",
    "FLEX_EXPIRES_AFTER",
    "INLINE_HOST",
    "MAX_BODY_BYTES",
    "MAX_EXPIRES_AFTER",
    "MAX_INLINE_IMAGE_BYTES",
    "MIN_EXPIRES_AFTER",
    "NAME",
    "RATE_LIMIT_CODES",
    "STATUS_MAP",
    "TASKS_PATH",
    "TASK_PATH",
    "ArkAccessDeniedError",
    "ArkAuthenticationError",
    "ServerError",
    "as_sent",
    "build_body",
    "check_expires_after",
    "check_local_video",
    "check_region",
    "create_body",
    "data_url",
    "decode_data_url",
    "dry_run_body",
    "error_from_reply",
    "execution_expires_after",
    "inline_url",
    "is_content_code",
    "is_inline_url",
    "ledger_body",
    "parse_create_reply",
    "parse_task",
    "parse_task_list",
    "region_for_base_url",
    "request_from_body",
    "spec_for_ark_id",
    "status_of",
    "unwrap",
]
