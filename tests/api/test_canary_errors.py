"""A canary key through every error path of the protocol layer: zero hits anywhere an error shows.

Each error class is raised the real way (emulator or hostile loopback server; several echo
the key back), then searched: ``str``, ``repr``, args and attributes, the traceback as
``traceback.format_exception`` prints it, the traceback with every frame's local variables
(``TracebackException(..., capture_locals=True)``, what IPython's verbose mode shows), and
every log record at DEBUG. The last test checks that the scenarios cover every error class.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from api_support import SECRET_KEY, SMALL, image_bytes, wait_until_final
from hostile_server import Hostile, Seen, head, reply, trickling_forever

import seedance_widgets.api.errors as errors_module
from seedance_widgets.api import GenerationRequest, RetryPolicy, SeedanceClient, request_cost_usd
from seedance_widgets.api.errors import (
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
)
from seedance_widgets.emulator import Emulator

pytestmark = pytest.mark.reliability
ONE_TRY = RetryPolicy(attempts=1)
#: Pieces of the key that must not show either (a key split by a bad character is still a key).
PIECES = (SECRET_KEY, SECRET_KEY[:14], SECRET_KEY[14:])


@dataclasses.dataclass
class Ctx:
    gateway: Emulator
    client: SeedanceClient
    hostile: Callable[[Callable[[Seen], Any]], Hostile]
    tmp: Path
    dead_url: str
    monkeypatch: pytest.MonkeyPatch


def echo_junk(seen: Seen) -> Any:
    return reply(200, f"<p>not json; you sent {seen.headers.get('authorization')}</p>")


def echo_in(status: int, shape: str = "text") -> Callable[[Seen], Any]:
    """A handler answering ``status`` with the request's Authorization header in the body."""

    def handler(seen: Seen) -> Any:
        sent = seen.headers.get("authorization", "")
        return reply(status, {"error": {"message": f"why {sent}?"}} if shape == "json" else f"denied {sent}")

    return handler


def hostile_client(ctx: Ctx, handler: Callable[[Seen], Any], **settings: Any) -> SeedanceClient:
    server = ctx.hostile(handler)
    return SeedanceClient(SECRET_KEY, server.base_url, retry=ONE_TRY, **settings)


def missing_key(ctx: Ctx) -> None:
    ctx.monkeypatch.delenv("TOAPIS_API_KEY", raising=False)
    SeedanceClient(None, "http://x")


def key_with_tab_from_env(ctx: Ctx) -> None:
    ctx.monkeypatch.setenv("TOAPIS_API_KEY", SECRET_KEY[:14] + "\t" + SECRET_KEY[14:])
    SeedanceClient(None, "http://x")


def wrong_key(ctx: Ctx) -> None:
    ctx.gateway.configure(api_key="sk-another-key-entirely")
    ctx.client.get("task_x")


def upload_too_large(ctx: Ctx) -> None:
    ctx.gateway.configure(max_upload_bytes=10)
    ctx.client.upload_image(image_bytes("PNG"))


def fault(kind: str, name: str, count: int = 10) -> Callable[[Ctx], Any]:
    def run(ctx: Ctx) -> Any:
        ctx.gateway.fail_next(kind, name, count)
        if kind == "create":
            return ctx.client.create(SMALL)
        if kind == "download":
            return ctx.client.download(finished_video(ctx), ctx.tmp / "v.mp4")
        return ctx.client.get("task_x")

    return run


def read_timeout(ctx: Ctx) -> None:
    ctx.gateway.fail_next("get", "hang")
    SeedanceClient(SECRET_KEY, ctx.gateway.base_url, timeout=(2.0, 0.3), retry=ONE_TRY).get("task_x")


def total_deadline(ctx: Ctx) -> None:
    trickler = lambda seen: trickling_forever(0.02, head(200, {"Content-Length": "9999"}))  # noqa: E731
    hostile_client(ctx, trickler, total_timeout=0.5).get("task_x")


def finished_video(ctx: Ctx) -> str:
    task = wait_until_final(ctx.client, ctx.client.create(SMALL).id)
    assert task.video_url
    return task.video_url


