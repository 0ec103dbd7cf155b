"""The ToAPIs gateway's wire format: create bodies and task replies.

Where a parameter goes differs between models (``spec.placement``): Seedance 1.5 Pro and the
``doubao-seedance-2-0`` family read ``resolution``, ``seed``, their audio switch and more from
``metadata``; Seedance 1.0 reads ``resolution`` at the top level and ``seed`` from ``metadata``;
the ``seedance-2`` family reads everything at the top level. Names differ too
(``catalog.body_name``): ``audio`` is ``metadata.audio`` on 1.5 Pro and ``generate_audio`` on 2.x,
``camera_fixed`` is ``camerafixed``, ``web_search`` is ``tools: [{"type": "web_search"}]``, and
Seedance 1.0 calls a reference image's role ``reference`` (requests hold ``reference_image``).

:func:`request_from_body` is strict about placement, as a check of our own bodies must be: a
parameter this model reads elsewhere, or does not take at all, is refused naming where it
belongs. Fields no model reads as a parameter (``client_business_id``, ``callback_url``, ...)
are left to the caller. Bodies written by earlier versions (1.5 Pro only) parse unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from seedance_widgets.api import catalog
from seedance_widgets.api.catalog import ModelSpec
from seedance_widgets.api.errors import APIError, ValidationError, error_from_response
from seedance_widgets.api.models import (
    AUDIO_ROLE,
    COMPLETED,
    IMAGE_ROLES,
    MODEL_DEFAULT,
    STATUS_ALIASES,
    TOAPIS_STATUSES,
    VIDEO_ROLE,
    GenerationRequest,
    Task,
    as_int,
    model_spec,
)

from .base import CANCEL, FIND_BY_BUSINESS_ID, LIST

NAME = "toapis"
#: The provider as messages name it.
LABEL = "the gateway"
LOST_TASK_HINT = "the gateway's task list"
CREATE_PATH = "/v1/videos/generations"
#: Poll path; the gateway also answers it for the caller's own ``client_business_id``.
TASK_PATH = "/v1/videos/generations/{id}"
#: What the gateway cannot do, and the way out (``base.WireProtocol.UNSUPPORTED``).
UNSUPPORTED: Mapping[str, str] = {
    CANCEL: "The ToAPIs gateway cannot cancel a task (it has no cancel call); Ark can cancel a queued "
    "one (set ARK_API_KEY, or SeedanceClient(provider='ark'))",
    LIST: "The ToAPIs gateway cannot list tasks; Ark can (set ARK_API_KEY, or "
    "SeedanceClient(provider='ark'))",
}
FINDS_BY_BUSINESS_ID = FIND_BY_BUSINESS_ID not in UNSUPPORTED
CAN_CANCEL = CANCEL not in UNSUPPORTED
CAN_LIST = LIST not in UNSUPPORTED
#: The gateway's ``usage`` is not priced by the catalogue: estimates only.
REPORTS_COST = False
UPLOADS_MEDIA = True
UPLOAD_IMAGE_PATH = "/v1/uploads/images"
UPLOAD_VIDEO_PATH = "/v1/uploads/videos"
WEB_SEARCH_TOOL = {"type": "web_search"}
#: Stand-in URLs of local images on Ark (``protocols.ark.INLINE_HOST``; not imported: ark imports us not).
_INLINE_PREFIX = "https://inline.seedance-widgets.invalid/"
#: Our rule for a client_business_id: it travels in a URL path, so letters, digits and ``._:-``
#: only, starting with a letter or digit, at most 128 characters (the gateway publishes no rule).
BUSINESS_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_MEDIA_FIELDS = ("image_urls", "image_with_roles", "video_with_roles", "audio_with_roles")
#: Every body name any model reads as a parameter (so a misplaced one is recognised).
_PARAM_NAMES = frozenset(
    catalog.body_name(spec, param) for spec in catalog.MODELS.values() for param in spec.placement
) | {"camera_fixed", "audio", "generate_audio", "camerafixed"}


def check_business_id(value: Any) -> str:
    """``value`` when it is usable as a ``client_business_id``; else a ValidationError saying why."""
    allowed = "1 to 128 letters, digits or . _ : - (starting with a letter or digit)"
    if not isinstance(value, str) or not BUSINESS_ID_PATTERN.fullmatch(value):
        raise ValidationError("client_business_id", value, allowed)
    return value


# ---- request -> body ------------------------------------------------------------------------


def build_body(request: GenerationRequest, *, client_business_id: str | None = None) -> dict[str, Any]:  # noqa: C901  -- one branch per optional field; split later
    """The exact JSON body of ``POST /v1/videos/generations`` for ``request`` (documented fields only).

    Always sent: model, prompt, duration, aspect ratio, resolution and (on models with sound)
    the audio switch; the seed when set; the other switches when on; images, videos and audio
    when given; ``client_business_id`` when given (top level, as every model takes it).
    """
    _refuse_ark_only(request)
    spec = request.spec
    body: dict[str, Any] = {"model": request.model, "prompt": request.prompt}
    metadata: dict[str, Any] = {}

    def put(param: str, value: Any) -> None:
        holder = metadata if spec.placement[param] == "metadata" else body
        holder[catalog.body_name(spec, param)] = value

    put("duration", request.duration)
    put("aspect_ratio", request.aspect_ratio)
    if request.image_urls:
        body["image_urls"] = list(request.image_urls)
    if request.image_with_roles:
        body["image_with_roles"] = [
            {"url": r.url, "role": _wire_role(spec, r.role)} for r in request.image_with_roles
        ]
    if request.video_with_roles:
        body["video_with_roles"] = [m.to_json() for m in request.video_with_roles]
    if request.audio_with_roles:
        body["audio_with_roles"] = [m.to_json() for m in request.audio_with_roles]
    put("resolution", request.resolution)
    if "audio" in spec.placement:
        put("audio", request.audio)
    if request.seed is not None:
        put("seed", request.seed)
    if request.camera_fixed:
        put("camera_fixed", True)
    if request.return_last_frame:
        put("return_last_frame", True)
    if request.web_search:
        put("web_search", [dict(WEB_SEARCH_TOOL)])
    if metadata:
        body["metadata"] = metadata
    if client_business_id is not None:
        body["client_business_id"] = check_business_id(client_business_id)
    return body


def create_body(
    request: GenerationRequest,
    *,
    business_id: str | None,
    region: str | None,
    inline: Mapping[str, str],
    execution_expires_after: int | None,
) -> dict[str, Any]:
    """The body a create sends (``base.WireProtocol``): :func:`build_body` with the business id.

    ``region`` and ``inline`` are Ark's (the gateway has neither); ``execution_expires_after``
    is refused, as the gateway has no queue window."""
    if execution_expires_after is not None:
        raise ValidationError(
            "execution_expires_after", execution_expires_after, "None on the ToAPIs gateway (an Ark setting)"
        )
    return build_body(request, client_business_id=business_id)


def ledger_body(request: GenerationRequest, *, business_id: str | None, region: str | None) -> dict[str, Any]:
    """The create body for the ledger: the body sent (the gateway's bodies hold no local data)."""
    return build_body(request, client_business_id=business_id)


#: The body's list of each kind of input, and the roles that go into it.
_MEDIA_LISTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("image_with_roles", IMAGE_ROLES),
    ("video_with_roles", (VIDEO_ROLE,)),
    ("audio_with_roles", (AUDIO_ROLE,)),
)


