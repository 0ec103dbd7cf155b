"""The gateway's endpoints, bodies, status codes and error shapes, over real loopback HTTP."""

from __future__ import annotations

import io
import logging
import time
from typing import Any

import pytest
import requests
from emu_support import SMALL_BODY, auth, body, create, finished_video, pattern_png, poll, upload
from PIL import Image

from seedance_widgets.emulator import Emulator


def test_create_replies_with_the_documented_task(emulator: Emulator) -> None:
    before = int(time.time())
    reply = create(emulator)
    assert reply.status_code == 200
    task = reply.json()
    assert task["id"].startswith("task_vid_")
    assert task["object"] == "generation.task"
    assert task["model"] == "doubao-seedance-1-5-pro"
    assert task["status"] == "queued"
    assert task["progress"] == 0
    assert before <= task["created_at"] <= int(time.time())
    assert task["metadata"]["seed"] == 7
    assert "result" not in task
    assert "error" not in task


@pytest.mark.parametrize(
    "header",
    [None, "Bearer ", "Bearer", "Basic abc", "bearer"],
    ids=["missing", "empty-key", "no-key", "wrong-scheme", "lowercase-no-key"],
)
def test_missing_or_malformed_key_is_401(emulator: Emulator, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    reply = requests.post(
        f"{emulator.base_url}/v1/videos/generations", json=SMALL_BODY, headers=headers, timeout=5
    )
    assert reply.status_code == 401
    assert reply.json() == {
        "error": {
            "code": 401,
            "message": "Authentication failed, please check your API key",
            "type": "authentication_error",
        }
    }
    assert emulator.stats()["tasks"] == 0


def test_any_nonempty_key_unless_one_is_configured(emulator: Emulator) -> None:
    url = f"{emulator.base_url}/v1/videos/generations/task_vid_nope"
    assert requests.get(url, headers={"Authorization": "Bearer whatever"}, timeout=5).status_code == 404
    emulator.configure(api_key="sk-right-key")
    wrong = requests.get(url, headers={"Authorization": "Bearer sk-wrong-key"}, timeout=5)
    assert wrong.status_code == 401
    assert "sk-wrong-key" not in wrong.text
    assert requests.get(url, headers={"Authorization": "Bearer sk-right-key"}, timeout=5).status_code == 404
    assert emulator.api_key == "sk-right-key"
    assert "sk-right-key" not in repr(emulator.config)


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (body(metadata={"resolution": "1080p"}), ["resolution", "720p"]),
        (body(duration=3), ["duration", "4", "12"]),
        (body(duration=13), ["duration"]),
        (body(aspect_ratio="2:1"), ["aspect_ratio", "16:9"]),
        (body(prompt=""), ["prompt"]),
        (body(meta_seed=2**32), ["seed"]),
        (body(image_with_roles=[{"url": "http://x.test/a.png", "role": "reference"}]), ["reference_image"]),
        (
            body(
                image_urls=["http://x.test/a.png"],
                image_with_roles=[{"url": "http://x.test/b.png", "role": "first_frame"}],
            ),
            ["image_urls", "image_with_roles"],
        ),
        (body(image_urls=["data:image/png;base64,AAAA"]), ["image_urls", "http"]),
        (body(model="doubao-seedance-1-0-pro"), ["model"]),
    ],
    ids=[
        "1080p",
        "short",
        "long",
        "ratio",
        "empty-prompt",
        "seed",
        "old-role",
        "both-lists",
        "base64",
        "model",
    ],
)
def test_invalid_requests_get_400_in_the_gateway_shape(
    emulator: Emulator, payload: dict[str, Any], words: list[str]
) -> None:
    reply = create(emulator, payload)
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["code"] == 400
    assert error["type"] == "invalid_request"
    for word in words:
        assert word in error["message"]
    assert emulator.stats()["tasks"] == 0


def test_body_that_is_not_json_is_400(emulator: Emulator) -> None:
    reply = requests.post(
        f"{emulator.base_url}/v1/videos/generations",
        data=b"{not json",
        headers={**auth(emulator), "Content-Type": "application/json"},
        timeout=5,
    )
    assert reply.status_code == 400
    assert reply.json()["error"]["type"] == "invalid_request"


