"""Ark (Volcengine / BytePlus ModelArk) under ``/api/v3``: the same process, key, renderer and
timeline as the gateway side.

Wire facts, checked against the official SDK (volcengine-python-sdk,
``volcenginesdkarkruntime/resources/content_generation/tasks.py`` and
``types/content_generation/{content_generation_task,list_content_generation_tasks_response}.py``;
byteplus-python-sdk-v2's ``byteplussdkarkruntime`` has the same task fields):
create ``POST /contents/generations/tasks`` -> ``{"id"}``; get ``GET .../tasks/{id}`` ->
``ContentGenerationTask``; list ``GET .../tasks?page_num&page_size&filter.status&filter.task_ids
(repeated)&filter.model&filter.service_tier`` -> ``{"items": [...], "total": n}``; ``DELETE
.../tasks/{id}``. DELETE by status (Ark's "cancel or delete a video generation task" page): queued
-> cancelled; running -> refused; succeeded / failed / expired -> record deleted; cancelled ->
refused. Error replies ``{"error": {"code", "message", "param", "type"}}`` with codes from
ModelArk's common error-code table (docs.byteplus.com/en/docs/ModelArk/1299023).

The emulator's choices where Ark's pages are silent: DELETE of a running or cancelled task answers
400 ``InvalidAction.TaskNotCancellable``; an unknown task id 404 ``ResourceNotFound``; a failed
task's error code ``InternalServiceError``. Images may come as ``data:`` URLs (Ark has no upload
endpoint): they are decoded, checked (type by content, at most ``ark_max_image_bytes``) and kept
as uploads, so the render shows them as it shows uploaded first frames. Bodies are validated by
the protocol layer (``api.protocols.ark.request_from_body``), so the emulator refuses what the
client refuses.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import hmac
import json
import time
from collections.abc import Callable, Coroutine
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from seedance_widgets.api import ValidationError, catalog, sniff_image_type
from seedance_widgets.api.protocols import ark

from .ark_book import (
    ARK_FAILED,
    ARK_STATUSES,
    DEFAULT_EXPIRES_AFTER,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    ArkBook,
    ArkTask,
    NotCancellable,
    QueueFull,
)
from .config import EmulatorConfig
from .state import FRAME_PREFIX, UPLOAD_PREFIX, VIDEO_PREFIX, EmulatorState

ARK_PREFIX = "/api/v3"
TASKS_PATH = ARK_PREFIX + ark.TASKS_PATH
#: Ark's list paging (page_num and page_size run 1-500).
MAX_PAGE = 500
DEFAULT_PAGE_SIZE = 10
#: HTTP status -> Ark's error ``type``.
ERROR_TYPES = {
    400: "BadRequest",
    401: "Unauthorized",
    402: "PaymentRequired",
    403: "Forbidden",
    404: "NotFound",
    429: "TooManyRequests",
    500: "InternalServerError",
    503: "ServiceUnavailable",
}

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


# ---- error shape ------------------------------------------------------------------------------
def ark_error_body(status: int, code: str, message: str, param: str = "") -> dict[str, Any]:
    """Ark's error shape."""
    error_type = ERROR_TYPES.get(status, "Error")
    return {"error": {"code": code, "message": message, "param": param, "type": error_type}}


def ark_error(status: int, code: str, message: str, param: str = "") -> JSONResponse:
    return JSONResponse(ark_error_body(status, code, message, param), status)


def ark_fault_body(fault: str, config: EmulatorConfig) -> dict[str, Any]:
    """What a status fault (402/429/500/503) answers on an Ark route: same status, Ark's code."""
    status = int(fault)
    codes = {
        402: ("AccountOverdueError", "The request failed because your account has an overdue balance."),
        429: (config.ark_rate_limit_code, "The request was rate limited (emulated); retry after a while."),
        500: ("InternalServiceError", "The service encountered an unexpected internal error."),
        503: ("ServerOverloaded", "The service is overloaded (emulated); retry after a while."),
    }
    code, message = codes[status]
    return ark_error_body(status, code, message)


def is_ark_path(path: str) -> bool:
    return path == ARK_PREFIX or path.startswith(ARK_PREFIX + "/")


# ---- models and bodies ----------------------------------------------------------------------------
def model_for_ark_id(ark_id: str) -> tuple[catalog.ModelSpec, str] | None:
    """The catalogue spec and region (``volcengine`` | ``bytepluses``) of an Ark model id."""
    for spec in catalog.MODELS.values():
        for region, known in spec.ark_ids.items():
            if known == ark_id:
                return spec, region
    return None


