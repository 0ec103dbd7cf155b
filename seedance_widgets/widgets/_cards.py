"""One job card for every widget: its data, its static HTML, its video, and the kernel's parent.

JobView, Gallery and SeedanceForm all show a job as the same card (js/lib/job_card.js draws it from
the same data). What they share lives here, once:

- :func:`card_data`: the card's data from a :class:`JobSnapshot` (the JobView's trait names,
  ``CARD_FIELDS``); :class:`CardBook` keeps the cards of many jobs as the engine's threads update them.
- :func:`static_card_html`: the card as HTML for wherever the widget cannot render (full for a JobView,
  compact for a gallery cell).
- :class:`VideoServer`: answers the page's MSG_VIDEO_REQUEST with the MP4 in MSG_VIDEO_RESPONSE chunks,
  and MSG_LAST_FRAME_REQUEST with the job's saved last frame (the card's thumbnail).
- :class:`KernelParent`: lets the engine's threads send comm messages on every ipykernel.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Final, Protocol

from seedance_widgets.api.media import sniff_image_type
from seedance_widgets.engine.state import JobSnapshot, JobState

from . import _display
from .messages import MSG_LAST_FRAME_RESPONSE, MSG_VIDEO_RESPONSE
from .states import load_contract, state_tone

#: The card's data fields: the JobView's synced traits and the keys of :func:`card_data`. Read from
#: contract.json's ``card_fields``, the list js/lib/job_card.js reads too: a field is added there once.
CARD_FIELDS: Final[tuple[str, ...]] = tuple(load_contract()["card_fields"])

#: Bytes per MSG_VIDEO_RESPONSE message. Large enough that a 10 MB clip is a handful of messages,
#: small enough to stay far below any websocket message limit.
VIDEO_CHUNK_BYTES = 1024 * 1024
#: The largest last-frame image sent to the page in one message (a 4k PNG is a few MB).
MAX_LAST_FRAME_BYTES = 32 * 1024 * 1024


# ---- the card's data ----------------------------------------------------------------------------


def seed_used(snapshot: JobSnapshot) -> int | None:
    """The seed a job ran with: the gateway's word when known, else the fixed seed it asked for."""
    if snapshot.seed is not None:
        return int(snapshot.seed)
    requested = snapshot.request.seed if snapshot.request is not None else None
    return requested if requested is not None and requested >= 0 else None


def last_frame_path(snap: JobSnapshot) -> Path | None:
    """The saved last-frame image beside the video (asked for with ``return_last_frame``), if any."""
    path = getattr(snap, "last_frame", None)  # JobSnapshot.last_frame (the engine's contract)
    return Path(path) if path is not None and Path(path).is_file() else None


def can_continue(snap: JobSnapshot) -> bool:
    """Whether "continue from here" is possible: a saved last frame, and a model that takes a first
    frame (Seedance 2 Mini returns a last frame but takes reference images only)."""
    req = snap.request
    return (
        req is not None
        and last_frame_path(snap) is not None
        and req.spec.images.max_first > 0
        and req.spec.last_frame
    )


def last_frame_data(snap: JobSnapshot, notebook_dir: Path | None = None) -> dict[str, Any] | None:
    """The card's ``last_frame`` field: the saved image's name, shown path and size, and whether the
    card offers "continue from here"; None when the job has no last frame. Never the bytes (the
    page asks for them with MSG_LAST_FRAME_REQUEST)."""
    path = last_frame_path(snap)
    if path is None:
        return None
    return {
        "file_name": path.name,
        "path": _display.shown_path(path, notebook_dir),
        "size": path.stat().st_size,
        "can_continue": can_continue(snap),
    }


def card_data(snap: JobSnapshot, facts: dict[str, Any] | None) -> dict[str, Any]:
    """What a card shows of ``snap`` (keys: ``CARD_FIELDS``); ``facts`` from :func:`_display.video_facts`."""
    return {
        "local_id": snap.local_id,
        "state": snap.state,
        "status_text": _display.status_text(snap),
        "gateway_status": snap.gateway_status or "",
        "prompt": snap.prompt,
        "progress": _progress(snap),
        "eta_seconds": snap.eta_seconds,
        "submitted_at": snap.submitted_at,
        "started_at": snap.started_at,
        "finished_at": snap.finished_at,
        "kernel_time": snap.at,
        "cost_estimate": snap.cost_estimate if snap.request is not None else None,
        "params": _display.params_of(snap),
        "task_id": snap.task_id or "",
        "error": snap.error or "",
        "error_code": snap.error_code or "",
        "video": facts,
        "provenance": _display.provenance(snap, facts),
        "from_cache": snap.from_cache,
        "reconnecting": snap.reconnecting,
        "last_frame": last_frame_data(snap) if snap.state == JobState.DONE else None,
        # The provider's bill beside the estimate (Ark reports tokens; ToAPIs does not), in one
        # wording for the page, the static card and the magic: "est. ~$0.52 · billed 108,900 tokens ($0.44)".
        "usage_tokens": snap.usage_tokens,
        "cost_usd": snap.cost_usd,
        "cost_text": _display.cost_text(snap),
        # What a cancel did (the card's stop button reports it): see _display.CANCEL_WORDS.
        "cancel_outcome": _display.cancel_outcome(snap),
        "cancel_text": _display.cancel_text(snap),
    }


