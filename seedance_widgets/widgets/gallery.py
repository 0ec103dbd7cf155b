"""``Gallery``: a labelled grid of players, one cell per job, rows and columns by parameter.

Each cell holds the job's card (``_cards``: the same data, video server and static HTML as the
JobView and the form's history). Inside a kernel the gallery shows as the live widget plus a static
twin (the table, with the videos) that exports with plain nbconvert (see ``_share``); a card's
confirmed "Generate again (paid)" adds the new job to the grid.

A grid may hold a hundred players, so the page asks for a video's bytes (``MSG_VIDEO_REQUEST``) only
when its card scrolls into view, and a card scrolled a screen or more away drops its blob (and
asks again if it comes back): the page's memory follows what is on screen, not the grid's size
(js/gallery.js; measured by benchmarks/bench_gallery.py).
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from seedance_widgets.api import GenerationRequest, SeedanceError, catalog
from seedance_widgets.api.models import GRID_PARAMS
from seedance_widgets.engine.state import JobSnapshot, JobState
from seedance_widgets.widgets import _display, _share
from seedance_widgets.widgets._again import continue_from_here, generate_again
from seedance_widgets.widgets._cards import CardBook, KernelParent, VideoServer, static_card_html
from seedance_widgets.widgets.messages import (
    MSG_CONTINUE,
    MSG_GENERATE_AGAIN,
    MSG_LAST_FRAME_REQUEST,
    MSG_VIDEO_REQUEST,
)

log = logging.getLogger("seedance_widgets.widgets")


def param_value(request: GenerationRequest | None, param: str) -> Any:
    """The value of a grid parameter in a request (None for a task attached by id only)."""
    return getattr(request, param) if request is not None else None


def value_label(param: str, value: Any) -> str:
    """How a row or column value reads in its header."""
    if value is None and param != "seed":
        return "unknown"
    if param == "seed":
        return "seed random" if value is None or value == -1 else f"seed {value}"
    if param == "duration":
        return "auto length" if isinstance(value, int) and value <= 0 else f"{value} s"
    if param == "model" and isinstance(value, str) and value in catalog.MODELS:
        return f"{catalog.MODELS[value].label} ({value})"
    if param in ("audio", "camera_fixed"):
        name = "audio" if param == "audio" else "camera fixed"
        return name if value else f"no {name}"
    return str(value)


def _check_param(kind: str, param: str | None) -> str | None:
    if param is None or param in GRID_PARAMS:
        return param
    raise traitlets.TraitError(
        f"{kind}={param!r} is not a parameter a grid can be laid out by; "
        f"use one of: {', '.join(GRID_PARAMS)} (or None)"
    )


class Gallery(anywidget.AnyWidget):
    """A labelled grid of players: one cell per job, rows and columns by request parameter.

    ``Gallery(jobs, rows="prompt", cols="seed")``. Cells show progress while their job runs
    and the video (fetched from the kernel on request) once it is done. Jobs whose row and
    column values coincide share a cell.
    """

    _esm = _display.bundle("gallery.js")
    _css = _display.bundle("gallery.css")

    #: Name of the request parameter that varies down the rows (None: one row).
    rows = traitlets.Unicode(None, allow_none=True, help="parameter down the rows").tag(sync=True)
    #: Name of the request parameter that varies across the columns (None: one column).
    cols = traitlets.Unicode(None, allow_none=True, help="parameter across the columns").tag(sync=True)
    #: Header text of each row, in order of first appearance among the jobs.
    row_labels = traitlets.List(traitlets.Unicode(), help="row headers").tag(sync=True)
    #: Header text of each column, in order of first appearance among the jobs.
    col_labels = traitlets.List(traitlets.Unicode(), help="column headers").tag(sync=True)
    #: One entry per job: ``{"row": i, "col": j, "card": {...}}``; JSON only, never video bytes.
    cells = traitlets.List(traitlets.Dict(), help="one entry per job with its grid position").tag(sync=True)
    #: The line above the grid ("3 of 6 done").
    title = traitlets.Unicode("", help="summary line above the grid").tag(sync=True)
    #: The last error from handling a page message, shown under the grid ("" = none).
    error = traitlets.Unicode("", help="last error shown under the grid").tag(sync=True)

    def __init__(
        self,
        jobs: Iterable[Any],
        rows: str | None = None,
        cols: str | None = None,
        *,
        notebook_dir: str | Path | None = None,
        manager: Any = None,
    ) -> None:
        """``notebook_dir``: the folder the static ``<video src>`` paths are relative to (default:
        the working directory, which is the notebook's folder in Jupyter); ``manager``: the jobs'
        JobManager, which "Generate again" submits to (default: the process's default manager)."""
        self._manager = manager
        # Check before the widget opens a comm, so a bad name fails cleanly.
        _check_param("rows", rows)
        _check_param("cols", cols)
        self._notebook_dir = Path(notebook_dir) if notebook_dir is not None else Path.cwd()
        self._lock = threading.RLock()
        self._jobs: list[Any] = list(jobs)
        self._by_id: dict[str, Any] = {job.local_id: job for job in self._jobs}
        self._book = CardBook(self._notebook_dir)
        self._row_values: list[Any] = [None]
        self._col_values: list[Any] = [None]
        self._twin = _share.StaticTwin("gallery")
        super().__init__(rows=rows, cols=cols)
        self._kernel_parent = KernelParent.capture()
        self._videos = VideoServer(self, self._by_id.get)
        self.on_msg(self._dispatch)
        with self._lock:
            for job in self._jobs:
                self._book.update(job.snapshot())
            self._layout()
            self._publish()
        # Subscribe after the first publish; engine threads then only assign traits.
        self._unsubscribers = [job.subscribe(self._on_snapshot) for job in self._jobs]
        for job in self._jobs:  # a change between the first snapshot and subscribe
            self._on_snapshot(job.snapshot())

    @traitlets.validate("rows", "cols")
    def _valid_param(self, proposal: traitlets.Bunch) -> str | None:
        return _check_param(proposal["trait"].name, proposal["value"])

    @traitlets.observe("rows", "cols")
    def _relayout(self, _change: traitlets.Bunch) -> None:
        if not hasattr(self, "_videos"):
            return  # during __init__: laid out once at its end
        with self._lock:
            self._layout()
            self._publish()

    @property
    def jobs(self) -> list[Any]:
        """The jobs shown, in the order given."""
        return list(self._jobs)

    def _axis_values(self, param: str | None) -> list[Any]:
        if param is None:
            return [None]
        values: list[Any] = []
        for job in self._jobs:
            value = param_value(job.request, param)
            if value not in values:
                values.append(value)
        return values

    def _layout(self) -> None:
        self._row_values = self._axis_values(self.rows)
        self._col_values = self._axis_values(self.cols)
        self.row_labels = [value_label(self.rows, v) if self.rows else "" for v in self._row_values]
        self.col_labels = [value_label(self.cols, v) if self.cols else "" for v in self._col_values]

    def _position(self, job: Any) -> tuple[int, int]:
        row = self._row_values.index(param_value(job.request, self.rows)) if self.rows else 0
        col = self._col_values.index(param_value(job.request, self.cols)) if self.cols else 0
        return row, col

    def _publish(self) -> None:
        cells: list[dict[str, Any]] = []
        done = 0
        for job in self._jobs:
            row, col = self._position(job)
            card = self._book.get(job.local_id)
            done += card["state"] == JobState.DONE
            cells.append({"row": row, "col": col, "card": card})
        with self.hold_sync():
            self.cells = cells
            self.title = f"{done} of {len(cells)} done"
        self._publish_static()

    def _on_snapshot(self, snapshot: JobSnapshot) -> None:
        # Called from the engine's threads: assign traits, nothing else.
        try:
            self._kernel_parent.ensure_in_this_thread()
            with self._lock:
                if self._book.update(snapshot):
                    self._publish()
        except Exception as exc:
            log.exception("Gallery: updating a cell failed")
            self.error = f"Error while updating the grid: {type(exc).__name__}: {exc}"

    def _dispatch(self, _widget: Any, content: Any, _buffers: Sequence[Any]) -> None:
        kind = content.get("kind") if isinstance(content, dict) else None
        if kind not in (MSG_VIDEO_REQUEST, MSG_GENERATE_AGAIN, MSG_LAST_FRAME_REQUEST, MSG_CONTINUE):
            return  # unknown kinds are ignored (a newer page, or anywidget's own)
        try:
            if kind == MSG_VIDEO_REQUEST:
                self._videos.answer(content)
            elif kind == MSG_LAST_FRAME_REQUEST:
                self._videos.answer_last_frame(content)
            elif kind == MSG_CONTINUE:  # sent only after the user confirmed the cost in the card
                self._on_continue(str(content.get("id") or ""))
            else:  # sent only after the user confirmed the cost in the card
                self._on_generate_again(str(content.get("id") or ""))
        except SeedanceError as exc:
            self.error = str(exc)
        except Exception as exc:
            log.exception("Gallery: %s failed", kind)
            self.error = f"Error while handling {kind}: {type(exc).__name__}: {exc}"

    def _on_generate_again(self, job_id: str) -> None:
        job = self._by_id.get(job_id)
        if job is None:
            raise SeedanceError(f"no job {job_id!r} in this gallery")
        self.generate_again(job)

    def _on_continue(self, job_id: str) -> None:
        job = self._by_id.get(job_id)
        if job is None:
            raise SeedanceError(f"no job {job_id!r} in this gallery")
        self.continue_from_here(job)

    def generate_again(self, job: Any) -> Any:
        """What a card's confirmed "Generate again (paid)" does: submit ``job``'s settings with a new
        seed as a new, paid task, and add the new job to the grid. Returns the new Job."""
        return self._add(generate_again(job, manager=self._manager))

    def continue_from_here(self, job: Any) -> Any:
        """What a card's confirmed "Continue from here (paid)" does: a new job, same model and
        settings, from ``job``'s last frame; added to the grid. Returns the new Job."""
        return self._add(continue_from_here(job, manager=self._manager))

    def _add(self, new: Any) -> Any:
        """Add a job made from one of the cells to the grid (once) and watch it."""
        with self._lock:
            if new.local_id in self._by_id:
                return new
            self._jobs.append(new)
            self._by_id[new.local_id] = new
            self._book.update(new.snapshot())
            self._layout()
            self._publish()
        self._unsubscribers.append(new.subscribe(self._on_snapshot))
        self._on_snapshot(new.snapshot())
        self.error = ""
        return new

    def close(self) -> None:
        for unsubscribe in getattr(self, "_unsubscribers", []):
            unsubscribe()
        super().close()

    def __repr__(self) -> str:
        return f"<Gallery of {len(self._jobs)} jobs, rows={self.rows!r}, cols={self.cols!r}: {self.title}>"

    # ---- static forms (nbconvert, GitHub, a terminal: wherever the widget cannot render) ----------
    def _static_parts(self) -> tuple[str, str]:
        """The gallery as text (title + one line per job) and as an HTML table."""
        with self._lock:
            snaps = [(self._position(job), self._book.snapshot(job.local_id)) for job in self._jobs]
            row_labels, col_labels, title = list(self.row_labels), list(self.col_labels), self.title
        text = "\n".join([f"Seedance gallery: {title}", *(_display.text_line(snap) for _, snap in snaps)])
        cards = [(where, self._static_card(snap)) for where, snap in snaps]
        html = static_gallery_html(
            cards, row_labels if self.rows else [], col_labels if self.cols else [], title
        )
        return text, html

    def _repr_mimebundle_(self, **_kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """The widget view plus text/html (a table of the cells) and text/plain fallbacks."""
        data: dict[str, Any] = {}
        metadata: dict[str, Any] = {}
        widget = super()._repr_mimebundle_()
        if widget is not None:
            data, metadata = dict(widget[0]), dict(widget[1] or {})
        data["text/plain"], data["text/html"] = self._static_parts()
        return data, metadata

    def _static_key(self) -> tuple[Any, ...]:
        with self._lock:
            snaps = [self._book.snapshot(job.local_id) for job in self._jobs]
            return (self.rows, self.cols, tuple((s.local_id, s.state, s.sha256) for s in snaps))

    def _ipython_display_(self, **_kwargs: Any) -> None:
        """Inside a kernel: the live widget and its static twin (see ``_share``); else one bundle."""
        from IPython.display import display

        if not _share.in_kernel():
            data, metadata = self._repr_mimebundle_()
            display(data, raw=True, metadata=metadata)
            return
        self._kernel_parent = KernelParent.capture()
        _share.show_backend_notice_once()
        with self._lock:
            text = f"Seedance gallery of {len(self._jobs)} jobs"
            data, metadata = _share.live_bundle(super()._repr_mimebundle_(), text, {})
            display(data, raw=True, metadata=metadata)
            self._twin.show(self._static_parts()[1], {}, self._static_key())

    def _publish_static(self) -> None:
        """Update the twin when a job changed state (never on progress ticks); callers hold the lock."""
        if not _share.in_kernel():
            return
        key = self._static_key()
        if self._twin.wants(key):
            self._twin.update(self._static_parts()[1], {}, key)

    def _static_card(self, snap: JobSnapshot) -> str:
        return static_card_html(snap, self._book.facts(snap), notebook_dir=self._notebook_dir, compact=True)


def static_gallery_html(
    cells: Sequence[tuple[tuple[int, int], str]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    title: str,
) -> str:
    """The gallery as a plain HTML table: headers, then per cell its jobs' static cards
    (``cells``: ((row, col), card HTML) pairs). Inline styles only; every label escaped."""
    esc = html.escape
    n_rows = max([len(row_labels), 1, *(r + 1 for (r, _), _ in cells)])
    n_cols = max([len(col_labels), 1, *(c + 1 for (_, c), _ in cells)])
    grid: list[list[list[str]]] = [[[] for _ in range(n_cols)] for _ in range(n_rows)]
    for (row, col), card in cells:
        grid[row][col].append(card)
    pad = "border:1px solid #ddd;padding:6px;vertical-align:top;text-align:left"
    out = [
        '<div class="seedance-gallery-static" style="font-family:sans-serif;font-size:13px">',
        f'<div style="font-weight:600;margin-bottom:6px">{esc(title)}</div>',
        '<table style="border-collapse:collapse">',
    ]
    if col_labels:
        corner = f'<th style="{pad}"></th>' if row_labels else ""
        heads = "".join(f'<th style="{pad}">{esc(label)}</th>' for label in col_labels)
        out.append(f"<tr>{corner}{heads}</tr>")
    for r in range(n_rows):
        tds = [f'<th style="{pad}">{esc(row_labels[r])}</th>'] if row_labels and r < len(row_labels) else []
        for c in range(n_cols):
            where = f'class="seedance-gallery-static-cell" data-row="{r}" data-col="{c}"'
            tds.append(f'<td {where} style="{pad}">{"".join(grid[r][c])}</td>')
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</table></div>")
    return "\n".join(out)