def dry_run_body(
    request: GenerationRequest, media: Sequence[tuple[str, str]], *, region: str | None
) -> dict[str, Any]:
    """:func:`build_body` (no business id) with each kind of input replaced, when ``media`` has
    any of that kind, by ``media``'s (role, reference) pairs; given images replace ``image_urls``."""
    body = build_body(request)
    for field, roles in _MEDIA_LISTS:
        given = [{"url": ref, "role": role} for role, ref in media if role in roles]
        if given:
            if field == "image_with_roles":
                body.pop("image_urls", None)
            body[field] = given
    return body


def check_local_video(field: str, value: Any, tail: str = "") -> None:
    """The gateway uploads local reference videos: nothing to refuse."""


def _refuse_ark_only(request: GenerationRequest) -> None:
    """Refuse, before any call, what only Ark can take: the flex tier, stand-ins of local images."""
    if request.service_tier != "default":
        # Flex is Ark's offline tier; the gateway has none, and sending it could be ignored silently
        # (billed at the full price) or refused after upload: refuse here, before any call.
        raise ValidationError(
            "service_tier",
            request.service_tier,
            "'default' on the ToAPIs gateway",
            f"service_tier={request.service_tier!r} is an Ark tier: the ToAPIs gateway has none. Use the "
            "Ark provider (set ARK_API_KEY, or SeedanceClient(provider='ark')) or service_tier='default'",
        )
    for item in request.media():
        if item.url.startswith(_INLINE_PREFIX):
            # A stand-in for a local image held by an Ark client (protocols.ark.inline_url): the
            # gateway could never fetch it, so it must not be sent (a failed task may still bill).
            raise ValidationError(
                "image_with_roles.url",
                item.url,
                "an http(s) URL the gateway can fetch",
                "this image is a local picture held by an Ark client; for the ToAPIs gateway upload it "
                "with SeedanceClient.upload_image and use the URL it returns",
            )


