"""``export_html``: a finished notebook as an HTML page to send, its videos travelling with it.

Plain ``jupyter nbconvert --to html`` already shows every finished job: each widget leaves a static
twin output beside its live view (``seedance_widgets.widgets._share`` says how and why), whose
``<video src>`` is relative to the notebook, so that page plays when it sits beside the output
folder. ``export_html`` makes the page stand on its own:

- it runs nbconvert's ``HTMLExporter`` (the lab template) in this process on a copy of the notebook
  from which it drops our live outputs and our widgets' saved state (the page then loads no widget
  manager from a CDN: nothing in it needs the network to show a job);
- ``embed=True`` inlines every local video the page shows, and each card's last-frame image (a job
  asked with ``return_last_frame``), as a ``data:`` URL (one file to send; a warning above
  ``EMBED_WARN_BYTES``); otherwise those files are copied into ``<name>_files/`` beside the page and
  the ``src`` attributes point there.

Only files that are what the tag says are inlined or copied (MP4s for ``<video>``, JPEG/PNG/WebP/GIF
by their bytes for our cards' last-frame ``<img>``; a last frame only from inside the notebook's
folder): a notebook from someone else cannot make its export carry any other local file. A local
file a card names that is not there is left as it is and named in an ``ExportMissingFileWarning``.
Also ``%seedance export NOTEBOOK [--embed] [--out PATH]``.
"""

from __future__ import annotations

import base64
import copy
import html
import os
import re
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, unquote, urlparse

from seedance_widgets.api.media import is_mp4, sniff_image_type

__all__ = ["EMBED_WARN_BYTES", "ExportMissingFileWarning", "ExportSizeWarning", "export_html"]

#: Above this many bytes of inlined video and images, ``export_html(embed=True)`` warns: mail and browsers
#: struggle with pages that large (copy the videos beside it instead: ``embed=False``).
EMBED_WARN_BYTES: Final = 100 * 1024 * 1024

_WIDGET_VIEW: Final = "application/vnd.jupyter.widget-view+json"
_WIDGET_STATE: Final = "application/vnd.jupyter.widget-state+json"
#: Output metadata keys our widgets write (widgets._share.ROLE_KEY, widgets._display.PROVENANCE_KEY).
_ROLE_KEY: Final = "seedance_widgets_display"
_PROVENANCE_KEY: Final = "seedance_widgets"
#: The ``_anywidget_id`` of our widgets' models starts with this.
_OUR_MODELS: Final = "seedance_widgets."
#: A ``<video>`` or ``<img>`` start tag of the page. nbconvert re-serializes the whole page with
#: BeautifulSoup, which sorts the attributes, quotes a value holding ``"`` with ``'`` and writes ``>``
#: in a value as ``&gt;``: so no ``>`` inside a tag, and attributes in any order and quoting.
_START_TAG: Final = re.compile(r"<(video|img)\b([^>]*)>", re.IGNORECASE)
#: One attribute of a start tag: name, then a double-quoted, single-quoted or bare value (or none).
_ATTRIBUTE: Final = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")
#: The class of our static card's last-frame ``<img>`` (widgets._cards._static_last_frame): what
#: marks an image ours; other images on the page are left alone.
_LAST_FRAME_CLASS: Final = "seedance-static-last-frame"


class ExportSizeWarning(UserWarning):
    """The inlined videos and images make the exported page larger than ``EMBED_WARN_BYTES``."""


class ExportMissingFileWarning(UserWarning):
    """A local video or last frame a card shows is not on disk: the page shows it broken."""


