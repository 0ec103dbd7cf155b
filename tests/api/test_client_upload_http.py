"""Uploads over loopback: the type is judged by content and the size is checked before sending."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from api_support import image_bytes

from seedance_widgets.api import MAX_UPLOAD_BYTES, SeedanceClient, ValidationError, sniff_image_type
from seedance_widgets.emulator import Emulator

Raises = Callable[..., Any]

FORMATS = [("PNG", "image/png", "png"), ("JPEG", "image/jpeg", "jpg"), ("WEBP", "image/webp", "webp"),
           ("GIF", "image/gif", "gif")]  # fmt: skip


@pytest.mark.parametrize(("fmt", "mime", "ext"), FORMATS)
def test_each_type_uploads_and_is_served_back_unchanged(
    fmt: str, mime: str, ext: str, client: SeedanceClient, gateway: Emulator, tmp_path: Path
) -> None:
    data = image_bytes(fmt)
    assert sniff_image_type(data[:16]) == mime
    path = tmp_path / f"picture.{ext}"
    path.write_bytes(data)
    url = client.upload_image(path)
    assert url.startswith(gateway.base_url + "/")
    served = requests.get(url, timeout=5)
    assert served.status_code == 200
    assert served.content == data
    assert served.headers["content-type"].startswith(mime)
    assert gateway.stats()["upload"] == 1


def test_bytes_and_binary_files_upload_too(client: SeedanceClient, gateway: Emulator, tmp_path: Path) -> None:
    data = image_bytes("JPEG")
    assert client.upload_image(data).startswith("http")
    path = tmp_path / "p.jpeg"
    path.write_bytes(data)
    with path.open("rb") as handle:
        assert client.upload_image(handle).startswith("http")
    assert client.upload_image(io.BytesIO(data), filename="named.jpg").startswith("http")
    assert gateway.stats()["upload"] == 3


def test_a_png_named_jpg_is_sent_as_a_png(client: SeedanceClient, gateway: Emulator, tmp_path: Path) -> None:
    data = image_bytes("PNG")
    path = tmp_path / "holiday.jpg"
    path.write_bytes(data)
    url = client.upload_image(path)
    served = requests.get(url, timeout=5)
    assert served.headers["content-type"] == "image/png"
    assert served.content == data


@pytest.mark.parametrize(
    "content",
    [b"just some text, not an image\n", b"%PDF-1.7\n...", b"\x00" * 64, b"GIF8", b"RIFF\x00\x00\x00\x00WAVE"],
    ids=["text", "pdf", "zeros", "short-gif", "wav"],
)
def test_other_content_is_refused_before_sending(
    content: bytes, client: SeedanceClient, gateway: Emulator, tmp_path: Path, raises: Raises
) -> None:
    path = tmp_path / "notes.png"  # the name says PNG; the content decides
    path.write_bytes(content)
    with raises(ValidationError, match="not a JPEG, PNG, WebP or GIF") as info:
        client.upload_image(path)
    assert info.value.field == "image"
    assert "notes.png" in str(info.value)
    assert gateway.stats()["upload"] == 0


def oversized() -> bytes:
    # A real PNG signature, so only the size can be the reason for refusal.
    return image_bytes("PNG")[:16].ljust(MAX_UPLOAD_BYTES + 1, b"\0")


@pytest.mark.parametrize("as_", ["path", "bytes", "file"])
def test_ten_megabytes_and_one_byte_is_refused_before_sending(
    as_: str, client: SeedanceClient, gateway: Emulator, tmp_path: Path, raises: Raises
) -> None:
    data = oversized()
    assert len(data) == 10 * 1024 * 1024 + 1
    path = tmp_path / "huge.png"
    path.write_bytes(data)
    source: Any = {"path": path, "bytes": data, "file": io.BytesIO(data)}[as_]
    with raises(ValidationError, match="10 MB") as info:
        client.upload_image(source)
    assert info.value.field == "image"
    assert gateway.stats()["upload"] == 0
    assert client.request_counts["upload"] == 0


def test_exactly_ten_megabytes_is_sent(client: SeedanceClient, gateway: Emulator) -> None:
    data = oversized()[:MAX_UPLOAD_BYTES]
    url = client.upload_image(data)
    assert requests.get(url, timeout=10).content == data
    assert gateway.stats()["upload"] == 1


@pytest.mark.parametrize(
    ("source", "message"),
    [(b"", "empty"), ("/no/such/file.png", "no file"), (12345, "a path, bytes or a binary file")],
)
def test_unusable_sources_are_refused(
    source: Any, message: str, client: SeedanceClient, gateway: Emulator, raises: Raises
) -> None:
    with raises(ValidationError, match=message):
        client.upload_image(source)
    assert gateway.stats()["upload"] == 0


def test_a_text_mode_file_is_refused(
    client: SeedanceClient, gateway: Emulator, tmp_path: Path, raises: Raises
) -> None:
    path = tmp_path / "t.png"
    path.write_bytes(image_bytes("PNG")[:8] + b"abc")
    with path.open("r", encoding="latin-1") as handle, raises(ValidationError, match="binary mode"):
        client.upload_image(handle)  # type: ignore[arg-type]
    assert gateway.stats()["upload"] == 0


def test_upload_is_retried_after_faults(
    client: SeedanceClient, gateway: Emulator, png_bytes: bytes, sleeps: list[float]
) -> None:
    for fault in ("500", "reset", "429"):
        gateway.fail_next("upload", fault)
    url = client.upload_image(png_bytes)
    assert requests.get(url, timeout=5).content == png_bytes
    assert gateway.stats()["upload"] == 4
    assert len(sleeps) == 3
