"""Every catalogue model on the emulator, over real loopback HTTP: the gateway's rules (placement,
ranges, roles, modes), real MP4s at each spec's sizes, reference video uploads, last-frame PNGs
and lookups by client_business_id."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import requests
from emu_support import auth, create, frames_rgb, pattern_png, poll, probe, upload, wait_final
from PIL import Image

from seedance_widgets.api import MODELS, GenerationRequest, ModelSpec, sizes
from seedance_widgets.emulator import Emulator, EmulatorConfig
from seedance_widgets.emulator.mp4 import RenderSpec, render_mp4


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(speed=1000.0)) as made:
        yield made


def done(emu: Emulator, payload: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    reply = create(emu, payload)
    assert reply.status_code == 200, reply.text
    task = wait_final(emu, reply.json()["id"])
    assert task["status"] == "completed", task
    return task, requests.get(task["result"]["data"][0]["url"], timeout=60).content


def body_for(model: str, **fields: Any) -> dict[str, Any]:
    return GenerationRequest("a red ball bounces", model=model, **fields).to_body()


def upload_video(emu: Emulator, data: bytes, name: str = "ref.mp4") -> requests.Response:
    return requests.post(
        f"{emu.base_url}/v1/uploads/videos",
        files={"file": (name, data, "application/octet-stream")},
        headers=auth(emu),
        timeout=30,
    )


@pytest.fixture(scope="module")
def ref_clips(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """Two different 3 s MP4s to upload as reference videos."""
    folder = tmp_path_factory.mktemp("ref")
    made = []
    for seed in (9, 77):
        spec = RenderSpec(
            prompt=f"reference clip {seed}", width=320, height=192, duration=3, audio=False, seed=seed
        )
        made.append(render_mp4(spec, folder / f"{seed}.mp4").read_bytes())
    return made[0], made[1]


# ---- every model ------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", list(MODELS.values()), ids=list(MODELS))
def test_every_model_renders_at_its_specs_size(emu: Emulator, spec: ModelSpec) -> None:
    resolution = spec.resolutions[0]
    ratio = next(r for r in spec.ratios if r != "adaptive")
    duration = max(spec.durations.min, 2)
    task, data = done(emu, body_for(spec.id, resolution=resolution, aspect_ratio=ratio, duration=duration))
    info = probe(data)
    expected = GenerationRequest("x", model=spec.id, resolution=resolution, aspect_ratio=ratio).size
    assert (info.width, info.height) == expected
    assert info.frames == duration * 24
    assert info.audio is (spec.audio == "default_on")  # 2.x makes sound unless told not to
    assert task["model"] == spec.id


@pytest.mark.slow
def test_seedance_2_at_15_s_and_1080p_and_2_5_at_30_s(emu: Emulator) -> None:
    _, data = done(emu, body_for("seedance-2", duration=15, resolution="1080p", aspect_ratio="16:9"))
    info = probe(data)
    # No page gives seedance-2's 1080p sizes: the emulator renders the nominal (1.0 Pro) table's.
    assert (info.width, info.height) == sizes.NOMINAL_SIZES["1080p"]["16:9"] == (1920, 1088)
    assert info.frames == 15 * 24
    assert abs(info.duration - 15.0) < 1 / 24
    assert info.audio
    assert info.audio_duration is not None
    assert abs(info.audio_duration - 15.0) < 0.1
    _, long = done(emu, body_for("seedance-2-5", duration=30, resolution="480p", aspect_ratio="9:16"))
    info = probe(long)
    assert (info.width, info.height, info.frames) == (496, 864, 30 * 24)


def test_auto_length_and_adaptive_ratio_are_resolved(emu: Emulator) -> None:
    portrait = upload(emu, pattern_png((300, 600), 0)).json()["data"]["url"]
    payload = body_for(
        "doubao-seedance-2-0",
        duration=-1,
        aspect_ratio="adaptive",
        resolution="480p",
        audio=False,
        image_with_roles=[{"url": portrait, "role": "first_frame"}],
    )
    task, data = done(emu, payload)
    info = probe(data)
    assert (info.width, info.height) == (496, 864)  # 1:2 is nearest 9:16
    assert info.frames == 5 * 24  # the model's default length stands in for "the model picks"
    assert (task["metadata"]["aspect_ratio"], task["metadata"]["duration"]) == ("9:16", 5)
    _, plain = done(emu, body_for("doubao-seedance-2-0", resolution="480p", audio=False, duration=4))
    assert (probe(plain).width, probe(plain).height) == (864, 496)  # no first frame: 16:9


# ---- reference videos -------------------------------------------------------------------------


def test_a_reference_video_uploads_and_its_task_completes(
    emu: Emulator, ref_clips: tuple[bytes, bytes]
) -> None:
    ref_clip, other_clip = ref_clips
    reply = upload_video(emu, ref_clip, "clip.mov")
    assert reply.status_code == 200, reply.text
    url = reply.json()["data"]["url"]
    assert url.endswith(".mp4")
    assert reply.json()["data"]["mime_type"] == "video/mp4"
    assert requests.get(url, timeout=10).content == ref_clip
    payload = body_for(
        "doubao-seedance-2-0",
        duration=4,
        resolution="480p",
        aspect_ratio="16:9",
        video_with_roles=[{"url": url, "role": "reference_video"}],
        audio_with_roles=[{"url": "https://elsewhere.example/a.wav", "role": "reference_audio"}],
    )
    assert payload["video_with_roles"] == [{"url": url, "role": "reference_video"}]
    _, data = done(emu, payload)
    info = probe(data)
    assert (info.width, info.height, info.frames) == (864, 496, 96)
    # The reference's first frame is drawn as a thumbnail: another reference gives other pictures.
    other = upload_video(emu, other_clip, "other.mp4").json()["data"]["url"]
    payload["video_with_roles"] = [{"url": other, "role": "reference_video"}]
    _, data2 = done(emu, payload)
    assert data2 != data


@pytest.mark.parametrize(
    ("data", "config", "words"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, {}, "Unsupported video type. Allowed: MP4, WebM, MOV"),
        (None, {"max_video_upload_bytes": 1000}, "Video too large"),
    ],
    ids=["not-a-video", "too-large"],
)
def test_video_uploads_are_checked_by_content_and_size(
    emulator: Emulator, ref_clips: tuple[bytes, bytes], data: bytes | None, config: dict[str, Any], words: str
) -> None:
    emulator.configure(**config)
    reply = upload_video(emulator, data if data is not None else ref_clips[0])
    assert reply.status_code == 400
    assert reply.json() == {"success": False, "message": reply.json()["message"]}
    assert words in reply.json()["message"]
    assert emulator.stats()["uploads"] == 0
    assert emulator.stats()["upload"] == 1


# ---- last frames ------------------------------------------------------------------------------


def test_the_last_frame_png_is_the_videos_last_frame(emu: Emulator) -> None:
    payload = body_for(
        "seedance-2", duration=4, resolution="480p", aspect_ratio="4:3", return_last_frame=True
    )
    task, data = done(emu, payload)
    item = task["result"]["data"][0]
    frame_reply = requests.get(item["last_frame_url"], timeout=10)
    assert frame_reply.status_code == 200
    assert frame_reply.headers["content-type"] == "image/png"
    png = np.asarray(Image.open(io.BytesIO(frame_reply.content)).convert("RGB"))
    last = frames_rgb(data, [-1])[-1]
    assert png.shape == last.shape == (560, 752, 3)
    assert float(np.abs(png.astype(int) - last.astype(int)).mean()) < 4  # compression noise only
    first = frames_rgb(data, [0])[0]
    assert float(np.abs(png.astype(int) - first.astype(int)).mean()) > 4  # and it is not any frame


def test_no_last_frame_unless_asked(emu: Emulator) -> None:
    task, _ = done(emu, body_for("seedance-2", duration=4, resolution="480p"))
    assert "last_frame_url" not in task["result"]["data"][0]
    missing = requests.get(f"{emu.base_url}/files/frames/{task['id']}.png", timeout=10)
    assert missing.status_code == 404


# ---- client_business_id ----------------------------------------------------------------------------


def test_a_task_is_found_by_its_client_business_id(emulator: Emulator) -> None:
    payload = {
        **body_for("doubao-seedance-1-5-pro", duration=4, resolution="480p"),
        "client_business_id": "job-1:a",
    }
    made = create(emulator, payload).json()
    by_id, by_business = poll(emulator, made["id"]).json(), poll(emulator, "job-1:a").json()
    assert by_business["id"] == by_id["id"] == made["id"]
    assert by_business["client_business_id"] == "job-1:a"
    again = create(emulator, payload)
    assert again.status_code == 400
    assert "already used" in again.json()["error"]["message"]
    assert poll(emulator, "job-2:a").status_code == 404
    assert emulator.stats()["tasks"] == 1


# ---- the gateway's rules -----------------------------------------------------------------------


def refusal(emu: Emulator, payload: dict[str, Any]) -> str:
    reply = create(emu, payload)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert (error["code"], error["type"]) == (400, "invalid_request")
    return str(error["message"])


@pytest.mark.parametrize("spec", list(MODELS.values()), ids=list(MODELS))
def test_each_model_refuses_what_its_page_refuses(emulator: Emulator, spec: ModelSpec) -> None:
    good = body_for(spec.id)
    # resolution where this model does not read it
    moved = {**good, "metadata": dict(good.get("metadata", {}))}
    if spec.placement["resolution"] == "metadata":
        moved["resolution"] = moved["metadata"].pop("resolution")
    else:
        moved["metadata"]["resolution"] = moved.pop("resolution")
    assert "resolution" in refusal(emulator, moved)
    # the first length past the range
    assert spec.id in refusal(emulator, {**good, "duration": spec.durations.max + 1})
    # a fixed-camera switch only 1.5 Pro has
    if not spec.supports_camera_fixed:
        assert "camerafixed" in refusal(
            emulator, {**good, "metadata": {**good.get("metadata", {}), "camerafixed": True}}
        )
    # frames and references together, where the page says modes never mix
    if not spec.images.modes_mix and spec.images.max_first and spec.images.max_references:
        mixed = {
            **good,
            "image_with_roles": [
                {"url": "https://x.test/a.png", "role": "first_frame"},
                {"url": "https://x.test/b.png", "role": spec.images.reference_role},
            ],
        }
        assert "pick one mode" in refusal(emulator, mixed)
    assert emulator.stats()["tasks"] == 0


def test_an_unknown_model_is_refused_listing_the_known_ones(emulator: Emulator) -> None:
    text = refusal(emulator, {"model": "seedance-9", "prompt": "p"})
    assert all(model_id in text for model_id in MODELS)


def test_audio_alone_and_too_many_references_are_refused(emulator: Emulator) -> None:
    audio = [{"url": "https://x.test/a.wav", "role": "reference_audio"}]
    assert "cannot be used alone" in refusal(emulator, {**body_for("seedance-2"), "audio_with_roles": audio})
    videos = [{"url": f"https://x.test/{i}.mp4", "role": "reference_video"} for i in range(4)]
    assert "at most 3" in refusal(emulator, {**body_for("doubao-seedance-2-0"), "video_with_roles": videos})
