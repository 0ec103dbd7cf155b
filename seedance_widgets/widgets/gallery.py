"""``Gallery``: a labelled grid of players, one cell per job, rows and columns by parameter.

Also home of what the form's history shares with it: :class:`CardBook` (jobs -> card data
for js/lib/job_card.js, updated from the engine's threads) and :class:`VideoServer` (answers
the page's ``video-request`` messages with the MP4 bytes, so playback needs neither the
gateway URL, which expires, nor the file under the Jupyter server's root).
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from seedance_widgets.api import GenerationRequest
from seedance_widgets.api.models import GRID_PARAMS
from seedance_widgets.jobs.state import JobSnapshot, JobState
from seedance_widgets.widgets import _display
from seedance_widgets.widgets.job_view import _KernelParent

log = logging.getLogger("seedance_widgets.widgets")

# Custom message kinds (js/lib/messages.js names the same strings).
VIDEO_REQUEST = "video-request"
VIDEO_RESPONSE = "video-response"
#: Bytes per ``video-response`` message: far below any websocket message limit.
VIDEO_CHUNK_BYTES = 1024 * 1024


def seed_used(snapshot: JobSnapshot) -> int | None:
    """The seed a job ran with: the gateway's word when known, else the fixed seed it asked for."""
    if snapshot.seed is not None:
        return int(snapshot.seed)
    requested = snapshot.request.seed if snapshot.request is not None else None
    return requested if requested is not None and requested >= 0 else None