def test_banned_word_is_422_and_makes_no_task(emulator: Emulator) -> None:
    reply = create(emulator, body(prompt="a FORBIDDEN scene"))
    assert reply.status_code == 422
    error = reply.json()["error"]
    assert error["code"] == 422
    assert error["type"] == "content_policy_violation"
    assert emulator.stats()["tasks"] == 0
    emulator.configure(banned_word=None)
    assert create(emulator, body(prompt="a FORBIDDEN scene")).status_code == 200


def test_unknown_task_is_404_task_not_found(emulator: Emulator) -> None:
    reply = poll(emulator, "task_vid_doesnotexist")
    assert reply.status_code == 404
    assert reply.json() == {"error": {"code": 404, "message": "Task not found", "type": "task_not_found"}}


@pytest.mark.parametrize(
    ("fmt", "mime", "ext"),
    [
        ("PNG", "image/png", "png"),
        ("JPEG", "image/jpeg", "jpg"),
        ("WEBP", "image/webp", "webp"),
        ("GIF", "image/gif", "gif"),
    ],
)
def test_upload_accepts_each_type_and_serves_it_back(
    emulator: Emulator, fmt: str, mime: str, ext: str
) -> None:

    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 30)).save(buf, format=fmt)
    data = buf.getvalue()
    # The name lies about the type: the emulator must judge by content.
    reply = upload(emulator, data, name="picture.bin")
    assert reply.status_code == 200
    got = reply.json()
    assert got["success"] is True
    assert got["message"] == ""
    assert got["data"]["id"].startswith("upload_")
    assert got["data"]["mime_type"] == mime
    assert got["data"]["size"] == len(data)
    url = got["data"]["url"]
    assert url.startswith(emulator.base_url + "/files/uploads/")
    assert url.endswith("." + ext)
    served = requests.get(url, timeout=5)
    assert served.status_code == 200
    assert served.content == data
    assert served.headers["content-type"] == mime
    head = requests.head(url, timeout=5)
    assert head.status_code == 200
    assert int(head.headers["content-length"]) == len(data)
    assert head.content == b""


def test_upload_refuses_other_types_with_the_gateway_message(emulator: Emulator) -> None:
    reply = upload(emulator, b"%PDF-1.4 not an image at all", name="fake.png")
    assert reply.status_code == 400
    assert reply.json() == {
        "success": False,
        "message": "Unsupported image type. Allowed: JPEG, PNG, WebP, GIF",
    }
    assert emulator.stats()["uploads"] == 0


def test_upload_over_10_mb_is_refused(emulator: Emulator) -> None:
    png = pattern_png((16, 16), 0)
    too_big = png + b"\0" * (10 * 1024 * 1024 + 1 - len(png))
    reply = upload(emulator, too_big)
    assert reply.status_code == 400
    assert reply.json() == {"success": False, "message": "Image too large. Maximum size is 10MB"}
    just_fits = png + b"\0" * (10 * 1024 * 1024 - len(png))
    assert upload(emulator, just_fits).status_code == 200


def test_upload_without_a_file_field_is_400(emulator: Emulator) -> None:
    reply = requests.post(
        f"{emulator.base_url}/v1/uploads/images",
        data={"purpose": "generation"},
        headers=auth(emulator),
        timeout=5,
    )
    assert reply.status_code == 400
    assert reply.json()["success"] is False


def test_video_supports_head_and_ranges(emulator: Emulator) -> None:
    task, data = finished_video(emulator)
    url = task["result"]["data"][0]["url"]
    assert url == f"{emulator.base_url}/files/videos/{task['id']}.mp4"
    assert task["result"]["data"][0]["format"] == "mp4"
    head = requests.head(url, timeout=5)
    assert head.status_code == 200
    assert int(head.headers["content-length"]) == len(data)
    assert head.headers["accept-ranges"] == "bytes"
    assert head.headers["content-type"] == "video/mp4"
    part = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=5)
    assert part.status_code == 206
    assert part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    tail = requests.get(url, headers={"Range": "bytes=-50"}, timeout=5)
    assert tail.status_code == 206
    assert tail.content == data[-50:]
    rest = requests.get(url, headers={"Range": f"bytes={len(data) - 10}-"}, timeout=5)
    assert rest.content == data[-10:]
    beyond = requests.get(url, headers={"Range": f"bytes={len(data) + 10}-"}, timeout=5)
    assert beyond.status_code == 416


