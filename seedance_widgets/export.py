"""``export_html``: a finished notebook as an HTML page to send, its videos travelling with it.

Plain ``jupyter nbconvert --to html`` already shows every finished job: each widget leaves a static
twin output beside its live view (``seedance_widgets.widgets._share`` says how and why), whose
``<video src>`` is relative to the notebook, so that page plays when it sits beside the output
folder. ``export_html`` makes the page stand on its own:

- it runs nbconvert's ``HTMLExporter`` (the lab template) in this process on a copy of the notebook
  from which it drops our live outputs and our widgets' saved state (the page then loads no widget
  manager from a CDN: nothing in it needs the network to show a job);
- ``embed=True`` inlines every local video the page shows as a ``data:`` URL (one file to send; a
  warning above ``EMBED_WARN_BYTES``); otherwise the videos are copied into ``<name>_files/`` beside
  the page and the ``src`` attributes point there.

Only files that are MP4s are inlined or copied: a notebook from someone else cannot make its export
carry any other local file. Also ``%seedance export NOTEBOOK [--embed] [--out PATH]``.
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
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, unquote, urlparse

from seedance_widgets.api.media import is_mp4

__all__ = ["EMBED_WARN_BYTES", "ExportSizeWarning", "export_html"]

#: Above this many bytes of inlined video, ``export_html(embed=True)`` warns: mail and browsers
#: struggle with pages that large (copy the videos beside it instead: ``embed=False``).
EMBED_WARN_BYTES: Final = 100 * 1024 * 1024

_WIDGET_VIEW: Final = "application/vnd.jupyter.widget-view+json"
_WIDGET_STATE: Final = "application/vnd.jupyter.widget-state+json"
#: Output metadata keys our widgets write (widgets._share.ROLE_KEY, widgets._display.PROVENANCE_KEY).
_ROLE_KEY: Final = "seedance_widgets_display"
_PROVENANCE_KEY: Final = "seedance_widgets"
#: The ``_anywidget_id`` of our widgets' models starts with this.
_OUR_MODELS: Final = "seedance_widgets."
#: A ``<video ...>`` start tag and its ``src="..."`` attribute (our static HTML always double-quotes).
_VIDEO_SRC: Final = re.compile(r'(<video\b[^>]*?\ssrc=")([^"]*)(")', re.IGNORECASE)


class ExportSizeWarning(UserWarning):
    """The inlined videos make the exported page larger than ``EMBED_WARN_BYTES``."""


def export_html(
    notebook: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    embed: bool = False,
    warn_above_bytes: int = EMBED_WARN_BYTES,
) -> Path:
    """Write ``notebook`` (a saved ``.ipynb``) as an HTML page that shows and plays its videos offline.

    ``out`` defaults to the notebook's path with ``.html``. ``embed=True``: one self-contained file,
    the videos inside it as ``data:`` URLs (``ExportSizeWarning`` above ``warn_above_bytes``).
    Otherwise the videos are copied into ``<out name>_files/`` beside the page. Returns the page's
    path. Exports the notebook as last saved: save it first to include the newest outputs.
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
    if embed:
        page = _inline_videos(page, source.parent, warn_above_bytes)
    else:
        page = _copy_videos(page, source.parent, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
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


# ---- the videos -----------------------------------------------------------------------------------


def _local_video(src: str, base: Path) -> Path | None:
    """The local MP4 a ``<video src>`` names (relative to the notebook's folder), or None for a
    URL, a data: URL, a missing file or anything that is not an MP4."""
    parsed = urlparse(src)
    if parsed.scheme not in ("", "file") or (parsed.scheme == "" and parsed.netloc):
        return None
    path = Path(unquote(parsed.path))
    path = path if path.is_absolute() else base / path
    try:
        with path.open("rb") as stream:
            head = stream.read(64)
    except OSError:
        return None
    return path.resolve() if is_mp4(head) else None


def _rewrite_sources(page: str, base: Path, new_src: Callable[[Path], str]) -> str:
    def replace(match: re.Match[str]) -> str:
        path = _local_video(html.unescape(match.group(2)), base)
        if path is None:
            return match.group(0)
        return match.group(1) + html.escape(new_src(path)) + match.group(3)

    return _VIDEO_SRC.sub(replace, page)


def _inline_videos(page: str, base: Path, warn_above_bytes: int) -> str:
    cache: dict[Path, str] = {}

    def as_data_url(path: Path) -> str:
        if path not in cache:
            cache[path] = "data:video/mp4;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
        return cache[path]

    page = _rewrite_sources(page, base, as_data_url)
    total = sum(path.stat().st_size for path in cache)
    if total > warn_above_bytes:
        warnings.warn(
            f"the exported page holds {len(cache)} videos, {total / 1e6:.1f} MB in all (over "
            f"{warn_above_bytes / 1e6:.0f} MB): large to mail or open; export with embed=False to copy "
            "the videos into a folder beside the page instead",
            ExportSizeWarning,
            stacklevel=3,
        )
    return page


def _copy_videos(page: str, base: Path, target: Path) -> str:
    folder = target.parent / f"{target.stem}_files"
    copied: dict[Path, str] = {}

    def copy_beside(path: Path) -> str:
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

    return _rewrite_sources(page, base, copy_beside)