def _wire_role(spec: ModelSpec, role: str) -> str:
    """The role name this model's body uses (Seedance 1.0: ``reference`` for a reference image)."""
    if role == "reference_image" and spec.images.reference_role:
        return spec.images.reference_role
    return role


# ---- body -> request ------------------------------------------------------------------------


def request_from_body(body: Any) -> GenerationRequest:
    """Parse a create body back into a request (validated against its model's spec).

    Strict about where parameters sit (see the module docstring); a body without ``model`` is
    a Seedance 1.5 Pro body, as every body of earlier versions was.
    """
    if not isinstance(body, Mapping):
        raise ValidationError("body", body, "a JSON object")
    spec = model_spec(body.get("model", catalog.DEFAULT_MODEL))
    meta = body.get("metadata")
    if meta is None:
        meta = {}
    if not isinstance(meta, Mapping):
        raise ValidationError("metadata", meta, "a JSON object")
    _check_placement(spec, body, meta)

    def read(param: str, default: Any) -> Any:
        if param not in spec.placement:
            return default
        holder = meta if spec.placement[param] == "metadata" else body
        return holder.get(catalog.body_name(spec, param), default)

    return GenerationRequest(
        prompt=body.get("prompt"),  # type: ignore[arg-type]
        duration=read("duration", MODEL_DEFAULT),
        aspect_ratio=read("aspect_ratio", MODEL_DEFAULT),
        resolution=read("resolution", MODEL_DEFAULT),
        audio=read("audio", MODEL_DEFAULT),
        seed=read("seed", None),
        camera_fixed=read("camera_fixed", False),
        image_urls=_list(body, "image_urls", "a list of 1 to 6 http(s) URLs"),  # type: ignore[arg-type]
        image_with_roles=_image_roles(spec, body),  # type: ignore[arg-type]
        model=spec.id,
        video_with_roles=_list(body, "video_with_roles", "a list of {url, role} objects"),  # type: ignore[arg-type]
        audio_with_roles=_list(body, "audio_with_roles", "a list of {url, role} objects"),  # type: ignore[arg-type]
        return_last_frame=read("return_last_frame", False),
        web_search=_web_search(read("web_search", None)),
    )


