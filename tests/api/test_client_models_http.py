"""The client's calls for the whole catalogue, over real loopback HTTP: creates carrying a
``client_business_id``, a lost create reply resolved by looking the task up (never a second
create), video uploads, and last-frame downloads with the video download's safety."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest
import requests
from api_support import SMALL, wait_until_final
from hostile_server import Hostile, head, reply
from hostile_support import one_try_client
from PIL import Image

from seedance_widgets.api import (
    BadReplyError,
    BadRequestError,
    DownloadError,
    GenerationRequest,
    NotFoundError,
    SeedanceClient,
    TaskMayExistError,
    ValidationError,
)
from seedance_widgets.emulator import Emulator
from seedance_widgets.emulator.mp4 import RenderSpec, render_mp4

# ---- client_business_id ------------------------------------------------------------------------


def test_a_create_carries_its_business_id_and_the_task_is_found_by_it(
    client: SeedanceClient, gateway: Emulator
) -> None:
    task = client.create(SMALL, client_business_id="intent-0001")
    found = client.find_by_business_id("intent-0001")
    assert found is not None
    assert found.id == task.id
    assert found.client_business_id == "intent-0001"
    assert client.find_by_business_id("intent-never-sent") is None
    assert gateway.stats()["create"] == 1


def test_a_lost_create_reply_is_resolved_by_lookup_without_a_second_create(
    client: SeedanceClient, gateway: Emulator
) -> None:
    gateway.fail_next("create", "reset")  # the task is made, the reply never arrives
    with pytest.raises(TaskMayExistError):
        client.create(SMALL, client_business_id="intent-lost")
    found = client.find_by_business_id("intent-lost")
    assert found is not None
    assert found.id in gateway.task_ids()
    stats = gateway.stats()
    assert (stats["create"], stats["tasks"]) == (1, 1)  # one paid create, one task
    assert client.request_counts["create"] == 1
    assert wait_until_final(client, found.id).status == "completed"


def test_the_emulator_refuses_a_second_task_for_one_business_id(
    client: SeedanceClient, gateway: Emulator
) -> None:
    client.create(SMALL, client_business_id="intent-twice")
    with pytest.raises(BadRequestError, match="already used"):
        client.create(SMALL, client_business_id="intent-twice")
    assert gateway.stats()["tasks"] == 1


def test_a_bad_business_id_is_refused_before_sending(client: SeedanceClient, gateway: Emulator) -> None:
    for bad in ("has space", "../x", ""):
        with pytest.raises(ValidationError, match="client_business_id"):
            client.create(SMALL, client_business_id=bad)
        with pytest.raises(ValidationError, match="client_business_id"):
            client.find_by_business_id(bad)
    assert sum(client.request_counts.values()) == 0


def test_an_unclear_404_is_raised_not_taken_for_no_task(serve: Callable[..., Hostile]) -> None:
    server = serve(lambda seen: reply(404, "<html><body>Not Found (proxy)</body></html>"))
    with pytest.raises(NotFoundError):
        one_try_client(server.base_url).find_by_business_id("intent-1")


def test_a_reply_about_another_business_id_is_raised(serve: Callable[..., Hostile]) -> None:
    task = {"id": "task_1", "status": "queued", "client_business_id": "intent-OTHER"}
    server = serve(lambda seen: reply(200, task))
    with pytest.raises(BadReplyError, match="intent-OTHER"):
        one_try_client(server.base_url).find_by_business_id("intent-1")
    assert server.seen[0].path == "/v1/videos/generations/intent-1"


def test_the_gateways_own_404_means_no_task(serve: Callable[..., Hostile]) -> None:
    body = {"error": {"code": 404, "message": "Task not found", "type": "task_not_found"}}
    server = serve(lambda seen: reply(404, body))
    assert one_try_client(server.base_url).find_by_business_id("intent-1") is None


# ---- video uploads -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[int, bytes]:
    """Real MP4s of 1 and 3 seconds, from the emulator's writer."""
    folder = tmp_path_factory.mktemp("refs")
    made = {}
    for seconds in (1, 3):
        spec = RenderSpec(prompt="a reference", width=320, height=192, duration=seconds, audio=False, seed=3)
        made[seconds] = render_mp4(spec, folder / f"{seconds}.mp4").read_bytes()
    return made