class CardBook:
    """Card data (js/lib/job_card.js's JobCardData, plus ``id`` and ``seed_used``) for many jobs.

    Snapshots arrive from the engine's threads; an older snapshot that loses a race with a
    newer one is dropped. Video facts (probed from the file once) are cached per job.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cards: dict[str, dict[str, Any]] = {}
        self._at: dict[str, float] = {}
        self._facts: dict[str, tuple[tuple[str, str], dict[str, Any] | None]] = {}

    def update(self, snapshot: JobSnapshot) -> bool:
        """Store the card for ``snapshot``; False when it is older than the one stored."""
        with self._lock:
            if snapshot.at < self._at.get(snapshot.local_id, float("-inf")):
                return False
            self._at[snapshot.local_id] = snapshot.at
        card = self._card(snapshot)
        with self._lock:
            self._cards[snapshot.local_id] = card
        return True

    def get(self, local_id: str) -> dict[str, Any]:
        with self._lock:
            return self._cards[local_id]

    def _video_facts(self, snapshot: JobSnapshot) -> dict[str, Any] | None:
        if snapshot.state != JobState.DONE or snapshot.path is None:
            return None
        key = (str(snapshot.path), snapshot.sha256 or "")
        cached = self._facts.get(snapshot.local_id)
        if cached is None or cached[0] != key:
            cached = (key, _display.video_facts(snapshot))
            self._facts[snapshot.local_id] = cached
        return cached[1]

    def _card(self, snapshot: JobSnapshot) -> dict[str, Any]:
        facts = self._video_facts(snapshot)
        params = _display.params_of(snapshot)
        if params:
            params["seed"] = seed_used(snapshot) if seed_used(snapshot) is not None else params.get("seed")
        return {
            "id": snapshot.local_id,
            "state": snapshot.state,
            "status_text": _display.status_text(snapshot),
            "prompt": snapshot.prompt,
            "progress": max(0, min(100, int(snapshot.progress))),
            "eta_seconds": snapshot.eta_seconds,
            "submitted_at": snapshot.submitted_at,
            "started_at": snapshot.started_at,
            "finished_at": snapshot.finished_at,
            "kernel_time": snapshot.at,
            "cost_estimate": snapshot.cost_estimate if snapshot.request is not None else None,
            "params": params,
            "task_id": snapshot.task_id or "",
            "error": snapshot.error or "",
            "error_code": snapshot.error_code or "",
            "video": facts,
            "from_cache": snapshot.from_cache,
            "reconnecting": snapshot.reconnecting,
            "seed_used": seed_used(snapshot),
        }


class VideoServer:
    """Answers ``{kind: "video-request", id, job}`` with the job's MP4, in js/lib/video_channel.js's
    protocol: ``{kind: "video-response", id, chunk, chunks, size, mime}`` messages with one binary
    buffer each, or one ``{kind, id, error}``. ``id`` is the page's request id, ``job`` the job's
    local id. The bytes travel on request only, so they never enter the saved widget state.
    """

    def __init__(self, widget: anywidget.AnyWidget, find_job: Callable[[str], Any]) -> None:
        self._widget = widget
        self._find_job = find_job

    def answer(self, content: dict[str, Any]) -> None:
        request_id = str(content.get("id", ""))
        for reply, buffers in self.messages(request_id, str(content.get("job", ""))):
            self._widget.send(reply, buffers=buffers)

    def messages(self, request_id: str, job_id: str) -> Iterator[tuple[dict[str, Any], list[bytes]]]:
        job = self._find_job(job_id)
        snapshot = job.snapshot() if job is not None else None
        path = Path(snapshot.path) if snapshot is not None and snapshot.path is not None else None
        if snapshot is None or snapshot.state != JobState.DONE or path is None or not path.is_file():
            why = "no such job here" if snapshot is None else f"the job is {snapshot.state}"
            yield {"kind": VIDEO_RESPONSE, "id": request_id, "error": f"no video to send: {why}"}, []
            return
        size = path.stat().st_size
        chunks = max(1, -(-size // VIDEO_CHUNK_BYTES))
        with path.open("rb") as stream:
            for index in range(chunks):
                header = {
                    "kind": VIDEO_RESPONSE,
                    "id": request_id,
                    "chunk": index,
                    "chunks": chunks,
                    "size": size,
                    "mime": "video/mp4",
                }
                yield header, [stream.read(VIDEO_CHUNK_BYTES)]


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
        return f"{value} s"
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
    ) -> None:
        """``notebook_dir``: the folder the static ``<video src>`` paths are relative to (default:
        the working directory, which is the notebook's folder in Jupyter)."""
        # Check before the widget opens a comm, so a bad name fails cleanly.
        _check_param("rows", rows)
        _check_param("cols", cols)
        self._notebook_dir = Path(notebook_dir) if notebook_dir is not None else Path.cwd()
        self._lock = threading.RLock()
        self._jobs: list[Any] = list(jobs)
        self._by_id: dict[str, Any] = {job.local_id: job for job in self._jobs}
        self._book = CardBook()
        self._row_values: list[Any] = [None]
        self._col_values: list[Any] = [None]
        super().__init__(rows=rows, cols=cols)
        self._kernel_parent = _KernelParent.capture()
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
        if not isinstance(content, dict) or content.get("kind") != VIDEO_REQUEST:
            return  # unknown kinds are ignored (a newer page, or anywidget's own)
        try:
            self._videos.answer(content)
        except Exception as exc:
            log.exception("Gallery: sending a video failed")
            self.error = f"Error while sending a video: {type(exc).__name__}: {exc}"

    def close(self) -> None:
        for unsubscribe in getattr(self, "_unsubscribers", []):
            unsubscribe()
        super().close()

    def __repr__(self) -> str:
        return f"<Gallery of {len(self._jobs)} jobs, rows={self.rows!r}, cols={self.cols!r}: {self.title}>"

    # ---- static forms (nbconvert, GitHub, a terminal: wherever the widget cannot render) ----------
    def _repr_mimebundle_(self, **_kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """The widget view plus text/html (a table of the cells) and text/plain fallbacks."""
        with self._lock:
            snaps = [(self._position(job), job.snapshot()) for job in self._jobs]
            row_labels, col_labels, title = list(self.row_labels), list(self.col_labels), self.title
        data: dict[str, Any] = {}
        metadata: dict[str, Any] = {}
        widget = super()._repr_mimebundle_()
        if widget is not None:
            data, metadata = dict(widget[0]), dict(widget[1] or {})
        data["text/plain"] = "\n".join(
            [f"Seedance gallery: {title}", *(_display.text_line(snap) for _, snap in snaps)]
        )
        data["text/html"] = static_gallery_html(
            snaps,
            row_labels if self.rows else [],
            col_labels if self.cols else [],
            title,
            notebook_dir=self._notebook_dir,
        )
        return data, metadata


def static_gallery_html(
    cells: Sequence[tuple[tuple[int, int], JobSnapshot]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    title: str,
    *,
    notebook_dir: Path | None = None,
) -> str:
    """The gallery as a plain HTML table: headers, then per cell each job's status, prompt,
    parameters and ``<video>`` (src relative to ``notebook_dir``). Inline styles only; every
    value escaped."""
    esc = html.escape
    n_rows = max([len(row_labels), 1, *(r + 1 for (r, _), _ in cells)])
    n_cols = max([len(col_labels), 1, *(c + 1 for (_, c), _ in cells)])
    grid: list[list[list[JobSnapshot]]] = [[[] for _ in range(n_cols)] for _ in range(n_rows)]
    for (row, col), snap in cells:
        grid[row][col].append(snap)
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
            jobs = "".join(_static_job(snap, notebook_dir) for snap in grid[r][c])
            where = f'data-row="{r}" data-col="{c}"'
            tds.append(f'<td class="seedance-gallery-static-cell" {where} style="{pad}">{jobs}</td>')
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</table></div>")
    return "\n".join(out)


def _static_job(snap: JobSnapshot, notebook_dir: Path | None) -> str:
    """One job in a static gallery cell: status, prompt, parameters, then progress or the video."""
    esc = html.escape
    colour = _display.tone_colour(snap.state)
    prompt = " ".join(snap.prompt.split())
    short = prompt if len(prompt) <= 80 else prompt[:79] + "…"
    params = _display.params_of(snap)
    if params:
        params["seed"] = seed_used(snap)
    chips = " · ".join(
        part
        for part in (
            params.get("resolution"),
            params.get("aspect_ratio"),
            f"{params['duration']} s" if params.get("duration") else None,
            "audio" if params.get("audio") else None,
            "camera fixed" if params.get("camera_fixed") else None,
            value_label("seed", params.get("seed")) if params else None,
        )
        if part
    )
    parts = [
        f'<div class="seedance-static" data-id="{esc(snap.local_id, quote=True)}" '
        f'data-state="{esc(snap.state, quote=True)}" style="margin:2px 0">',
        f'<div style="color:{colour};font-weight:600">{esc(_display.status_text(snap))}</div>',
        f'<div style="color:#666" title="{esc(prompt, quote=True)}">“{esc(short)}”</div>',
    ]
    if chips:
        parts.append(f'<div style="color:#666">{esc(chips)}</div>')
    if snap.error:
        parts.append(f'<div style="color:{_display.tone_colour(JobState.FAILED)}">{esc(snap.error)}</div>')
    path = Path(snap.path) if snap.path is not None else None
    if snap.state == JobState.DONE and path is not None and path.is_file():
        src = _display.video_src(path, notebook_dir, embed=False)
        parts.append(
            f'<video class="seedance-static-video" controls muted preload="metadata" width="320" '
            f'src="{esc(src, quote=True)}" style="display:block;max-width:100%"></video>'
        )
    elif not snap.is_final:
        parts.append(f'<progress max="100" value="{snap.progress}">{snap.progress}%</progress>')
    parts.append("</div>")
    return "".join(parts)