def export_html(
    notebook: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    embed: bool = False,
    warn_above_bytes: int = EMBED_WARN_BYTES,
) -> Path:
    """Write ``notebook`` (a saved ``.ipynb``) as an HTML page that shows and plays its videos offline.

    ``out`` defaults to the notebook's path with ``.html``. ``embed=True``: one self-contained file,
    the videos and the cards' last frames inside it as ``data:`` URLs (``ExportSizeWarning`` above
    ``warn_above_bytes``). Otherwise they are copied into ``<out name>_files/`` beside the page. A
    local file a card names that is gone: ``ExportMissingFileWarning``. Returns the page's path.
    Exports the notebook as last saved: save it first to include the newest outputs.
    """
    import nbformat
    from nbconvert import HTMLExporter

    source = Path(notebook).expanduser()
    if not source.is_file():
        raise FileNotFoundError(f"no notebook at {source}: give the path of a saved .ipynb file")
    target = Path(out).expanduser() if out is not None else source.with_suffix(".html")
    if target.resolve() == source.resolve():
        raise ValueError(f"out={str(target)!r} would overwrite the notebook; give a path ending in .html")
    nb = shareable_copy(nbformat.read(source, as_version=4))
    resources = {"metadata": {"path": str(source.parent.resolve()), "name": source.stem}}
    page, _ = HTMLExporter().from_notebook_node(nb, resources=resources)
    missing: list[str] = []
    if embed:
        page = _inline_media(page, source.parent, warn_above_bytes, missing)
    else:
        page = _copy_media(page, source.parent, target, missing)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    if missing:
        warnings.warn(
            f"{len(missing)} file(s) the notebook's cards show were not found beside {source.name}, so "
            f"{target.name} shows them broken: {', '.join(missing)}; export the notebook from the "
            "folder it was saved in, with its output folder beside it",
            ExportMissingFileWarning,
            stacklevel=2,
        )
    return target


# ---- the notebook ---------------------------------------------------------------------------------