def test_video_of_an_unfinished_or_unknown_task_is_404(emulator: Emulator) -> None:
    emulator.configure(speed=0.01)  # stays queued for minutes
    task = create(emulator).json()
    assert requests.get(f"{emulator.base_url}/files/videos/{task['id']}.mp4", timeout=5).status_code == 404
    assert requests.get(f"{emulator.base_url}/files/videos/task_vid_nope.mp4", timeout=5).status_code == 404
    assert requests.get(f"{emulator.base_url}/files/uploads/nope.png", timeout=5).status_code == 404


def test_requests_are_counted_by_kind(emulator: Emulator) -> None:
    task, _ = finished_video(emulator)
    emulator.reset_stats()
    poll(emulator, task["id"])
    poll(emulator, task["id"])
    create(emulator, body(prompt="forbidden thing"))
    upload(emulator, pattern_png((8, 8), 0))
    requests.head(task["result"]["data"][0]["url"], timeout=5)
    requests.get(f"{emulator.base_url}/nowhere", timeout=5)
    stats = emulator.stats()
    assert {k: stats[k] for k in ("create", "get", "upload", "download", "other")} == {
        "create": 1,
        "get": 2,
        "upload": 1,
        "download": 1,
        "other": 1,
    }
    assert stats["responses"] == {"200": 4, "422": 1, "404": 1}


def test_control_endpoints_over_http(emulator: Emulator) -> None:
    base = emulator.base_url
    create(emulator)
    stats = requests.get(f"{base}/_emulator/stats", timeout=5).json()
    assert stats["create"] == 1
    assert stats["tasks"] == 1
    changed = requests.post(
        f"{base}/_emulator/config", json={"latency": 0.01, "api_key": "sk-secret-xyz"}, timeout=5
    )
    assert changed.status_code == 200
    assert changed.json()["latency"] == 0.01
    assert "sk-secret-xyz" not in changed.text
    assert changed.json()["api_key"] == "<hidden>"
    assert emulator.config.latency == 0.01
    assert emulator.api_key == "sk-secret-xyz"
    assert "sk-secret-xyz" not in requests.get(f"{base}/_emulator/config", timeout=5).text
    bad = requests.post(f"{base}/_emulator/config", json={"no_such_knob": 1}, timeout=5)
    assert bad.status_code == 400
    assert "no_such_knob" in bad.json()["error"]["message"]
    bad_fault = requests.post(f"{base}/_emulator/config", json={"fail_next": {"get": ["explode"]}}, timeout=5)
    assert bad_fault.status_code == 400
    reset = requests.post(f"{base}/_emulator/reset", timeout=5).json()
    assert reset["create"] == 0
    assert reset["tasks"] == 1


def test_configured_key_never_shows(emulator: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "sk-never-shown-4f1c"
    emulator.configure(api_key=secret)
    headers = {"Authorization": f"Bearer {secret}"}
    seen = [
        create(emulator).text,
        requests.get(f"{emulator.base_url}/_emulator/stats", timeout=5).text,
        requests.get(f"{emulator.base_url}/_emulator/config", timeout=5).text,
        requests.post(f"{emulator.base_url}/v1/videos/generations", json={}, headers=headers, timeout=5).text,
        requests.get(f"{emulator.base_url}/v1/videos/generations/x", headers=headers, timeout=5).text,
        repr(emulator),
        repr(emulator.config),
        str(emulator.config.to_json()),
        str(emulator.stats()),
    ]
    assert emulator.base_url.startswith("http://127.0.0.1:")
    for text in [*seen, caplog.text]:
        assert secret not in text