def _check_placement(spec: ModelSpec, body: Mapping[str, Any], meta: Mapping[str, Any]) -> None:
    """Refuse a parameter this model reads elsewhere, or not at all, naming where it belongs."""
    expected: dict[str, str] = {catalog.body_name(spec, p): where for p, where in spec.placement.items()}
    for where, holder in (("top", body), ("metadata", meta)):
        for name in holder:
            if name in _MEDIA_FIELDS and where == "metadata":
                raise ValidationError(
                    f"metadata.{name}", holder[name], f"{name} at the top level of the body, not in metadata"
                )
            if name not in _PARAM_NAMES or expected.get(name) == where:
                continue
            shown = name if where == "top" else f"metadata.{name}"
            if name in expected:
                right = name if expected[name] == "top" else f"metadata.{name}"
                allowed = f"{right} ({spec.id} reads it {_where_words(expected[name])})"
                text = f"{shown} is misplaced for {spec.id}: it reads {right}, {_where_words(expected[name])}"
            else:
                allowed = f"no {name} ({spec.id} does not take it)"
                text = f"{shown} is not a parameter of {spec.id}" + _takes_instead(spec, name)
            raise ValidationError(shown, holder[name], allowed, text)


def _where_words(where: str) -> str:
    return "inside metadata" if where == "metadata" else "at the top level"


#: Body names that mean the same switch as a neutral parameter, whatever the model calls it.
_SYNONYMS = {
    "audio": "audio",
    "generate_audio": "audio",
    "camerafixed": "camera_fixed",
    "camera_fixed": "camera_fixed",
}


def _takes_instead(spec: ModelSpec, name: str) -> str:
    """ " (it takes metadata.audio)" when the model has this switch under another name, else ""."""
    param = _SYNONYMS.get(name)
    if param is None or param not in spec.placement:
        return ""
    right = catalog.body_name(spec, param)
    return f" (it takes {right if spec.placement[param] == 'top' else 'metadata.' + right})"


def _list(body: Mapping[str, Any], field: str, allowed: str) -> tuple[Any, ...]:
    value = body.get(field) or ()
    if not isinstance(value, (list, tuple)):
        raise ValidationError(field, value, allowed)
    return tuple(value)


def _image_roles(spec: ModelSpec, body: Mapping[str, Any]) -> tuple[Any, ...]:
    """``image_with_roles`` with this model's wire role names checked and made neutral."""
    items = _list(body, "image_with_roles", "a list of {url, role} objects")
    wire = spec.images.reference_role
    out: list[Any] = []
    for item in items:
        if isinstance(item, Mapping) and wire == "reference" and item.get("role") == "reference_image":
            raise ValidationError(
                "image_with_roles.role",
                "reference_image",
                "first_frame, last_frame or reference",
                f"{spec.id} calls a reference image's role 'reference' on the wire, not 'reference_image'",
            )
        out.append(item)  # GenerationRequest turns 1.0's 'reference' into 'reference_image'
    return tuple(out)


def _web_search(tools: Any) -> bool:
    """``tools: [{"type": "web_search"}]`` as a switch; other tools are refused (none is known)."""
    if tools is None or tools == []:
        return False
    if isinstance(tools, list) and all(isinstance(t, Mapping) and dict(t) == WEB_SEARCH_TOOL for t in tools):
        return True
    raise ValidationError("tools", tools, '[{"type": "web_search"}] (the only tool the gateway documents)')


# ---- replies -> Task ------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """A non-empty string field, or None for anything else (numbers, objects, "")."""
    return value if isinstance(value, str) and value else None


def _status(value: Any) -> str:
    """A known status (aliases such as ``submitted`` folded in), else the value verbatim."""
    if value is None or value == "":
        return "unknown"
    text = value if isinstance(value, str) else str(value)
    key = text.strip().lower()
    if key in TOAPIS_STATUSES:
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


def unwrap(data: Any) -> Any:
    """The task object of a reply: some gateways wrap it as ``{"data": {...task...}}``."""
    if isinstance(data, Mapping) and "status" not in data:
        inner = data.get("data")
        if isinstance(inner, Mapping) and "status" in inner:
            return inner
    return data


