"""A request's images, checked and read before anything is kept or sent.

A URL is taken as given. A local image (a path or bytes) is read and hashed here: a path must lead
to a regular file (a symlink is followed, to a regular file only; FIFOs, devices and folders are
refused unread), its size is checked before it is read, at most 10 MB + 1 byte is ever read, and
its content must be a JPEG, PNG, WebP or GIF.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from seedance_widgets.api import GenerationRequest, ImageRole, SeedanceError, ValidationError
from seedance_widgets.api.media import MAX_UPLOAD_BYTES, read_image, sniff_image_type

from .store import Store, sha256_bytes
from .tracked import Image, ImageInput


def prepare_images(request: GenerationRequest, images: Sequence[ImageInput]) -> list[Image]:
    """Check and read the request's images: URLs as given, local ones read and hashed."""
    if not images:
        return []
    if request.image_urls or request.image_with_roles:
        raise ValueError("pass images either in the request or as images=..., not both")
    prepared: list[Image] = []
    for role, source in images:
        ImageRole("https://x.invalid/", role)  # validates the role name
        if isinstance(source, str) and source.startswith(("http://", "https://")):
            ImageRole(source, role)
            prepared.append(Image(role=role, url=source))
            continue
        data = _local_image(role, source)
        prepared.append(Image(role=role, data=data, sha256=sha256_bytes(data)))
    # Validates counts per role (at most one first/last frame, up to 4 references).
    GenerationRequest(
        prompt=request.prompt,
        image_with_roles=tuple(ImageRole("https://x.invalid/i", i.role) for i in prepared),
    )
    return prepared


def stored_inputs(store: Store, images: list[Image]) -> list[ImageInput]:
    """A job's images as submit() takes them again: bytes for local ones (from the store if
    needed), URLs as given."""
    inputs: list[ImageInput] = []
    for image in images:
        source: str | bytes | None = image.data
        if source is None and image.sha256 is not None:
            kept = sorted(store.uploads.glob(f"{image.sha256[:16]}.*"))
            source = kept[0].read_bytes() if kept else None
        source = source if source is not None else image.url
        if source is None:
            raise SeedanceError(f"the {image.role} image of this job is no longer available")
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
    """Read an image file safely: stat first, then open without blocking and check it again."""
    allowed = "a path to an existing image file"
    try:
        info = path.stat()  # follows a symlink: what counts is what it leads to
    except OSError as err:
        message = f"no image file at {path} ({err.strerror})"
        raise ValidationError("image", str(path), allowed, message) from None
    _check_regular(path, info)
    try:
        # O_NONBLOCK: if the path was swapped for a FIFO since the stat, opening still returns.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise ValidationError("image", str(path), allowed, f"cannot read {path} ({err.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        _check_regular(path, info)  # the file actually opened, whatever the path says now
        if info.st_size > MAX_UPLOAD_BYTES:
            limit = "at most 10 MB (the gateway's upload limit)"
            raise ValidationError("image", str(path), limit, f"{path.name} is {info.st_size} bytes; {limit}")
        head = handle.read(MAX_UPLOAD_BYTES + 1)  # never more, even if the file grows meanwhile
    # The size and emptiness checks on what was read are the client's own.
    return read_image(head, path.name)


_FILE_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


def _check_regular(path: Path, info: os.stat_result) -> None:
    if stat.S_ISREG(info.st_mode):
        return
    kind = next((name for test, name in _FILE_KINDS if test(info.st_mode)), "a special file")
    message = f"{path} is {kind}, not a regular image file: refused unread"
    raise ValidationError("image", str(path), "a regular image file", message)