def shareable_copy(nb: Any) -> Any:
    """A copy of ``nb`` for the page: our live outputs dropped (their static twins stay), the widget
    view taken out of our older outputs that carry their own HTML, and our models' saved state
    removed (with no state left, the page loads no widget manager at all)."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            metadata = output.get("metadata", {})
            data = output.get("data", {})
            if metadata.get(_ROLE_KEY) == "live":
                continue
            if _PROVENANCE_KEY in metadata and "text/html" in data:
                data.pop(_WIDGET_VIEW, None)  # notebooks saved before the twins existed
            kept.append(output)
        cell["outputs"] = kept
    widgets = nb.metadata.get("widgets", {})
    state = widgets.get(_WIDGET_STATE, {}).get("state")
    if isinstance(state, dict):
        for model_id in [m for m, entry in state.items() if _is_ours(entry)]:
            del state[model_id]
        if not state:
            del nb.metadata["widgets"]
    return nb


def _is_ours(entry: Any) -> bool:
    inner = entry.get("state", {}) if isinstance(entry, dict) else {}
    return str(inner.get("_anywidget_id", "")).startswith(_OUR_MODELS)


# ---- the videos and last frames ----------------------------------------------------------------


@dataclass(frozen=True)
class _Media:
    """One kind of file our static cards point to: the tag that names it and how its bytes prove it."""

    #: The tag's name, and the class that marks it ours (None: every such tag).
    tag: str
    marker: str | None
    #: The MIME type of the file from its first 64 bytes, or None when it is not this kind of file.
    sniff: Callable[[bytes], str | None]
    #: Refuse files outside the notebook's folder (``..``, absolute paths, symlinks out of it).
    inside_only: bool


def _sniff_mp4(head: bytes) -> str | None:
    return "video/mp4" if is_mp4(head) else None


#: Videos keep the rule they always had (any local MP4: an output folder may sit beside the
#: notebook's); last frames, images any file could claim to be, come only from inside its folder.
_KINDS: Final = (
    _Media("video", None, _sniff_mp4, inside_only=False),
    _Media("img", _LAST_FRAME_CLASS, sniff_image_type, inside_only=True),
)


def _local_file(src: str, base: Path, kind: _Media, missing: list[str]) -> tuple[Path, str] | None:
    """The local file (resolved) a card's ``src`` names, relative to the notebook's folder, with its
    sniffed MIME type; None for a URL, a data: URL, a file of another type or one out of bounds.
    A file that is not there is added to ``missing`` (by its ``src``)."""
    parsed = urlparse(src)
    if parsed.scheme not in ("", "file") or (parsed.scheme == "" and parsed.netloc):
        return None
    path = Path(unquote(parsed.path))
    path = (path if path.is_absolute() else base / path).resolve()
    if kind.inside_only and not path.is_relative_to(base.resolve()):
        return None
    try:
        with path.open("rb") as stream:
            head = stream.read(64)
    except FileNotFoundError:
        if src not in missing:
            missing.append(src)
        return None
    except OSError:
        return None
    mime = kind.sniff(head)
    return (path, mime) if mime else None


def _kind_of(tag: str, attributes: dict[str, str]) -> _Media | None:
    """Which of our kinds of file a start tag shows, or None for a tag that is not ours."""
    for kind in _KINDS:
        if kind.tag == tag and (kind.marker is None or kind.marker in attributes.get("class", "").split()):
            return kind
    return None


def _rewrite_sources(page: str, base: Path, new_src: Callable[[Path, str], str], missing: list[str]) -> str:
    """Each of our videos' and last frames' ``src`` replaced by ``new_src(file, mime)`` (escaped)."""

    def replace(match: re.Match[str]) -> str:
        body = match.group(2)
        spans: dict[str, tuple[int, int]] = {}
        values: dict[str, str] = {}
        for attribute in _ATTRIBUTE.finditer(body):
            name = attribute.group(1).lower()
            if name not in values:  # as in a browser, the first of a repeated attribute counts
                value = next((v for v in attribute.group(2, 3, 4) if v is not None), "")
                values[name], spans[name] = html.unescape(value), attribute.span()
        kind = _kind_of(match.group(1).lower(), values)
        found = _local_file(values["src"], base, kind, missing) if kind and "src" in values else None
        if found is None:
            return match.group(0)
        start, end = spans["src"]
        src = f'src="{html.escape(new_src(*found))}"'
        return f"<{match.group(1)}{body[:start]}{src}{body[end:]}>"

    return _START_TAG.sub(replace, page)


def _inline_media(page: str, base: Path, warn_above_bytes: int, missing: list[str]) -> str:
    cache: dict[Path, str] = {}

    def as_data_url(path: Path, mime: str) -> str:
        if path not in cache:
            cache[path] = f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")
        return cache[path]

    page = _rewrite_sources(page, base, as_data_url, missing)
    total = sum(path.stat().st_size for path in cache)
    if total > warn_above_bytes:
        warnings.warn(
            f"the exported page holds {len(cache)} videos and images, {total / 1e6:.1f} MB in all (over "
            f"{warn_above_bytes / 1e6:.0f} MB): large to mail or open; export with embed=False to copy "
            "them into a folder beside the page instead",
            ExportSizeWarning,
            stacklevel=3,
        )
    return page


def _copy_media(page: str, base: Path, target: Path, missing: list[str]) -> str:
    folder = target.parent / f"{target.stem}_files"
    copied: dict[Path, str] = {}

    def copy_beside(path: Path, _mime: str) -> str:
        if path not in copied:
            name = path.name
            taken = set(copied.values())
            stem, n = path.stem, 1
            while name in taken:  # two different files with one name (from two folders)
                n += 1
                name = f"{stem}-{n}{path.suffix}"
            folder.mkdir(parents=True, exist_ok=True)
            dest = folder / name
            if not dest.exists() or dest.stat().st_size != path.stat().st_size:
                shutil.copyfile(path, dest)
            copied[path] = name
        return f"{quote(folder.name)}/{quote(copied[path])}"

    return _rewrite_sources(page, base, copy_beside, missing)
