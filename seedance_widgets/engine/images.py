"""A request's inputs (images, reference videos, reference audio), checked and read before
anything is kept or sent.

A URL is taken as given. A local file (a path or bytes) is read and hashed here: a path must lead
to a regular file (a symlink is followed, to a regular file only; FIFOs, devices and folders are
refused unread), its size is checked before it is read, and never more than its cap + 1 byte is
read. An image must be a JPEG, PNG, WebP or GIF by content (at most 10 MB); a reference video an
MP4/MOV the model takes, within its size, per-clip and total lengths (``media.read_video``).
Reference audio must be a URL: the gateway has no audio upload. Counts and modes are the model's
own rules (the request is validated with every input in place) and are checked first.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from seedance_widgets.api import (
    AUDIO_ROLE,
    IMAGE_ROLES,
    VIDEO_ROLE,
    GenerationRequest,
    ImageRole,
    MediaRole,
    SeedanceError,
    ValidationError,
)
from seedance_widgets.api.media import (
    MAX_UPLOAD_BYTES,
    MAX_VIDEO_UPLOAD_BYTES,
    MediaFile,
    check_total_seconds,
    read_image,
    read_video,
    sniff_image_type,
)

from .store import Store, sha256_bytes
from .tracked import Image, ImageInput

_PLACEHOLDER = "https://x.invalid/input-{}"
#: The request's list of each kind of input, by role.
_FIELDS = {VIDEO_ROLE: "video_with_roles", AUDIO_ROLE: "audio_with_roles"}


def prepare_images(
    request: GenerationRequest, images: Sequence[ImageInput], media: Sequence[ImageInput] = ()
) -> list[Image]:
    """Check and read the request's inputs: URLs as given, local files read and hashed.

    ``images`` take the roles first_frame, last_frame, reference_image; ``media`` the roles
    reference_video (a URL, a path or bytes) and reference_audio (a URL only).
    """
    if not images and not media:
        return []
    _check_roles(images, IMAGE_ROLES, "images")
    _check_roles(media, (VIDEO_ROLE, AUDIO_ROLE), "media")
    _check_not_both(request, images, media)
    # The model's counts and modes with every input in place, before any file is read.
    with_inputs(request, [(role, _PLACEHOLDER.format(n)) for n, (role, _) in enumerate([*images, *media])])
    prepared = [_prepare_image(role, source) for role, source in images]
    videos: list[MediaFile] = []
    for role, source in media:
        item, clip = _prepare_media(request, role, source)
        prepared.append(item)
        if clip is not None:
            videos.append(clip)
    refs = request.spec.video_refs
    if videos and refs is not None:
        check_total_seconds(videos, refs)
    return prepared


def with_inputs(request: GenerationRequest, inputs: Sequence[tuple[str, str]]) -> GenerationRequest:
    """``request`` with (role, URL) inputs in its image, video and audio lists (validated again)."""
    changes: dict[str, object] = {}
    images = tuple(ImageRole(url, role) for role, url in inputs if role in IMAGE_ROLES)
    if images:
        changes["image_with_roles"] = images
        changes["image_urls"] = ()
    for role, field in _FIELDS.items():
        given = tuple(MediaRole(url, role) for r, url in inputs if r == role)
        if given:
            changes[field] = given
    return request.replace(**changes) if changes else request


def without_inputs(request: GenerationRequest, roles: set[str]) -> GenerationRequest:
    """``request`` without its own inputs of the kinds ``roles`` name (given apart instead)."""
    changes: dict[str, object] = {}
    if roles & set(IMAGE_ROLES):
        changes.update(image_with_roles=(), image_urls=())
    for role, field in _FIELDS.items():
        if role in roles:
            changes[field] = ()
    return request.replace(**changes) if changes else request


def split_inputs(inputs: Sequence[ImageInput]) -> tuple[list[ImageInput], list[ImageInput]]:
    """(images, media) of a list of inputs, by role: what ``submit(images=, media=)`` take."""
    images = [(role, src) for role, src in inputs if role in IMAGE_ROLES]
    return images, [(role, src) for role, src in inputs if role not in IMAGE_ROLES]


def _check_roles(inputs: Sequence[ImageInput], roles: Sequence[str], name: str) -> None:
    for item in inputs:
        role = item[0] if isinstance(item, (tuple, list)) and len(item) == 2 else item
        if name == "images" and isinstance(role, str):
            ImageRole("https://x.invalid/", role)  # its refusal names the roles (and 1.0's "reference")
        if role not in roles:
            raise ValidationError(
                f"{name}.role",
                role,
                "one of " + ", ".join(roles),
                f"{name}= takes (role, source) pairs whose role is one of {', '.join(roles)}; got {role!r}",
            )


def _check_not_both(
    request: GenerationRequest, images: Sequence[ImageInput], media: Sequence[ImageInput]
) -> None:
    if images and (request.image_urls or request.image_with_roles):
        raise ValueError("pass images either in the request or as images=..., not both")
    for role, field in _FIELDS.items():
        if getattr(request, field) and any(r == role for r, _ in media):
            raise ValueError(f"pass {role} inputs either in the request ({field}) or as media=..., not both")


def _prepare_image(role: str, source: object) -> Image:
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        ImageRole(source, role)
        return Image(role=role, url=source)
    data = _local_image(role, source)
    return Image(role=role, data=data, sha256=sha256_bytes(data))


def _prepare_media(request: GenerationRequest, role: str, source: object) -> tuple[Image, MediaFile | None]:
    """A reference video or audio input; a local video comes with its checked clip."""
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        MediaRole(source, role)
        return Image(role=role, url=source), None
    if role == AUDIO_ROLE:
        raise ValidationError(
            "audio_with_roles",
            str(source) if isinstance(source, (str, os.PathLike)) else type(source).__name__,
            "an http(s) URL",
            "reference audio must be an http(s) URL: the gateway has no audio upload, so a local audio "
            "file cannot be sent. Put it online (anywhere the gateway can fetch it) and pass its URL.",
        )
    refs = request.spec.video_refs
    cap = min(MAX_VIDEO_UPLOAD_BYTES, (refs.max_bytes if refs else None) or MAX_VIDEO_UPLOAD_BYTES)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), "the reference video"
    elif isinstance(source, (str, os.PathLike)):
        data, name = _read_file(Path(source).expanduser(), "video", cap)
    else:
        raise ValidationError(
            "video",
            type(source).__name__,
            "an http(s) URL, a local file path or bytes",
            "the reference video is not an http(s) URL, a local file path or bytes "
            f"(got {type(source).__name__})",
        )
    clip = read_video(data, refs=refs, filename=name)
    return Image(role=role, data=clip.data, sha256=sha256_bytes(clip.data)), clip


def stored_inputs(store: Store, images: list[Image]) -> list[ImageInput]:
    """A job's inputs as submit() takes them again: bytes for local ones (from the store if
    needed), URLs as given."""
    inputs: list[ImageInput] = []
    for image in images:
        source: str | bytes | None = image.data
        if source is None and image.sha256 is not None:
            kept = sorted(store.uploads.glob(f"{image.sha256[:16]}.*"))
            source = kept[0].read_bytes() if kept else None
        source = source if source is not None else image.url
        if source is None:
            raise SeedanceError(f"the {image.role} input of this job is no longer available")
        inputs.append((image.role, source))
    return inputs


_IMAGE_KINDS = "a JPEG, PNG, WebP or GIF image"


def _local_image(role: str, source: object) -> bytes:
    """The bytes of a local image (a path or bytes), checked before anything is copied or sent.

    A path must lead to a regular file: a symlink is followed, but only to a regular file, and
    FIFOs, devices and folders are refused without being read. The size on disk is checked
    before reading, at most 10 MB + 1 byte is ever read, and the content must be an image.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = read_image(bytes(source), f"the {role} image")
    elif isinstance(source, (str, os.PathLike)):
        data, name = _read_image_file(Path(source).expanduser())
    else:
        raise ValidationError(
            "image",
            source,
            "an http(s) URL, a local file path or bytes",
            f"the {role} image is not "
            f"an http(s) URL, a local file path or bytes (got {type(source).__name__})",
        )
    if sniff_image_type(data[:16]) is None:
        message = f"{name} is not {_IMAGE_KINDS} (judged by its content)"
        raise ValidationError("image", name, _IMAGE_KINDS, message)
    return data