def _progress(snap: JobSnapshot) -> int:
    return max(0, min(100, int(snap.progress)))


class CardBook:
    """The cards of many jobs: ``card_data`` plus ``id`` and ``seed_used`` (the form's history and
    the gallery's cells), kept as snapshots arrive from the engine's threads.

    A snapshot older than the one stored is dropped (two engine threads may race). Video facts are
    probed from the file once per job and file.
    """

    def __init__(self, notebook_dir: Path | None = None) -> None:
        self._notebook_dir = notebook_dir
        self._lock = threading.Lock()
        self._cards: dict[str, dict[str, Any]] = {}
        self._snapshots: dict[str, JobSnapshot] = {}
        self._facts: dict[str, tuple[tuple[str, str], dict[str, Any] | None]] = {}

    def update(self, snapshot: JobSnapshot) -> dict[str, Any] | None:
        """Store and return the card for ``snapshot``; None when it is older than the one stored."""
        if self._is_stale(snapshot):
            return None
        card = {
            **card_data(snapshot, self.facts(snapshot)),
            "id": snapshot.local_id,
            "seed_used": seed_used(snapshot),
        }
        with self._lock:
            # Checked again: a newer snapshot may have been stored while this card was made.
            if self._is_stale(snapshot):
                return None
            self._snapshots[snapshot.local_id] = snapshot
            self._cards[snapshot.local_id] = card
        return card

    def _is_stale(self, snapshot: JobSnapshot) -> bool:
        stored = self._snapshots.get(snapshot.local_id)
        return stored is not None and snapshot.at < stored.at

    def get(self, local_id: str) -> dict[str, Any]:
        """The stored card of a job (KeyError before its first update)."""
        with self._lock:
            return self._cards[local_id]

    def snapshot(self, local_id: str) -> JobSnapshot:
        """The snapshot the stored card shows."""
        with self._lock:
            return self._snapshots[local_id]

    def facts(self, snapshot: JobSnapshot) -> dict[str, Any] | None:
        """The finished video's facts (None before done), probed once per file."""
        if snapshot.state != JobState.DONE or snapshot.path is None:
            return None
        key = (str(snapshot.path), snapshot.sha256 or "")
        with self._lock:
            cached = self._facts.get(snapshot.local_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        facts = _display.video_facts(snapshot, self._notebook_dir)
        with self._lock:
            self._facts[snapshot.local_id] = (key, facts)
        return facts


# ---- the static card ------------------------------------------------------------------------------

_TONE_COLOURS: Final = {
    "ok": "#388e3c",
    "error": "#d32f2f",
    "warn": "#f57c00",
    "active": "#1976d2",
    "idle": "#757575",
}
_BOX_STYLE: Final = (
    "border:1px solid #ddd;border-radius:6px;padding:8px 12px;max-width:900px;"
    "font-family:sans-serif;font-size:13px"
)
_DIM: Final = "color:#666"


def tone_colour(state: str) -> str:
    """The colour of a state's status text in the static forms (red for failures)."""
    return _TONE_COLOURS[state_tone(state)]


def static_card_html(
    snap: JobSnapshot,
    facts: dict[str, Any] | None,
    *,
    notebook_dir: Path | None = None,
    embed: bool = False,
    compact: bool = False,
) -> str:
    """The card as HTML: status, prompt, progress or video, error; the full card (a JobView's
    text/html) adds details, the compact one (a gallery cell) the parameter chips. ``facts`` (from
    :meth:`CardBook.facts`) is None until the video is there. Inline styles only (no classes a
    sanitizer might strip); every value escaped."""
    esc = html.escape
    value = _progress(snap)
    bar_style = "" if compact else ' style="width:100%"'
    progress = "" if snap.is_final else f'<progress max="100" value="{value}"{bar_style}>{value}%</progress>'
    error_style = f"color:{tone_colour(JobState.FAILED)}" + ("" if compact else ";margin-top:4px")
    error = f'<div style="{error_style}">{esc(snap.error)}</div>' if snap.error else ""
    error += _static_cost_and_cancel(snap, compact=compact)
    video = _static_video(snap, facts, notebook_dir, embed=embed and not compact, compact=compact)
    video += _static_last_frame(snap, notebook_dir, embed=embed and not compact)
    root = f'<div class="seedance-static" data-id="{esc(snap.local_id)}" data-state="{esc(snap.state)}"'
    status = esc(_display.status_text(snap))
    colour = tone_colour(snap.state)
    prompt = " ".join(snap.prompt.split())
    if compact:
        short = prompt if len(prompt) <= 80 else prompt[:79] + "…"
        chips = " · ".join(_param_chips(_display.params_of(snap), with_seed=True))
        parts = [
            f'{root} style="margin:2px 0">',
            f'<div style="color:{colour};font-weight:600">{status}</div>',
            f'<div style="{_DIM}" title="{esc(prompt)}">“{esc(short)}”</div>',
            f'<div style="{_DIM}">{esc(chips)}</div>' if chips else "",
            error,
            video or progress,
            "</div>",
        ]
        return "".join(parts)
    parts = [
        f'{root} style="{_BOX_STYLE}">',
        f'<div><span style="color:{colour};font-weight:600">{status}</span> '
        f'<span style="{_DIM}">“{esc(prompt)}”</span></div>',
        progress,
        error,
        video,
        _static_details(snap, facts),
        "</div>",
    ]
    return "\n".join(part for part in parts if part)


def static_card_bundle(
    snap: JobSnapshot, facts: dict[str, Any] | None, *, notebook_dir: Path | None, embed: bool
) -> tuple[dict[str, str], dict[str, Any]]:
    """A job's static output: the card as HTML and its text line, and the provenance (never the key)."""
    data = {
        "text/plain": _display.text_line(snap),
        "text/html": static_card_html(snap, facts, notebook_dir=notebook_dir, embed=embed),
    }
    return data, {_display.PROVENANCE_KEY: _display.provenance(snap, facts)}


def _static_cost_and_cancel(snap: JobSnapshot, *, compact: bool) -> str:
    """The estimate and the bill side by side (the compact card only once the bill is known), and
    what a cancel did. Every value escaped."""
    esc = html.escape
    parts = []
    cost = _display.cost_text(snap)
    billed = snap.usage_tokens is not None or snap.cost_usd is not None
    if cost and (billed or not compact):
        parts.append(f'<div class="seedance-static-cost" style="{_DIM}">{esc(cost)}</div>')
    cancel = _display.cancel_text(snap)
    if cancel:
        parts.append(f'<div class="seedance-static-cancel" style="{_DIM}">{esc(cancel)}</div>')
    return "".join(parts)


def _static_video(
    snap: JobSnapshot, facts: dict[str, Any] | None, notebook_dir: Path | None, *, embed: bool, compact: bool
) -> str:
    if facts is None or snap.path is None:
        return ""
    src = html.escape(_display.video_src(Path(snap.path), notebook_dir, embed))
    if compact:
        return (
            f'<video class="seedance-static-video" controls muted preload="metadata" width="320" '
            f'src="{src}" style="display:block;max-width:100%"></video>'
        )
    width = min(640, int(facts.get("width") or 640))
    return (
        f'<video class="seedance-static-video" controls preload="metadata" width="{width}" '
        f'src="{src}" style="display:block;margin-top:6px;max-width:100%"></video>'
    )


def _static_last_frame(snap: JobSnapshot, notebook_dir: Path | None, *, embed: bool) -> str:
    """The saved last frame under the static player (a small image, relative like the video)."""
    path = last_frame_path(snap) if snap.state == JobState.DONE else None
    if path is None:
        return ""
    src = html.escape(_display.image_src(path, notebook_dir, embed))
    return (
        f'<div style="{_DIM};margin-top:4px">last frame<br><img class="seedance-static-last-frame" '
        f'src="{src}" alt="last frame" style="max-width:160px;display:block"></div>'
    )


def _param_chips(params: dict[str, Any], *, with_seed: bool) -> list[str]:
    """The request's parameters as short words: "720p", "16:9", "5 s", "audio", "seed 42"."""
    if not params:
        return []
    length = "auto length" if params["duration"] <= 0 else f"{params['duration']} s"
    chips = [params.get("model_label") or "", params["resolution"], params["aspect_ratio"], length]
    chips += ["audio"] if params["audio"] else []
    chips += ["camera fixed"] if params["camera_fixed"] else []
    chips += [f"{params['videos']} ref video(s)"] if params.get("videos") else []
    chips += [f"{params['audios']} ref audio"] if params.get("audios") else []
    chips += ["web search"] if params.get("web_search") else []
    if with_seed:
        seed = params.get("seed")
        chips.append("seed random" if seed is None or seed == -1 else f"seed {seed}")
    return [str(chip) for chip in chips if chip]


def _static_details(snap: JobSnapshot, facts: dict[str, Any] | None) -> str:
    rows = detail_rows(snap, facts)
    if not rows:
        return ""
    esc = html.escape
    head = '<th style="text-align:left;padding-right:12px">'
    cells = "".join(f"<tr>{head}{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return f"<details><summary>Details</summary><table>{cells}</table></details>"


def detail_rows(snap: JobSnapshot, facts: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The full static card's details: (label, value) rows."""
    params = _display.params_of(snap)
    rows: list[tuple[str, str]] = []
    if snap.task_id:
        rows.append(("task id", snap.task_id))
    if params:
        rows.append(("request", " · ".join(_param_chips(params, with_seed=False))))
    seed = params.get("seed")
    rows.append(("seed", "random" if seed in (None, -1) else str(seed)))
    if facts:
        if facts.get("width"):
            rows.append(("size", f"{facts['width']}x{facts['height']} · {facts.get('fps')} fps"))
        if facts.get("duration"):
            rows.append(("duration", f"{facts['duration']:.2f} s"))
        rows.append(("file", f"{facts['path']} ({facts['size']} bytes)"))
    if snap.sha256:
        rows.append(("sha256", snap.sha256))
    rows += _cost_rows(snap)
    for label, ts in (("submitted", snap.submitted_at), ("finished", snap.finished_at)):
        if ts:
            rows.append((label, _display.when(ts)))
    if snap.from_cache:
        rows.append(("from cache", "yes (no API call)"))
    return rows


def _cost_rows(snap: JobSnapshot) -> list[tuple[str, str]]:
    """The estimate (or "no estimate"), and the provider's bill once reported."""
    rows: list[tuple[str, str]] = []
    if snap.request is not None and snap.cost_estimate is None:
        rows.append(("cost", "no estimate (no list price for this model and settings)"))
    elif snap.cost_estimate:
        rows.append(("cost", f"≈ ${snap.cost_estimate:.2f} (estimate, not the gateway's bill)"))
    billed = _display.billed_words(snap.usage_tokens, snap.cost_usd)
    if billed:
        rows.append(("billed", billed.removeprefix("billed ")))
    return rows


# ---- the video, on request ------------------------------------------------------------------------


class _Sender(Protocol):
    def send(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None: ...


class VideoServer:
    """Answers ``{kind: MSG_VIDEO_REQUEST, id, job?}`` with the job's MP4, in js/lib/video_channel.js's
    protocol: ``{kind: MSG_VIDEO_RESPONSE, id, chunk, chunks, size, mime, sha256}`` messages with one
    binary buffer each, or one ``{kind, id, error}``. ``id`` is the page's request id, ``job`` the
    job's local id (a widget of one job ignores it). The bytes travel on request only, so they never
    enter the saved widget state, and playback needs neither the gateway's URL (it expires) nor the
    file under the Jupyter server's root.
    """

    def __init__(self, widget: _Sender, find_job: Callable[[str], Any]) -> None:
        self._widget = widget
        self._find_job = find_job

    def answer(self, content: dict[str, Any]) -> None:
        request_id = str(content.get("id", ""))
        for reply, buffers in self.messages(request_id, str(content.get("job", ""))):
            self._widget.send(reply, buffers=buffers)

    def messages(self, request_id: str, job_id: str = "") -> Iterator[tuple[dict[str, Any], list[bytes]]]:
        """The replies to one request: chunks of the MP4 file, or one error reply."""
        job = self._find_job(job_id)
        snap: JobSnapshot | None = job.snapshot() if job is not None else None
        path = Path(snap.path) if snap is not None and snap.path is not None else None
        if snap is None or snap.state != JobState.DONE or path is None or not path.is_file():
            if snap is None:
                why = "no such job here"
            elif snap.state != JobState.DONE:
                why = f"the job is {snap.state}"
            else:
                why = f"no file at {path}"
            yield {"kind": MSG_VIDEO_RESPONSE, "id": request_id, "error": f"no video to send: {why}"}, []
            return
        size = path.stat().st_size
        chunks = max(1, -(-size // VIDEO_CHUNK_BYTES))
        header = {"kind": MSG_VIDEO_RESPONSE, "id": request_id, "chunks": chunks, "size": size}
        with path.open("rb") as stream:
            for index in range(chunks):
                reply = {**header, "chunk": index, "mime": "video/mp4", "sha256": snap.sha256 or ""}
                yield reply, [stream.read(VIDEO_CHUNK_BYTES)]

    def answer_last_frame(self, content: dict[str, Any]) -> None:
        """``{kind: MSG_LAST_FRAME_REQUEST, id, job?}`` -> one ``{kind: MSG_LAST_FRAME_RESPONSE, id,
        ok, mime}`` with the image as its buffer, or ``{..., ok: false, error}``."""
        reply, buffers = self.last_frame_message(str(content.get("id", "")), str(content.get("job", "")))
        self._widget.send(reply, buffers=buffers)

    def last_frame_message(self, request_id: str, job_id: str = "") -> tuple[dict[str, Any], list[bytes]]:
        job = self._find_job(job_id)
        path = last_frame_path(job.snapshot()) if job is not None else None
        header = {"kind": MSG_LAST_FRAME_RESPONSE, "id": request_id}
        if path is None or path.stat().st_size > MAX_LAST_FRAME_BYTES:
            return {**header, "ok": False, "error": "no last frame saved for this job"}, []
        data = path.read_bytes()
        mime = sniff_image_type(data[:16]) or "image/png"
        return {**header, "ok": True, "mime": mime}, [data]


# ---- the kernel's parent message, for the engine's threads ---------------------------------------


class KernelParent:
    """The kernel's current parent message, captured on the main thread, for the engine's threads.

    ipykernel 7.0.0 (ipython/ipykernel#1450, jupyter-widgets/ipywidgets#4001, and checked in its
    source) moved the shell's parent message into ContextVars (``Kernel._shell_parent``,
    ``ZMQDisplayPublisher._parent_header``). A thread started by Python does not inherit ContextVars,
    so in 7.0.0 ``kernel.get_parent()`` raised ``LookupError`` in every background thread and every
    comm message (a widget trait change) or display update sent from a worker failed. ipykernel
    7.0.1+ (#1451) falls back on the shell's global parent again, and 6.x always used a plain
    attribute. What works on all of them: before sending from a worker thread, probe
    ``kernel.get_parent()``; only when it raises, give *this thread* the parent captured on the main
    thread with ``kernel.set_parent(ident, parent)`` (public API; on 7.0.0 it only sets the calling
    thread's ContextVars, so no other thread's output is rerouted). Comm messages are routed by comm
    id and display updates by display id, so the exact parent does not matter for where they land.
    We never rely on ipykernel's thread-to-cell output routing, which changed between 6.x, 7.0.0 and
    7.0.1 (ipykernel#1289, #1451, #1546).
    """

    def __init__(self, kernel: Any, ident: Any, parent: dict[str, Any] | None) -> None:
        self._kernel = kernel
        self._ident = ident
        self._parent = parent

    @classmethod
    def capture(cls) -> KernelParent:
        """The parent of the cell running now (call on the kernel's main thread)."""
        kernel = current_kernel()
        if kernel is None:
            return cls(None, None, None)
        try:
            parent = kernel.get_parent()
        except LookupError:
            parent = None
        # Only ipykernel 7 keeps the shell's reply identity in a ContextVar; set_parent wants it back.
        ident_var = getattr(kernel, "_shell_parent_ident", None)
        ident = ident_var.get(None) if isinstance(ident_var, ContextVar) else None
        return cls(kernel, ident, parent)

    def ensure_in_this_thread(self) -> None:
        """Call first in an engine thread's observer, before assigning any synced trait."""
        if self._kernel is None or not self._parent:
            return
        try:
            self._kernel.get_parent()
        except LookupError:
            # ipykernel 7.0.0 only: this thread has no parent at all; give it the captured one.
            self._kernel.set_parent(self._ident, self._parent, "shell")


def current_kernel() -> Any:
    """The running IPython kernel, or None (a terminal IPython, a plain script)."""
    from IPython import get_ipython

    return getattr(get_ipython(), "kernel", None)