def inline_images(body: dict[str, Any], state: EmulatorState) -> dict[str, Any]:
    """``body`` with each ``data:`` image URL replaced by an upload of its bytes (``ValidationError``
    naming the item when one is not a base64 JPEG/PNG/WebP/GIF within ``ark_max_image_bytes``)."""
    out = copy.deepcopy(body)
    for index, item in enumerate(out.get("content") or []):
        holder = item.get("image_url") if isinstance(item, dict) else None
        if not isinstance(holder, dict):
            continue
        url = holder.get("url")
        if isinstance(url, str) and url.startswith("data:"):
            data = _decoded(url, f"content[{index}].image_url.url", state.config.ark_max_image_bytes)
            mime = sniff_image_type(data[:16])
            if mime is None:
                allowed = "a data: URL of a JPEG, PNG, WebP or GIF image"
                raise ValidationError(f"content[{index}].image_url.url", url[:40], allowed)
            upload = state.add_upload(data, mime)
            holder["url"] = f"{state.base_url}{UPLOAD_PREFIX}{upload.name}"
    return out


def _decoded(url: str, field: str, cap: int) -> bytes:
    header, sep, payload = url.partition(",")
    if not sep or not header.endswith(";base64"):
        raise ValidationError(field, url[:40], "a base64 data: URL (data:image/png;base64,...)")
    if len(payload) > (cap * 4) // 3 + 4:
        raise ValidationError(field, url[:40], f"an image of at most {cap} bytes")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(field, url[:40], "valid base64 after 'base64,'") from None
    if len(data) > cap:
        raise ValidationError(field, url[:40], f"an image of at most {cap} bytes")
    return data


# ---- replies ------------------------------------------------------------------------------------
def task_json(book: ArkBook, task: ArkTask) -> dict[str, Any]:
    """A task as Ark's get and list replies show it (``ContentGenerationTask``'s fields)."""
    record = task.record
    status, since = book.status(task)
    shape = record.shape or book.state.clip_shape(record.request)
    body: dict[str, Any] = {
        "id": task.id,
        "model": task.model,
        "status": status,
        "created_at": int(record.created_wall),
        "updated_at": int(record.created_wall + (since - record.created_mono)),
        "seed": record.seed,
        "resolution": record.request.resolution,
        "ratio": shape.ratio,
        "duration": shape.duration,
        "framespersecond": task.fps,
        "generate_audio": record.request.audio,
        "service_tier": task.service_tier,
        "execution_expires_after": task.expires_after,
    }
    if status == SUCCEEDED:
        content = {"video_url": f"{book.state.base_url}{VIDEO_PREFIX}{task.id}.mp4"}
        if record.request.return_last_frame:
            content["last_frame_url"] = f"{book.state.base_url}{FRAME_PREFIX}{task.id}.png"
        body["content"] = content
    if status not in (QUEUED, RUNNING):  # final: the bill is known (0 unless it succeeded)
        tokens = book.tokens(task, status)
        body["usage"] = {"completion_tokens": tokens, "total_tokens": tokens}
    if status == ARK_FAILED:
        message = record.failure or "The render crashed (emulator error)"
        body["error"] = {"code": "InternalServiceError", "message": message}
    return body


# ---- routes ---------------------------------------------------------------------------------------
def ark_routes(state: EmulatorState) -> list[Route]:
    """Ark's four task routes over a new :class:`ArkBook` for ``state``."""
    book = ArkBook(state)
    return [
        Route(TASKS_PATH, _guarded(state, lambda r: _create(book, r)), methods=["POST"]),
        Route(TASKS_PATH, _guarded(state, lambda r: _list(book, r)), methods=["GET"]),
        Route(TASKS_PATH + "/{task_id}", _guarded(state, lambda r: _get(book, r)), methods=["GET"]),
        Route(TASKS_PATH + "/{task_id}", _guarded(state, lambda r: _delete(book, r)), methods=["DELETE"]),
    ]


def _guarded(state: EmulatorState, handler: Handler) -> Handler:
    """``handler`` behind Ark's bearer-key check (the same key as the gateway side)."""

    async def route(request: Request) -> Response:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        key = key.strip()
        expected = state.config.api_key
        ok = scheme.lower() == "bearer" and bool(key)
        if ok and expected is not None:
            ok = hmac.compare_digest(key.encode(), expected.encode())
        if not ok:  # never echo what was sent: it may be a real key
            return ark_error(401, "AuthenticationError", "The API key in the request is missing or invalid.")
        return await handler(request)

    return route