def _read_image_file(path: Path) -> tuple[bytes, str]:
    """Read an image file safely (see :func:`_read_file`); the client's own checks follow."""
    head, _ = _read_file(path, "image", MAX_UPLOAD_BYTES)
    # The size and emptiness checks on what was read are the client's own.
    return read_image(head, path.name)


def _read_file(path: Path, kind: str, cap: int) -> tuple[bytes, str]:
    """Read a local file safely: stat first, then open without blocking and check it again;
    never more than ``cap`` + 1 bytes."""
    allowed = f"a path to an existing {kind} file"
    try:
        info = path.stat()  # follows a symlink: what counts is what it leads to
    except OSError as err:
        message = f"no {kind} file at {path} ({err.strerror})"
        raise ValidationError(kind, str(path), allowed, message) from None
    _check_regular(path, info, kind)
    try:
        # O_NONBLOCK: if the path was swapped for a FIFO since the stat, opening still returns.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise ValidationError(kind, str(path), allowed, f"cannot read {path} ({err.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        _check_regular(path, info, kind)  # the file actually opened, whatever the path says now
        if info.st_size > cap:
            limit = f"at most {cap / 2**20:g} MB (the gateway's upload limit)"
            raise ValidationError(kind, str(path), limit, f"{path.name} is {info.st_size} bytes; {limit}")
        return handle.read(cap + 1), path.name  # never more, even if the file grows meanwhile


_FILE_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


def _check_regular(path: Path, info: os.stat_result, kind: str = "image") -> None:
    if stat.S_ISREG(info.st_mode):
        return
    found = next((name for test, name in _FILE_KINDS if test(info.st_mode)), "a special file")
    message = f"{path} is {found}, not a regular {kind} file: refused unread"
    raise ValidationError(kind, str(path), f"a regular {kind} file", message)
