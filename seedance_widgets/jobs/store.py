"""The output folder: videos by content hash, uploaded images, the ledger, request hashing.

```
seedance_outputs/
  ledger.jsonl
  videos/<sha256[:16]>-<slug>.mp4
  uploads/<sha256[:16]>.<ext>
```
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import unicodedata
from pathlib import Path
from typing import Any

from seedance_widgets.api import GenerationRequest, sniff_image_type

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


def canonical_body(request: GenerationRequest, local_images: dict[str, str] | None = None) -> dict[str, Any]:
    """The create body with each image URL that came from a local file replaced by ``sha256:<hex>``.

    ``local_images`` maps such URLs to the file's sha256, so the same picture hashes the
    same after a re-upload under a new URL.
    """
    body = request.to_body()
    swap = local_images or {}

    def stable(url: str) -> str:
        return LOCAL_IMAGE_PREFIX + swap[url] if url in swap else url

    if "image_urls" in body:
        body["image_urls"] = [stable(u) for u in body["image_urls"]]
    if "image_with_roles" in body:
        body["image_with_roles"] = [{**item, "url": stable(item["url"])} for item in body["image_with_roles"]]
    return body


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

    def save_upload(self, data: bytes) -> tuple[Path, str]:
        """Keep a copy of a local image as sent; returns (path, sha256)."""
        digest = sha256_bytes(data)
        mime = sniff_image_type(data[:16])
        ext = _IMAGE_EXTENSIONS.get(mime or "", "bin")
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
