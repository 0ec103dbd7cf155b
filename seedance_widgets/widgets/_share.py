"""How a widget travels in a shared notebook: the live view, plus a static twin beside it.

The problem. ``jupyter nbconvert --to html`` renders one MIME type per output. Its HTML exporter
asks ``nbconvert.filters.WidgetsDataTypeFilter`` for it: ``application/vnd.jupyter.widget-view+json``
comes first whenever the output's ``model_id`` is a key of the notebook's saved widget state
(``metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]``); otherwise that type is
skipped and ``text/html`` wins. The widget view then becomes two ``<script>`` tags, and the page
loads ``@jupyter-widgets/html-manager`` (and anywidget) from unpkg.com to draw it: offline nothing
shows, and even online the saved state holds no video bytes. State is saved by nbclient for every
comm it saw (``store_widget_state`` is on by default) and by JupyterLab for every live model when
"save widget state" is on, so an output that carries our live model's id can never fall back to
its own ``text/html`` there. Whatever we do to that one output must keep the id, or the live
widget in JupyterLab / Notebook 7 would go.

The mechanism: a second output, the *static twin*. Inside a kernel each widget shows as

1. the live output: ``{widget-view (the model's id), text/plain}`` (metadata role ``"live"``);
2. the twin: ``{widget-view with model_id "", text/html (the static card, table or history)}``
   (metadata role ``"static"``), under its own display id and updated with ``update_display``
   whenever a job it shows changes state, so a saved notebook holds every finished video.

Why the empty id: nbconvert's filter skips a widget view whose ``model_id`` is not in the state,
and ``""`` never is, so the twin always exports as its ``text/html`` (a ``<video src>`` relative to
the notebook; a ``data:`` URL with ``embed``): it plays offline wherever the HTML sits beside the
output folder, with plain ``jupyter nbconvert --to html``, no flags, no CDN. JupyterLab and
Notebook 7 render the same output with the widget renderer (jupyterlab_widgets'
``WidgetRenderer.renderModel``), which hides the node when ``model_id === ""`` ("the view was
removed"), so the live page shows the live widget only. Where no widget manager runs (JupyterLab
without a kernel, GitHub, VS Code without widgets) the live output falls back to its one text line
and the twin shows the card: never the card twice. The front-end code draws nothing in an
exported page whose widget manager did load (see js/lib/static_page.js), so online exports do not
show a second, kernel-less card either.

Alternatives rejected: dropping the widget view from the final bundle (the live widget would turn
into static HTML in JupyterLab as soon as the job ends), closing the comm when the job ends (the
view goes with it), a custom nbconvert template or exporter (plain ``nbconvert`` would not use it),
or pointing ``widget_renderer_url`` at a local copy of the html-manager (a flag, and still no video
bytes in the state). ``seedance_widgets.export_html`` goes further for a single file to send: it
drops the live outputs and our models' state, and inlines or copies the videos.

Outside a kernel (a terminal IPython, tests) there is no twin: the widget's own bundle carries the
``text/html`` as before.
"""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Hashable
from typing import Any, Final

from ._cards import current_kernel

#: The widget-view MIME type (ipywidgets' and nbconvert's name for it).
WIDGET_VIEW_MIME: Final = "application/vnd.jupyter.widget-view+json"
#: Output-metadata key naming which of a widget's two outputs this is.
ROLE_KEY: Final = "seedance_widgets_display"
#: The live output (widget view + text line).
ROLE_LIVE: Final = "live"
#: The static twin (static HTML, hidden wherever the live widget renders).
ROLE_STATIC: Final = "static"
#: The twin's widget view: an id no widget state ever holds (see the module docstring).
HIDDEN_VIEW: Final = {"version_major": 2, "version_minor": 0, "model_id": ""}


def in_kernel() -> bool:
    """True inside a Jupyter kernel (where the twin is shown), False in a terminal or a plain script."""
    return current_kernel() is not None


def live_bundle(
    widget_bundle: tuple[dict[str, Any], dict[str, Any] | None] | None, text: str, metadata: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The live output: the widget's view and a text line (no HTML: the twin carries it)."""
    data: dict[str, Any] = {"text/plain": text}
    out_metadata: dict[str, Any] = {**metadata, ROLE_KEY: ROLE_LIVE}
    if widget_bundle is not None:
        view = widget_bundle[0].get(WIDGET_VIEW_MIME)
        if view is not None:
            data[WIDGET_VIEW_MIME] = view
        out_metadata = {**(widget_bundle[1] or {}), **out_metadata}
    return data, out_metadata


def twin_bundle(html: str, metadata: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The static twin: the hidden view and the static HTML."""
    return {WIDGET_VIEW_MIME: dict(HIDDEN_VIEW), "text/html": html}, {**metadata, ROLE_KEY: ROLE_STATIC}


def show_backend_notice_once() -> None:
    """Print the built-in emulator's notice if no front door has shown it yet (main thread only)."""
    from seedance_widgets.backend import take_backend_notice

    notice = take_backend_notice()
    if notice:
        sys.stdout.write(notice.rstrip("\n") + "\n")
        sys.stdout.flush()


#: A twin key no update carries (outputs adopted from elsewhere were not sent by this twin).
_NOT_SENT: Final = object()


class StaticTwin:
    """A widget's static twin output: shown beside the live view, then replaced by display id.

    ``key`` says what the HTML shows (e.g. each job's id and state): an update with the key last
    sent sends nothing, so progress ticks never reach the notebook, only state changes do.
    ``update`` may be called from the engine's threads (after ``KernelParent.ensure_in_this_thread``).
    """

    def __init__(self, name: str) -> None:
        self.display_id = f"seedance-{name}-static-{uuid.uuid4().hex[:8]}"
        self._lock = threading.Lock()
        self._shown = False
        self._key: Hashable = None

    @property
    def shown(self) -> bool:
        return self._shown

    def show(self, html: str, metadata: dict[str, Any], key: Hashable) -> None:
        """Display the twin (each call adds one output; all of them share the display id)."""
        from IPython.display import display

        with self._lock:
            self._shown = True
            self._key = key
        data, md = twin_bundle(html, metadata)
        display(data, raw=True, metadata=md, display_id=self.display_id)

    def adopt(self, display_id: str) -> None:
        """Take over outputs already shown under ``display_id`` (a :class:`FinishedCard`'s card):
        the next :meth:`update` replaces them, whatever its key."""
        with self._lock:
            self.display_id = display_id
            self._shown = True
            self._key = _NOT_SENT

    def wants(self, key: Hashable) -> bool:
        """Whether an update with ``key`` would be sent (shown, and the key changed)."""
        with self._lock:
            return self._shown and key != self._key

    def update(self, html: str, metadata: dict[str, Any], key: Hashable) -> bool:
        """Replace every displayed twin when ``key`` changed; True when an update was sent."""
        from IPython.display import update_display

        with self._lock:
            if not self._shown or key == self._key:
                return False
            self._key = key
        data, md = twin_bundle(html, metadata)
        update_display(data, raw=True, metadata=md, display_id=self.display_id)
        return True
