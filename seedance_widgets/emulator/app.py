"""The emulator's HTTP surface: the gateway's endpoints, its files, and control endpoints.

Validation is the protocol layer's own (``protocols.toapis.request_from_body`` against each
model's spec in the catalogue: placement, ranges, roles, counts, modes), so the emulator refuses
exactly what the client would refuse, with the gateway's 400 shape. Every catalogue model is
served. ``GET /v1/videos/generations/{id}`` also answers for a ``client_business_id``.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive

from seedance_widgets.api import ValidationError, sniff_image_type
from seedance_widgets.api.media import sniff_video_type
from seedance_widgets.api.protocols import toapis

from .ark_routes import ark_routes
from .middleware import FaultMiddleware, error_body
from .state import FRAME_PREFIX, UPLOAD_PREFIX, VIDEO_PREFIX, BusinessIdTaken, EmulatorState

#: Room for the multipart envelope around an image at the size cap.
MULTIPART_OVERHEAD = 64 * 1024
#: A create body is a few hundred bytes; anything near this is a mistake or an attack.
MAX_JSON_BYTES = 1024 * 1024


def build_app(state: EmulatorState) -> FaultMiddleware:  # noqa: C901, PLR0915  -- every route is a closure over state; split later
    """The ASGI application of one emulator run."""

    def unauthorized(request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        key = key.strip()
        expected = state.config.api_key
        ok = scheme.lower() == "bearer" and bool(key)
        if ok and expected is not None:
            ok = hmac.compare_digest(key.encode(), expected.encode())
        if ok:
            return None
        # Never echo what was sent: it may be a real key.
        return JSONResponse(
            error_body(401, "Authentication failed, please check your API key", "authentication_error"), 401
        )

    async def create(request: Request) -> Response:
        if (denied := unauthorized(request)) is not None:
            return denied
        raw = await _read_capped(request, MAX_JSON_BYTES)
        if raw is None:
            return JSONResponse(error_body(400, "The request body is too large", "invalid_request"), 400)
        try:
            body = json.loads(raw)
        except ValueError:
            return JSONResponse(error_body(400, "The request body is not valid JSON", "invalid_request"), 400)
        try:
            generation = toapis.request_from_body(body)
            business_id = body.get("client_business_id")
            if business_id is not None:
                business_id = toapis.check_business_id(business_id)
        except (ValidationError, ValueError, TypeError) as err:  # the gateway answers 400 to any bad body
            return JSONResponse(error_body(400, str(err), "invalid_request"), 400)
        banned = state.config.banned_word
        if banned and banned.lower() in generation.prompt.lower():
            return JSONResponse(
                error_body(
                    422,
                    "Your request was rejected by the content policy: the prompt contains restricted content",
                    "content_policy_violation",
                ),
                422,
            )
        try:
            record = state.create_task(generation, business_id)
        except BusinessIdTaken as err:
            return JSONResponse(error_body(400, str(err), "invalid_request"), 400)
        return JSONResponse(state.task_json(record))

    async def poll(request: Request) -> Response:
        if (denied := unauthorized(request)) is not None:
            return denied
        record = state.lookup(request.path_params["task_id"])
        if record is None:
            return JSONResponse(error_body(404, "Task not found", "task_not_found"), 404)
        return JSONResponse(state.task_json(record))

    async def upload(request: Request, kind: str) -> Response:
        """``POST /v1/uploads/images`` and ``/v1/uploads/videos``: one ``file``, typed by its content."""
        if (denied := unauthorized(request)) is not None:
            return denied
        cap = state.config.max_upload_bytes if kind == "image" else state.config.max_video_upload_bytes
        too_large = JSONResponse(
            {"success": False, "message": f"{kind.title()} too large. Maximum size is {_megabytes(cap)}MB"},
            400,
        )
        raw = await _read_capped(request, cap + MULTIPART_OVERHEAD)
        if raw is None:
            return too_large
        replay = Request(request.scope, _replay(raw))
        try:
            form = await replay.form(max_files=1, max_fields=10)
        except Exception:
            return JSONResponse(
                {"success": False, "message": "Expected a multipart form with a 'file' field"}, 400
            )
        try:
            item = form.get("file")
            if item is None or isinstance(item, str):
                return JSONResponse({"success": False, "message": "Missing form field 'file'"}, 400)
            data = await item.read()
        finally:
            await form.close()
        if len(data) > cap:
            return too_large
        mime = sniff_image_type(data[:16]) if kind == "image" else sniff_video_type(data[:64])
        if mime is None:
            allowed = "JPEG, PNG, WebP, GIF" if kind == "image" else "MP4, WebM, MOV"
            return JSONResponse(
                {"success": False, "message": f"Unsupported {kind} type. Allowed: {allowed}"}, 400
            )
        record = state.add_upload(data, mime)
        return JSONResponse(
            {
                "success": True,
                "message": "",
                "data": {
                    "id": record.id,
                    "url": f"{state.base_url}{UPLOAD_PREFIX}{record.name}",
                    "mime_type": record.mime,
                    "size": record.size,
                },
            }
        )

    async def upload_image(request: Request) -> Response:
        return await upload(request, "image")

    async def upload_video(request: Request) -> Response:
        return await upload(request, "video")

    async def video_file(request: Request) -> Response:
        name = request.path_params["name"]
        task_id = name[: -len(".mp4")] if name.endswith(".mp4") else name
        verdict, path = state.video_state(task_id)
        if verdict == "expired":
            return JSONResponse(error_body(410, "This video has expired", "expired"), 410)
        if path is None:
            return JSONResponse(error_body(404, "No such video", "not_found_error"), 404)
        return FileResponse(path, media_type="video/mp4", filename=None)

    async def frame_file(request: Request) -> Response:
        name = request.path_params["name"]
        verdict, path = state.frame_state(name.removesuffix(".png"))
        if verdict == "expired":
            return JSONResponse(error_body(410, "This image has expired", "expired"), 410)
        if path is None:
            return JSONResponse(error_body(404, "No such image", "not_found_error"), 404)
        return FileResponse(path, media_type="image/png", filename=None)

    async def upload_file(request: Request) -> Response:
        record = state.uploads.get(request.path_params["name"])
        if record is None:
            return JSONResponse(error_body(404, "No such file", "not_found_error"), 404)
        return FileResponse(record.path, media_type=record.mime)

    async def get_stats(request: Request) -> Response:
        return JSONResponse(state.stats())

    async def config_endpoint(request: Request) -> Response:
        if request.method == "POST":
            try:
                changes = json.loads(await request.body() or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("expected a JSON object of settings")
                state.configure(**changes)
            except (ValueError, TypeError) as err:
                return JSONResponse(error_body(400, str(err), "invalid_request"), 400)
        return JSONResponse(state.config.to_json())

    async def reset(request: Request) -> Response:
        state.reset_stats()
        return JSONResponse(state.stats())

    async def home(request: Request) -> Response:
        return PlainTextResponse("Seedance gateway emulator (offline). See /_emulator/stats.\n")

    routes = [
        Route("/v1/videos/generations", create, methods=["POST"]),
        Route("/v1/videos/generations/{task_id}", poll, methods=["GET"]),
        Route(toapis.UPLOAD_IMAGE_PATH, upload_image, methods=["POST"]),
        Route(toapis.UPLOAD_VIDEO_PATH, upload_video, methods=["POST"]),
        Route(VIDEO_PREFIX + "{name}", video_file, methods=["GET", "HEAD"]),
        Route(FRAME_PREFIX + "{name}", frame_file, methods=["GET", "HEAD"]),
        Route(UPLOAD_PREFIX + "{name}", upload_file, methods=["GET", "HEAD"]),
        Route("/_emulator/stats", get_stats, methods=["GET"]),
        Route("/_emulator/config", config_endpoint, methods=["GET", "POST"]),
        Route("/_emulator/reset", reset, methods=["POST"]),
        Route("/", home, methods=["GET"]),
    ]
    return FaultMiddleware(Starlette(routes=routes + ark_routes(state)), state)


def _megabytes(size: int) -> str:
    value = size / (1024 * 1024)
    return f"{value:g}" if value >= 1 else f"{value:.2f}"


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The request body, or None once it passes ``limit`` (the rest is drained, not kept)."""
    declared = request.headers.get("content-length", "")
    chunks: list[bytes] = []
    size = 0
    over = declared.isdigit() and int(declared) > limit
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            over = True
        if not over:
            chunks.append(chunk)
    return None if over else b"".join(chunks)


def _replay(body: bytes) -> Receive:
    """A receive callable that hands ``body`` to a second Request once."""
    messages: AsyncIterator[Message] = _once(body)

    async def receive() -> Message:
        try:
            return await messages.__anext__()
        except StopAsyncIteration:
            return {"type": "http.disconnect"}

    return receive


async def _once(body: bytes) -> AsyncIterator[Message]:
    yield {"type": "http.request", "body": body, "more_body": False}
