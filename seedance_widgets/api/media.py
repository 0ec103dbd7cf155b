"""Checks on the bytes that go up (images) and come down (MP4 videos), from their content.

A file's name or a server's Content-Type can lie; the first bytes and the MP4 box
layout cannot, so those are what the client trusts.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .errors import ValidationError

#: The gateway's upload limit (contract section 3).
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: Default cap on one downloaded video (``SeedanceClient(max_download_bytes=...)``). A 12 s
#: 720p clip is tens of MB; a gateway declaring or streaming more than this is refused.
MAX_DOWNLOAD_BYTES = 2 * 1024**3

IMAGE_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "image/jpeg": ("jpg", "jpeg"),
    "image/png": ("png",),
    "image/gif": ("gif",),
    "image/webp": ("webp",),
}


def sniff_image_type(head: bytes) -> str | None:
    """MIME type of an image from its first bytes (JPEG, PNG, WebP or GIF), else None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def upload_name(name: str, mime: str) -> str:
    """``name`` with the extension that matches the sniffed type (a PNG called x.jpg is sent as x.png)."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem = name
    elif ext.lower() in IMAGE_EXTENSIONS[mime]:
        return name
    return f"{stem}.{IMAGE_EXTENSIONS[mime][0]}"


def read_image(source: str | os.PathLike[str] | bytes | IO[bytes], filename: str | None) -> tuple[bytes, str]:
    """The bytes and a file name of an image to upload; size checked before anything is read whole."""
    limit = "at most 10 MB (the gateway's upload limit)"
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        name = filename or "image"
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ValidationError(
                "image", str(path), "a path to an existing image file", f"no file at {path}"
            )
        size = path.stat().st_size
        if size > MAX_UPLOAD_BYTES:
            raise ValidationError("image", str(path), limit, f"{path.name} is {size} bytes; {limit}")
        data = path.read_bytes()
        name = filename or path.name
    elif hasattr(source, "read"):
        # One byte past the limit is enough to know it is too big, without reading it all.
        data = source.read(MAX_UPLOAD_BYTES + 1)
        if not isinstance(data, bytes):
            raise ValidationError("image", source, "a file opened in binary mode ('rb')")
        name = filename or Path(str(getattr(source, "name", "image"))).name
    else:
        raise ValidationError("image", source, "a path, bytes or a binary file object")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationError("image", name, limit, f"{name} is larger than 10 MB; {limit}")
    if not data:
        raise ValidationError("image", name, "a non-empty image", f"{name} is empty")
    return data, name


def is_mp4(head: bytes) -> bool:
    """True when ``head`` starts like an ISO-BMFF (MP4) file: a box whose type is ``ftyp``."""
    return len(head) >= 8 and head[4:8] == b"ftyp"


def mp4_problem(path: Path) -> str | None:
    """Why the file at ``path`` is not a whole MP4, or None when its top-level boxes add up.

    Walks the top-level boxes (size + type headers only): the first must be ``ftyp``,
    there must be a ``moov`` (the index) and an ``mdat`` (the media data), and the last
    box must end exactly at the end of the file. A download cut short fails this even
    when the server sent no Content-Length, also when it was cut at a box boundary.
    """
    total = path.stat().st_size
    seen: list[bytes] = []
    offset = 0
    with path.open("rb") as f:
        while offset < total:
            f.seek(offset)
            header = f.read(8)
            if len(header) < 8:
                return f"the file ends inside a box header at byte {offset}"
            size, kind = struct.unpack(">I4s", header)
            header_len = 8
            if size == 1:
                large = f.read(8)
                if len(large) < 8:
                    return f"the file ends inside a box header at byte {offset}"
                (size,) = struct.unpack(">Q", large)
                header_len = 16
            elif size == 0:  # "extends to the end of the file"
                size = total - offset
            if not seen and kind != b"ftyp":
                return "it does not start with an 'ftyp' box"
            if size < header_len:
                return f"box {kind!r} at byte {offset} has an impossible size {size}"
            if offset + size > total:
                return (
                    f"it is truncated: box {kind.decode('latin-1')!r} at byte {offset} needs {size} bytes "
                    f"but only {total - offset} arrived"
                )
            seen.append(kind)
            offset += size
    if not seen:
        return "the file is empty"
    if b"moov" not in seen:
        return "it has no 'moov' box (the index of the video)"
    if b"mdat" not in seen:
        return "it has no 'mdat' box (the media data)"
    return None


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of each box between ``start`` and ``end``."""
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1 and offset + 16 <= end:
            (size,) = struct.unpack_from(">Q", data, offset + 8)
            header = 16
        elif size == 0:
            size = end - offset
        if size < header or offset + size > end:
            return
        yield kind, offset + header, offset + size
        offset += size


def _child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    return next(((s, e) for k, s, e in _boxes(data, start, end) if k == kind), None)


def _timescale_duration(data: bytes, start: int) -> tuple[int, int]:
    """Timescale and duration of an ``mvhd`` or ``mdhd`` payload (version 0 or 1)."""
    if data[start] == 1:
        return struct.unpack_from(">IQ", data, start + 20)
    return struct.unpack_from(">II", data, start + 12)


def mp4_facts(path: Path) -> dict[str, Any]:
    """Width, height, frame rate, duration and audio presence of an MP4, read from its index.

    Standard library only (no PyAV in the kernel): reads the ``moov`` box, i.e. the movie
    header, each track's header and handler, and the video track's sample timing. Returns
    an empty dict when the file has no readable index.
    """
    raw = path.read_bytes()
    moov = next(((s, e) for k, s, e in _boxes(raw, 0, len(raw)) if k == b"moov"), None)
    if moov is None:
        return {}
    facts: dict[str, Any] = {"audio": False}
    mvhd = _child(raw, *moov, b"mvhd")
    if mvhd is not None:
        scale, duration = _timescale_duration(raw, mvhd[0])
        if scale:
            facts["duration"] = round(duration / scale, 3)
    for kind, start, end in _boxes(raw, *moov):
        if kind != b"trak":
            continue
        mdia = _child(raw, start, end, b"mdia")
        hdlr = _child(raw, *mdia, b"hdlr") if mdia else None
        handler = raw[hdlr[0] + 8 : hdlr[0] + 12] if hdlr else b""
        if handler == b"soun":
            facts["audio"] = True
        if handler != b"vide" or "width" in facts:
            continue
        tkhd = _child(raw, start, end, b"tkhd")
        if tkhd is not None:
            # The last 8 bytes of a track header are width and height, 16.16 fixed point.
            width, height = struct.unpack_from(">II", raw, tkhd[1] - 8)
            facts["width"], facts["height"] = width >> 16, height >> 16
        mdhd = _child(raw, *mdia, b"mdhd") if mdia else None
        minf = _child(raw, *mdia, b"minf") if mdia else None
        stbl = _child(raw, *minf, b"stbl") if minf else None
        stts = _child(raw, *stbl, b"stts") if stbl else None
        if mdhd is not None and stts is not None:
            scale, _ = _timescale_duration(raw, mdhd[0])
            (entries,) = struct.unpack_from(">I", raw, stts[0] + 4)
            if entries and scale:
                # The most common sample delta gives the frame rate (the last frame may differ).
                runs = [struct.unpack_from(">II", raw, stts[0] + 8 + 8 * i) for i in range(entries)]
                _count, delta = max(runs)
                if delta:
                    facts["fps"] = round(scale / delta, 3)
    return facts
