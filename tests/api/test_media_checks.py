"""Content checks without a server: image types from their bytes, MP4 wholeness from its boxes."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import av
import numpy as np
import pytest
from api_support import image_bytes

from seedance_widgets.api import is_mp4, sniff_image_type
from seedance_widgets.api.media import mp4_problem, upload_name


def box(kind: bytes, payload: bytes = b"", *, large: bool = False) -> bytes:
    if large:
        return struct.pack(">I4sQ", 1, kind, 16 + len(payload)) + payload
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "v.mp4"
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def real_mp4() -> bytes:
    """A tiny real H.264 MP4 made with PyAV (moov at the end, as PyAV writes it)."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(12):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 20, dtype=np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()


IMAGE_TYPES = [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp"), ("GIF", "image/gif")]


@pytest.mark.parametrize(("fmt", "mime"), IMAGE_TYPES)
def test_image_types_are_known_by_their_bytes(fmt: str, mime: str) -> None:
    assert sniff_image_type(image_bytes(fmt)[:16]) == mime


@pytest.mark.parametrize(
    "head", [b"", b"\x89PNG", b"GIF8", b"RIFF\0\0\0\0WAVE", b"<html>", b"\0\0\0\x18ftypmp42"]
)
def test_other_bytes_are_no_image(head: bytes) -> None:
    assert sniff_image_type(head) is None


@pytest.mark.parametrize(
    ("name", "mime", "sent"),
    [
        ("holiday.jpg", "image/png", "holiday.png"),
        ("holiday.JPEG", "image/jpeg", "holiday.JPEG"),
        ("holiday.jpeg", "image/jpeg", "holiday.jpeg"),
        ("image", "image/webp", "image.webp"),
        ("a.b.gif", "image/gif", "a.b.gif"),
        ("a.b.png", "image/gif", "a.b.gif"),
        (".hidden", "image/png", ".hidden.png"),
    ],
)
def test_the_name_sent_has_the_real_types_extension(name: str, mime: str, sent: str) -> None:
    assert upload_name(name, mime) == sent


def test_a_real_mp4_is_whole(real_mp4: bytes, tmp_path: Path) -> None:
    assert is_mp4(real_mp4[:8])
    assert mp4_problem(write(tmp_path, real_mp4)) is None


@pytest.mark.parametrize("keep", [0.999, 0.9, 0.5, 0.1])
def test_a_cut_real_mp4_is_not_whole(keep: float, real_mp4: bytes, tmp_path: Path) -> None:
    cut = real_mp4[: int(len(real_mp4) * keep)]
    assert is_mp4(cut[:8])  # the start alone looks fine...
    assert mp4_problem(write(tmp_path, cut)) is not None  # ...the box sizes do not add up


def test_synthetic_layouts(tmp_path: Path) -> None:
    ftyp = box(b"ftyp", b"isom\0\0\0\0")
    assert mp4_problem(write(tmp_path, ftyp + box(b"moov", b"x" * 20) + box(b"mdat", b"y" * 50))) is None
    assert mp4_problem(write(tmp_path, ftyp + box(b"mdat", b"y" * 50, large=True) + box(b"moov"))) is None
    # size 0: "the last box runs to the end of the file"
    assert (
        mp4_problem(write(tmp_path, ftyp + box(b"moov") + struct.pack(">I4s", 0, b"mdat") + b"z" * 99))
        is None
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (box(b"moov") + box(b"ftyp"), "ftyp"),
        (box(b"ftyp") + box(b"mdat", b"y" * 50), "moov"),
        (box(b"ftyp") + box(b"moov") + box(b"mdat", b"y" * 50)[:-1], "truncated"),
        (box(b"ftyp") + box(b"moov") + b"\0\0\0", "box header"),
        (box(b"ftyp") + struct.pack(">I4s", 4, b"moov"), "impossible size"),
        (box(b"ftyp") + struct.pack(">I4s", 1, b"mdat") + b"\0\0", "box header"),
    ],
    ids=["empty", "no-ftyp-first", "no-moov", "cut-mdat", "cut-header", "tiny-size", "cut-largesize"],
)
def test_broken_layouts_say_why(data: bytes, reason: str, tmp_path: Path) -> None:
    problem = mp4_problem(write(tmp_path, data))
    assert problem is not None
    assert reason in problem