def test_a_video_uploads_and_is_served_back_unchanged(
    client: SeedanceClient, gateway: Emulator, clips: dict[int, bytes], tmp_path: Path
) -> None:
    path = tmp_path / "my clip.mov"  # the name lies: the content is an MP4
    path.write_bytes(clips[3])
    url = client.upload_video(path)
    assert url.endswith(".mp4")
    assert requests.get(url, timeout=10).content == clips[3]
    assert gateway.stats()["uploads"] == 1


def test_a_video_upload_is_checked_before_sending(client: SeedanceClient, clips: dict[int, bytes]) -> None:
    with pytest.raises(ValidationError, match="judged by its content"):
        client.upload_video(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    refs = GenerationRequest("p", model="doubao-seedance-2-0").spec.video_refs
    with pytest.raises(ValidationError, match="2 to 15 seconds"):
        client.upload_video(clips[1], refs=refs)
    assert client.request_counts["upload"] == 0


# ---- last frames -----------------------------------------------------------------------------------


def test_the_last_frame_downloads_as_a_png_matching_the_videos_last_frame(
    client: SeedanceClient, tmp_path: Path
) -> None:
    request = GenerationRequest(
        "a red ball", model="doubao-seedance-2-0", duration=4, resolution="480p", aspect_ratio="1:1",
        audio=False, return_last_frame=True, seed=5,
    )  # fmt: skip
    task = wait_until_final(client, client.create(request).id)
    assert task.last_frame_url
    png = client.download_image(task.last_frame_url, tmp_path / "last.png")
    video = client.download(task.video_url or "", tmp_path / "v.mp4")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob("*.part"))
    with av.open(str(video)) as container:
        last = list(container.decode(video=0))[-1].to_ndarray(format="rgb24")
    frame = np.asarray(Image.open(png).convert("RGB"))
    assert frame.shape == last.shape == (640, 640, 3)
    assert float(np.abs(frame.astype(int) - last.astype(int)).mean()) < 4  # compression noise only


def test_no_last_frame_unless_asked(client: SeedanceClient) -> None:
    task = wait_until_final(client, client.create(SMALL).id)
    assert task.last_frame_url is None


def test_a_cut_image_is_refused_and_leaves_nothing(serve: Callable[..., Hostile], tmp_path: Path) -> None:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(out, format="PNG")
    cut = out.getvalue()[:-12]  # no IEND: and no Content-Length to give it away
    server = serve(lambda seen: [head(200, {"Content-Type": "image/png"}), cut])
    with pytest.raises(DownloadError, match="not a whole image"):
        one_try_client(server.base_url).download_image("/f.png", tmp_path / "f.png")
    assert not list(tmp_path.iterdir())


def test_an_image_larger_than_its_cap_is_refused_before_writing(
    serve: Callable[..., Hostile], tmp_path: Path
) -> None:
    server = serve(lambda seen: [head(200, {"Content-Length": str(200 * 2**20)})])
    with pytest.raises(DownloadError, match="image cap"):
        one_try_client(server.base_url).download_image("/f.png", tmp_path / "f.png")
    assert not list(tmp_path.iterdir())


def test_a_video_where_an_image_was_expected_is_refused(
    client: SeedanceClient, video_url: str, tmp_path: Path
) -> None:
    with pytest.raises(DownloadError, match="not a PNG, JPEG or WebP"):
        client.download_image(video_url, tmp_path / "f.png")
    assert not list(tmp_path.iterdir())