async def _create(book: ArkBook, request: Request) -> Response:
    state = book.state
    raw = await _read_capped(request, ark.MAX_BODY_BYTES)
    if raw is None:
        return ark_error(400, "InvalidParameter", "The request body is too large.", "body")
    try:
        body = json.loads(raw)
    except ValueError:
        return ark_error(400, "InvalidParameter", "The request body is not valid JSON.", "body")
    refusal = _check_envelope(body)
    if refusal is not None:
        return refusal
    found = model_for_ark_id(body["model"])
    if found is None:
        message = f"The model or endpoint {body['model']} does not exist or you do not have access to it."
        return ark_error(404, "InvalidEndpointOrModel.NotFound", message, "model")
    region = found[1]
    try:
        expires_after = ark.execution_expires_after(body) or DEFAULT_EXPIRES_AFTER
        generation = ark.request_from_body(inline_images(body, state), region=region)
    except (ValidationError, ValueError, TypeError) as err:
        param = err.field if isinstance(err, ValidationError) else ""
        return ark_error(400, "InvalidParameter", f"The parameter {param or 'body'} is invalid: {err}", param)
    banned = state.config.banned_word
    if banned and banned.lower() in generation.prompt.lower():
        message = "The request failed because the input text may contain sensitive information."
        return ark_error(400, "InputTextSensitiveContentDetected", message, "content")
    try:
        task = book.create(
            generation,
            model=body["model"],
            region=region,
            expires_after=expires_after,
            fps=generation.spec.fps or 24,
        )
    except QueueFull:
        limit = state.config.ark_max_queued
        message = f"The account already has {limit} queued tasks, the most it may hold; wait for some to run."
        return ark_error(429, "QuotaExceeded", message)
    delay = max(0.0, task.queue_end - time.monotonic())
    task.timer = asyncio.get_running_loop().call_later(delay, book.start_render_by_id, task.id)
    return JSONResponse({"id": task.id})


def _check_envelope(body: Any) -> Response | None:
    if not isinstance(body, dict):
        return ark_error(400, "InvalidParameter", "The request body must be a JSON object.", "body")
    if not isinstance(body.get("model"), str) or not body["model"]:
        message = "The request is missing the required parameter model (an Ark model id)."
        return ark_error(400, "MissingParameter", message, "model")
    content = body.get("content")
    if not isinstance(content, list) or not content:
        message = "The request is missing the required parameter content (a list of text and media items)."
        return ark_error(400, "MissingParameter", message, "content")
    return None


async def _get(book: ArkBook, request: Request) -> Response:
    task = book.get(request.path_params["task_id"])
    if task is None:
        return _not_found(request.path_params["task_id"])
    return JSONResponse(task_json(book, task))


async def _delete(book: ArkBook, request: Request) -> Response:
    task_id = request.path_params["task_id"]
    try:
        outcome = book.delete(task_id)
    except NotCancellable as err:
        message = (
            f"The task {task_id} is {err.status}: only a queued task can be cancelled, "
            "and a finished one deleted."
        )
        return ark_error(400, "InvalidAction.TaskNotCancellable", message, "id")
    if outcome is None:
        return _not_found(task_id)
    return JSONResponse({})


async def _list(book: ArkBook, request: Request) -> Response:
    query = request.query_params
    try:
        page_num = _page_number(query.get("page_num"), "page_num", 1)
        page_size = _page_number(query.get("page_size"), "page_size", DEFAULT_PAGE_SIZE)
        status = query.get("filter.status")
        if status is not None and status not in ARK_STATUSES:
            raise ValidationError("filter.status", status, "one of " + ", ".join(ARK_STATUSES))
    except ValidationError as err:
        return ark_error(400, "InvalidParameter", str(err), err.field)
    ids = {part for value in query.getlist("filter.task_ids") for part in value.split(",") if part}
    model, tier = query.get("filter.model"), query.get("filter.service_tier")
    items = [task_json(book, task) for task in book.listing()]
    items = [
        item
        for item in items
        if (status is None or item["status"] == status)
        and (not ids or item["id"] in ids)
        and (model is None or item["model"] == model)
        and (tier is None or item["service_tier"] == tier)
    ]
    start = (page_num - 1) * page_size
    return JSONResponse({"items": items[start : start + page_size], "total": len(items)})


def _page_number(value: str | None, name: str, default: int) -> int:
    if value is None:
        return default
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        raise ValidationError(name, value, f"a whole number from 1 to {MAX_PAGE}")
    return int(value)


def _not_found(task_id: str) -> Response:
    message = f"The task {task_id} was not found (or its record was deleted)."
    return ark_error(404, "ResourceNotFound", message, "id")


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The request body, or None once it passes ``limit`` (the rest is drained, not kept)."""
    declared = request.headers.get("content-length", "")
    chunks: list[bytes] = []
    size = 0
    over = declared.isdigit() and int(declared) > limit
    async for chunk in request.stream():
        size += len(chunk)
        over = over or size > limit
        if not over:
            chunks.append(chunk)
    return None if over else b"".join(chunks)
