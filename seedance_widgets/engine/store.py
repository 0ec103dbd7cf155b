"""The output folder: videos by content hash, uploaded images and videos, the ledger, request keys.

```
seedance_outputs/
  ledger.jsonl
  videos/<sha256[:16]>-<slug>.mp4
  videos/<sha256[:16]>-<slug>.last.<ext>   its last frame, when the request asked for it
  uploads/<sha256[:16]>.<ext>     local images and reference videos as sent
  .owners/<manager id>.lock     flock'ed by each live manager, so others leave its jobs alone
```
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seedance_widgets.api import GenerationRequest, sniff_image_type
from seedance_widgets.api.media import VIDEO_TYPES, sniff_video_type
from seedance_widgets.api.models import AUDIO_ROLE, IMAGE_ROLES, VIDEO_ROLE
from seedance_widgets.api.protocols import for_provider, toapis

from .ledger import Ledger

DEFAULT_OUTPUT_DIR = "seedance_outputs"
_IMAGE_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}
#: Marker put in place of an image URL that comes from a local file, in hashes and dry runs.
LOCAL_IMAGE_PREFIX = "sha256:"


def resolve_output_dir(output_dir: str | os.PathLike[str] | None = None) -> Path:
    """The argument, else ``$SEEDANCE_OUTPUT_DIR``, else ``./seedance_outputs`` (absolute)."""
    chosen = output_dir or os.environ.get("SEEDANCE_OUTPUT_DIR") or DEFAULT_OUTPUT_DIR
    return Path(chosen).expanduser().resolve()


def slugify(text: str, max_chars: int = 40) -> str:
    """A short, safe file-name part from a prompt: ascii letters, digits and dashes."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")
    if len(slug) > max_chars:
        slug = slug[:max_chars].rsplit("-", 1)[0] or slug[:max_chars]
    return slug.strip("-") or "video"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def canonical_hash(body: dict[str, Any]) -> str:
    """sha256 of the body as canonical JSON (keys sorted, no spaces)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return sha256_bytes(text.encode())


def request_key(request: GenerationRequest, inputs: Sequence[tuple[str, str]] | None = None) -> str:
    """The cache key of a request: the :func:`canonical_hash` of :func:`neutral_key`."""
    return canonical_hash(neutral_key(request, inputs))


def neutral_key(
    request: GenerationRequest, inputs: Sequence[tuple[str, str]] | None = None
) -> dict[str, Any]:
    """What identifies a request, whatever protocol sends it: ``request.neutral()``, with the
    inputs given apart from it in place of its own of the same kind.

    ``inputs`` are (role, reference) pairs (images, reference videos, reference audio); a local
    file's reference is ``sha256:<hex>`` of its bytes, so the same picture or clip keys the same
    however often it is re-uploaded (and under whatever URL).
    """
    key = request.neutral()
    for name, roles in _KINDS:
        given = [{"url": ref, "role": role} for role, ref in inputs or () if role in roles]
        if given:
            key[name] = given
    return key


#: The neutral request's list of each kind of input, and the roles that go into it.
_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("images", IMAGE_ROLES),
    ("videos", (VIDEO_ROLE,)),
    ("audios", (AUDIO_ROLE,)),
)


def canonical_body(
    request: GenerationRequest,
    images: Sequence[tuple[str, str]] | None = None,
    *,
    provider: str = toapis.NAME,
    region: str | None = None,
) -> dict[str, Any]:
    """The create body a request would send to ``provider`` (a dry run shows it).

    ``images`` are (role, reference) pairs (images, reference videos or audio) that replace the
    request's own of the same kind; a local file's reference is ``sha256:<hex>`` of its bytes
    until it is uploaded (on Ark, until it is inlined). The cache key is :func:`request_key`,
    not a hash of this body. The protocol builds it (its ``dry_run_body``).
    """
    return for_provider(provider).dry_run_body(request, images or (), region=region)


class Store:
    """Paths and files of one output folder."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = resolve_output_dir(root)
        self.videos = self.root / "videos"
        self.uploads = self.root / "uploads"
        self.ledger = Ledger(self.root / "ledger.jsonl")

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    def ensure(self) -> None:
        self.videos.mkdir(parents=True, exist_ok=True)
        self.uploads.mkdir(parents=True, exist_ok=True)

    def unwritable_reason(self) -> str | None:
        """Why records cannot be added here (None: they can): the ledger, or the folder for it."""
        target = self.ledger.path if self.ledger.path.exists() else self.root
        if os.access(target, os.W_OK):
            return None
        return f"{target} is read-only"

    # ---- owners: which managers (processes) are alive on this folder ----------------------
    def hold_owner_lock(self, owner_id: str) -> int:
        """Create and exclusively lock ``.owners/<owner_id>.lock``; returns the descriptor to keep."""
        folder = self.root / ".owners"
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / f"{owner_id}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    def release_owner_lock(self, owner_id: str, fd: int) -> None:
        with contextlib.suppress(OSError):
            (self.root / ".owners" / f"{owner_id}.lock").unlink()
        with contextlib.suppress(OSError):
            os.close(fd)

    def owner_alive(self, owner_id: str) -> bool:
        """True while the manager ``owner_id`` (in any process) holds its lock."""
        path = self.root / ".owners" / f"{owner_id}.lock"
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            return False  # shut down cleanly (file removed) or never existed
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # also drops our probe lock
        with contextlib.suppress(OSError):
            path.unlink()  # its process died without cleaning up
        return False

    def incoming_path(self, local_id: str) -> Path:
        """Where a download lands before its hash names it (dot-file: hidden from listings)."""
        return self.videos / f".incoming-{local_id}.mp4"

    def keep_video(self, incoming: Path, prompt: str) -> tuple[Path, str]:
        """Hash a finished download and move it to its content-addressed name."""
        digest = sha256_file(incoming)
        final = self.videos / f"{digest[:16]}-{slugify(prompt)}.mp4"
        if final.exists() and sha256_file(final) == digest:
            incoming.unlink()
        else:
            os.replace(incoming, final)
        return final, digest

    def incoming_frame_path(self, local_id: str) -> Path:
        """Where a last-frame image lands before it is named after its video."""
        return self.videos / f".incoming-{local_id}.last"

    def keep_last_frame(self, incoming: Path, video: Path) -> Path:
        """Move a downloaded last frame beside its video: ``<video stem>.last.<ext>`` (type by content)."""
        with incoming.open("rb") as handle:
            mime = sniff_image_type(handle.read(16))
        final = video.with_name(f"{video.stem}.last.{_IMAGE_EXTENSIONS.get(mime or '', 'png')}")
        os.replace(incoming, final)
        return final

    def save_upload(self, data: bytes) -> tuple[Path, str]:
        """Keep a copy of a local image or reference video as sent; returns (path, sha256)."""
        digest = sha256_bytes(data)
        mime = sniff_image_type(data[:16])
        ext = _IMAGE_EXTENSIONS.get(mime or "") or VIDEO_TYPES.get(sniff_video_type(data[:64]) or "", "bin")
        path = self.uploads / f"{digest[:16]}.{ext}"
        if not path.exists():
            self.uploads.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return path, digest

    @staticmethod
    def file_matches(path: Path | None, digest: str | None) -> bool:
        """True when ``path`` exists and its content hashes to ``digest``."""
        if path is None or digest is None:
            return False
        with contextlib.suppress(OSError):
            return path.is_file() and sha256_file(path) == digest
        return False