SCENARIOS: dict[str, tuple[type[BaseException], Callable[[Ctx], Any]]] = {
    "missing-key": (MissingKeyError, missing_key),
    "key-with-newline": (
        InvalidKeyError,
        lambda ctx: SeedanceClient(SECRET_KEY[:14] + "\n" + SECRET_KEY[14:]),
    ),
    "key-with-typographic-quote": (InvalidKeyError, lambda ctx: SeedanceClient(SECRET_KEY + "\u2019")),
    "key-with-tab-from-env": (InvalidKeyError, key_with_tab_from_env),
    "bad-base-url": (ValidationError, lambda ctx: SeedanceClient(SECRET_KEY, "toapis.com")),
    "bad-task-id": (ValidationError, lambda ctx: ctx.client.get("../task")),
    "wrong-key-401": (AuthenticationError, wrong_key),
    "upload-too-large-400": (BadRequestError, upload_too_large),
    "quota-402": (QuotaError, fault("create", "402", 1)),
    "unknown-task-404": (NotFoundError, lambda ctx: ctx.client.get("task_vid_nowhere")),
    "content-policy-422": (
        ContentPolicyError,
        lambda ctx: ctx.client.create(SMALL.replace(prompt="forbidden")),
    ),
    "rate-limited-429": (RateLimitError, fault("get", "429")),
    "server-500": (ServerError, fault("get", "500")),
    "teapot-418-echoing-the-key": (
        APIError,
        lambda ctx: hostile_client(ctx, echo_in(418, "json")).get("task_x"),
    ),
    "refused-connection": (
        TransportError,
        lambda ctx: SeedanceClient(SECRET_KEY, ctx.dead_url, retry=ONE_TRY).get("x"),
    ),
    "read-timeout": (TransportError, read_timeout),
    "total-deadline": (TransportError, total_deadline),
    "bad-reply-echoing-the-key": (BadReplyError, lambda ctx: hostile_client(ctx, echo_junk).get("task_x")),
    "create-reset": (TaskMayExistError, fault("create", "reset", 1)),
    "create-bad-reply-echoing-the-key": (
        TaskMayExistError,
        lambda ctx: hostile_client(ctx, echo_junk).create(SMALL),
    ),
    "download-truncated": (DownloadError, fault("download", "truncate")),
    "download-refused-url": (
        DownloadError,
        lambda ctx: ctx.client.download("file:///etc/passwd", ctx.tmp / "v"),
    ),
    "download-not-an-mp4-echoing-the-key": (
        DownloadError,
        lambda ctx: hostile_client(ctx, echo_in(200)).download("/v.mp4", ctx.tmp / "v.mp4"),
    ),
    "video-expired-404": (
        URLExpiredError,
        lambda ctx: ctx.client.download("/files/videos/task_vid_gone.mp4", ctx.tmp / "v.mp4"),
    ),
    "no-estimate-for-4k": (
        NoEstimateError,
        lambda ctx: request_cost_usd(GenerationRequest("p", model="seedance-2", resolution="4k")),
    ),
    "find-by-business-id-404-not-the-gateways-echoing-the-key": (
        NotFoundError,
        lambda ctx: hostile_client(ctx, echo_in(404)).find_by_business_id("intent-1"),
    ),
    "last-frame-not-an-image-echoing-the-key": (
        DownloadError,
        lambda ctx: hostile_client(ctx, echo_in(200)).download_image("/f.png", ctx.tmp / "f.png"),
    ),
    "upload-video-not-a-video": (ValidationError, lambda ctx: ctx.client.upload_video(b"not a video at all")),
    "cancel-on-the-gateway": (UnsupportedError, lambda ctx: ctx.client.cancel("task_vid_1")),
    "video-403-echoing-the-key": (
        URLExpiredError,
        lambda ctx: hostile_client(ctx, echo_in(403)).download("/v.mp4", ctx.tmp / "v.mp4"),
    ),
}


@pytest.fixture
def hostile() -> Iterator[Callable[[Callable[[Seen], Any]], Hostile]]:
    started: list[Hostile] = []

    def start(handler: Callable[[Seen], Any]) -> Hostile:
        started.append(Hostile(handler))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def everything_shown(err: BaseException) -> str:
    """Every text an error can be shown as, through its whole chain."""
    texts = [str(err), repr(err), repr(err.args), repr(vars(err))]
    texts += traceback.format_exception(err)
    texts += traceback.TracebackException(type(err), err, err.__traceback__, capture_locals=True).format()
    chained = err.__cause__ or err.__context__
    if chained is not None:
        texts.append(everything_shown(chained))
    return "\n".join(texts)


@pytest.mark.parametrize("name", SCENARIOS)
def test_no_error_path_shows_the_key(
    name: str,
    gateway: Emulator,
    client: SeedanceClient,
    hostile: Callable[[Callable[[Seen], Any]], Hostile],
    tmp_path: Path,
    dead_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    expected, scenario = SCENARIOS[name]
    ctx = Ctx(gateway, client, hostile, tmp_path, dead_url, monkeypatch)
    with pytest.raises(expected) as info:
        scenario(ctx)
    assert type(info.value) is expected, f"{name} raised {type(info.value).__name__}"
    shown = everything_shown(info.value)
    assert "Traceback" in shown
    assert " = " in shown  # the locals really were rendered
    logged = "\n".join(
        [r.getMessage() for r in caplog.records]
        + ["".join(traceback.format_exception(*r.exc_info)) for r in caplog.records if r.exc_info]
    )
    for piece in PIECES:
        assert piece not in shown, f"{name}: the key shows in the error"
        assert piece not in logged, f"{name}: the key shows in a log record"
    assert not list(tmp_path.iterdir())  # and no download left anything


def test_the_scenarios_raise_every_error_class() -> None:
    classes = {
        cls
        for _, cls in inspect.getmembers(errors_module, inspect.isclass)
        if issubclass(cls, SeedanceError) and cls is not SeedanceError
    }
    covered = {expected for expected, _ in SCENARIOS.values()}
    assert classes - covered == set()