def _result_urls(data: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(video URL, last-frame URL): ``result.data[0]`` first, then ``result`` and the top level."""
    video = last = None
    result = data.get("result")
    if isinstance(result, Mapping):
        items = result.get("data")
        if isinstance(items, list) and items and isinstance(items[0], Mapping):
            video = _text(items[0].get("url"))
            last = _text(items[0].get("last_frame_url"))
        video = video or _text(result.get("url"))
        last = last or _text(result.get("last_frame_url"))
    return video or _text(data.get("url")), last or _text(data.get("last_frame_url"))


def _error(data: Mapping[str, Any]) -> tuple[str | None, str | None]:
    error = data.get("error")
    if isinstance(error, Mapping):
        code, message = error.get("code"), error.get("message")
        return (
            str(code) if code is not None and code != "" else None,
            str(message) if message is not None and message != "" else None,
        )
    if isinstance(error, str) and error:
        return None, error
    return None, None


def parse_task(data: Any) -> Task:
    """A create or poll reply as a Task (tolerant: missing fields become None, see :class:`Task`)."""
    data = unwrap(data)
    if not isinstance(data, Mapping):
        data = {}
    status = _status(data.get("status"))
    progress = as_int(data.get("progress"))
    if progress is None:
        progress = 100 if status == COMPLETED else 0
    video_url, last_frame_url = _result_urls(data)
    error_code, error_message = _error(data)
    metadata = data.get("metadata") if isinstance(data.get("metadata"), Mapping) else {}
    return Task(
        id=_task_id(data),
        status=status,
        progress=max(0, min(100, progress)),
        created_at=as_int(data.get("created_at")),
        completed_at=as_int(data.get("completed_at")),
        expires_at=as_int(data.get("expires_at")),
        video_url=video_url,
        thumbnail_url=_text(data.get("thumbnail")),
        error_code=error_code,
        error_message=error_message,
        seed=as_int(metadata.get("seed")) if metadata else None,
        model=_text(data.get("model")),
        metadata=dict(metadata),
        raw=dict(data),
        last_frame_url=last_frame_url,
        client_business_id=_text(data.get("client_business_id")),
        usage_tokens=usage_tokens(data.get("usage")),
    )


def parse_create_reply(data: Mapping[str, Any]) -> Task | None:
    """None: the gateway's create reply is a whole task, read like a poll reply."""
    return None


def as_sent(task: Task, request: GenerationRequest) -> Task:
    """The gateway's create reply names the task fully: nothing to fill in."""
    return task


def error_from_reply(
    status: int, body: Any, retry_after: float | None = None, fallback_text: str = ""
) -> APIError:
    """The typed error of a gateway error reply (``errors.error_from_response``)."""
    return error_from_response(status, body, retry_after, fallback_text)


def usage_tokens(usage: Any) -> int | None:
    """Tokens billed, from a ``usage`` object (``completion_tokens``, else ``total_tokens``);
    None when absent or not a non-negative whole number."""
    if not isinstance(usage, Mapping):
        return None
    for key in ("completion_tokens", "total_tokens"):
        value = usage.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


__all__ = [
    "AUDIO_ROLE",
    "BUSINESS_ID_PATTERN",
    "CAN_CANCEL",
    "CAN_LIST",
    "CREATE_PATH",
    "FINDS_BY_BUSINESS_ID",
    "LABEL",
    "LOST_TASK_HINT",
    "NAME",
    "REPORTS_COST",
    "TASK_PATH",
    "UNSUPPORTED",
    "UPLOADS_MEDIA",
    "UPLOAD_IMAGE_PATH",
    "UPLOAD_VIDEO_PATH",
    "VIDEO_ROLE",
    "as_sent",
    "build_body",
    "check_business_id",
    "check_local_video",
    "create_body",
    "dry_run_body",
    "error_from_reply",
    "ledger_body",
    "parse_create_reply",
    "parse_task",
    "request_from_body",
    "unwrap",
]
