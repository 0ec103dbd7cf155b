"""Checks on the bytes that go up (images, reference videos and audio) and come down (MP4 videos,
last-frame images), from their content.

A file's name or a server's Content-Type can lie; the first bytes and the MP4 box
layout cannot, so those are what the client trusts.
"""

from __future__ import annotations

import dataclasses
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .catalog import MediaRefs
from .errors import ValidationError

#: The gateway's upload limit (contract section 3).
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: ``POST /v1/uploads/videos`` takes MP4, WebM or MOV up to 50 MB (models digest, section A).
MAX_VIDEO_UPLOAD_BYTES = 50 * 1024 * 1024
#: Reference audio of the 2.0 family: wav/mp3 under 15 MB (the cap when no spec is given).
MAX_AUDIO_BYTES = 15 * 1024 * 1024
#: Largest last-frame image the client downloads (a 4k PNG is a few tens of MB at worst).
MAX_IMAGE_DOWNLOAD_BYTES = 64 * 1024 * 1024
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


#: Types the video upload accepts, by MIME type, with their file extension.
VIDEO_TYPES: dict[str, str] = {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm"}
#: Types of reference audio, with their file extension.
AUDIO_TYPES: dict[str, str] = {"audio/wav": "wav", "audio/mpeg": "mp3"}


def sniff_video_type(head: bytes) -> str | None:
    """MIME type of a video from its first bytes (at least 64): MP4, MOV or WebM, else None.

    MP4 and MOV both start with an ``ftyp`` box (QuickTime's brand is ``qt  ``); WebM is an EBML
    document whose DocType is ``webm`` (other Matroska files are not WebM and are refused).
    """
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3") and b"webm" in head[:64]:
        return "video/webm"
    return None


def sniff_audio_type(head: bytes) -> str | None:
    """MIME type of audio from its first bytes: WAV (RIFF/WAVE) or MP3 (an ID3 tag or a frame sync)."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"ID3"):
        return "audio/mpeg"
    # An MPEG audio frame header: 11 sync bits, a known version, layer III (MP3).
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x18 != 0x08:
        return "audio/mpeg" if head[1] & 0x06 == 0x02 else None
    return None


def upload_name(name: str, mime: str) -> str:
    """``name`` with the extension that matches the sniffed type (a PNG called x.jpg is sent as x.png)."""
    extensions = IMAGE_EXTENSIONS.get(mime) or (VIDEO_TYPES.get(mime) or AUDIO_TYPES[mime],)
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem = name
    elif ext.lower() in extensions:
        return name
    return f"{stem}.{extensions[0]}"


def read_image(source: str | os.PathLike[str] | bytes | IO[bytes], filename: str | None) -> tuple[bytes, str]:
    """The bytes and a file name of an image to upload; size checked before anything is read whole."""
    return _read_source(
        source, filename, "image", MAX_UPLOAD_BYTES, "at most 10 MB (the gateway's upload limit)"
    )


def _read_source(
    source: str | os.PathLike[str] | bytes | IO[bytes], filename: str | None, kind: str, cap: int, limit: str
) -> tuple[bytes, str]:
    """The bytes and a file name of ``source`` (path, bytes or binary file), at most ``cap`` bytes.

    A file's size is checked before it is read; a stream is read one byte past the cap, no more.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        name = filename or kind
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ValidationError(kind, str(path), f"a path to an existing {kind} file", f"no file at {path}")
        size = path.stat().st_size
        if size > cap:
            raise ValidationError(kind, str(path), limit, f"{path.name} is {size} bytes; {limit}")
        data = path.read_bytes()
        name = filename or path.name
    elif hasattr(source, "read"):
        data = source.read(cap + 1)
        if not isinstance(data, bytes):
            raise ValidationError(kind, source, "a file opened in binary mode ('rb')")
        name = filename or Path(str(getattr(source, "name", kind))).name
    else:
        raise ValidationError(kind, source, "a path, bytes or a binary file object")
    if len(data) > cap:
        raise ValidationError(kind, name, limit, f"{name} is larger than {_mb(cap)}; {limit}")
    if not data:
        raise ValidationError(kind, name, f"a non-empty {kind}", f"{name} is empty")
    return data, name


def _mb(size: int) -> str:
    return f"{size / 2**20:g} MB"


@dataclasses.dataclass(frozen=True, repr=False)
class MediaFile:
    """A local reference video or audio clip, checked: its bytes, a file name, its type from its
    content and its length in seconds (None when the header does not say: MP3, WebM)."""

    data: bytes
    name: str
    mime: str
    seconds: float | None

    @property
    def format(self) -> str:
        """The short format name (mp4, mov, webm, wav, mp3), as the catalogue's ``formats`` say it."""
        return VIDEO_TYPES.get(self.mime) or AUDIO_TYPES[self.mime]

    def __repr__(self) -> str:
        length = "unknown length" if self.seconds is None else f"{self.seconds:g} s"
        return f"MediaFile({self.name!r}, {self.mime}, {len(self.data)} bytes, {length})"


def read_video(
    source: str | os.PathLike[str] | bytes | IO[bytes],
    *,
    refs: MediaRefs | None = None,
    filename: str | None = None,
) -> MediaFile:
    """A local reference video, checked before anything is sent.

    Type from the content (MP4, MOV or WebM, the upload's types; with ``refs``, only the formats
    the model takes); size at most 50 MB (the upload's cap) and ``refs.max_bytes``; length within
    ``refs``' per-clip range when the MP4/MOV header gives it.
    """
    cap = (
        min(MAX_VIDEO_UPLOAD_BYTES, refs.max_bytes or MAX_VIDEO_UPLOAD_BYTES)
        if refs
        else MAX_VIDEO_UPLOAD_BYTES
    )
    data, name = _read_source(source, filename, "video", cap, f"at most {_mb(cap)}")
    mime = sniff_video_type(data[:64])
    allowed = _formats_text(refs.formats if refs else ("mp4", "mov", "webm"))
    if mime is None or (refs is not None and VIDEO_TYPES[mime] not in refs.formats):
        raise ValidationError("video", name, allowed, f"{name} is not {allowed} (judged by its content)")
    seconds = mp4_duration(data) if mime != "video/webm" else None
    return _checked_length(MediaFile(data, name, mime, seconds), "video", refs)


def read_audio(
    source: str | os.PathLike[str] | bytes | IO[bytes],
    *,
    refs: MediaRefs | None = None,
    filename: str | None = None,
) -> MediaFile:
    """A local reference audio clip, checked: WAV or MP3 by content, size and (WAV) length.

    The gateway has no audio upload: reference audio must be an http(s) URL in the request.
    This check is for callers that host the file themselves, or that must refuse a local one
    with a clear reason.
    """
    cap = refs.max_bytes if refs and refs.max_bytes else MAX_AUDIO_BYTES
    data, name = _read_source(source, filename, "audio", cap, f"at most {_mb(cap)}")
    mime = sniff_audio_type(data[:16])
    allowed = _formats_text(refs.formats if refs else ("wav", "mp3"))
    if mime is None or (refs is not None and AUDIO_TYPES[mime] not in refs.formats):
        raise ValidationError("audio", name, allowed, f"{name} is not {allowed} (judged by its content)")
    seconds = wav_duration(data) if mime == "audio/wav" else None
    return _checked_length(MediaFile(data, name, mime, seconds), "audio", refs)


_FORMAT_NAMES = {"mp4": "MP4", "mov": "MOV", "webm": "WebM", "wav": "WAV", "mp3": "MP3"}


def _formats_text(formats: tuple[str, ...]) -> str:
    """The formats as words, e.g. "a file in MP4 or MOV format"."""
    names = [_FORMAT_NAMES.get(f, f.upper()) for f in formats]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    return f"a file in {listed} format"


def _checked_length(media: MediaFile, kind: str, refs: MediaRefs | None) -> MediaFile:
    if refs is None or media.seconds is None:
        return media
    lo, hi = refs.min_seconds, refs.max_seconds
    if (lo is not None and media.seconds < lo) or (hi is not None and media.seconds > hi):
        allowed = (
            f"{lo:g} to {hi:g} seconds" if lo is not None and hi is not None else "a length the model takes"
        )
        raise ValidationError(
            kind,
            media.name,
            allowed,
            f"{media.name} is {media.seconds:g} s long; a reference {kind} must be {allowed}",
        )
    return media


def check_total_seconds(files: list[MediaFile], refs: MediaRefs) -> None:
    """Refuse reference clips whose lengths add up past ``refs.max_total_seconds`` (when known)."""
    total = sum(f.seconds or 0.0 for f in files)
    if refs.max_total_seconds is not None and total > refs.max_total_seconds:
        kind = "video" if refs.role == "reference_video" else "audio"
        raise ValidationError(
            refs.body_field,
            [f.name for f in files],
            f"at most {refs.max_total_seconds:g} s of reference {kind} in all",
            f"the reference {kind} clips add up to {total:g} s; "
            f"at most {refs.max_total_seconds:g} s are allowed in all",
        )


def wav_duration(data: bytes) -> float | None:
    """Seconds of a WAV file from its ``fmt `` and ``data`` chunk headers (None if unreadable)."""
    offset, byte_rate = 12, 0
    while offset + 8 <= len(data):
        kind, size = data[offset : offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        if kind == b"fmt " and offset + 16 <= len(data):
            byte_rate = struct.unpack_from("<I", data, offset + 16)[0]
        elif kind == b"data":
            return round(size / byte_rate, 3) if byte_rate else None
        offset += 8 + size + (size & 1)  # chunks are padded to an even size
    return None


def image_problem(path: Path) -> str | None:
    """Why the image at ``path`` is not whole, or None: PNG ends with IEND, JPEG with its EOI
    marker, WebP's RIFF size matches the file, GIF ends with its trailer. Catches a download cut
    short even when no Content-Length was sent."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(16)
        f.seek(max(0, size - 12))
        tail = f.read(12)
    mime = sniff_image_type(head)
    if mime == "image/png":
        return None if tail[4:8] == b"IEND" else "the PNG has no IEND chunk at its end (it was cut short)"
    if mime == "image/jpeg":
        return (
            None if tail.endswith(b"\xff\xd9") else "the JPEG has no end-of-image marker (it was cut short)"
        )
    if mime == "image/webp":
        declared = struct.unpack_from("<I", head, 4)[0] + 8
        return None if declared == size else f"the WebP declares {declared} bytes but {size} arrived"
    if mime == "image/gif":
        return None if tail.endswith(b";") else "the GIF has no trailer (it was cut short)"
    return "it is not a PNG, JPEG, WebP or GIF image"


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
    return mp4_facts_bytes(path.read_bytes())


def mp4_duration(raw: bytes) -> float | None:
    """Seconds of an MP4/MOV from its movie header, or None when it has no readable index."""
    duration = mp4_facts_bytes(raw).get("duration")
    return float(duration) if duration is not None else None


def mp4_facts_bytes(raw: bytes) -> dict[str, Any]:
    """:func:`mp4_facts` of an MP4 held in memory."""
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
