"""``JobView``: one generation job as a live anywidget, plus its static fallback.

Threads. The job engine calls :meth:`JobView._on_snapshot` from its own threads while the kernel's
main thread runs other cells. That callback only assigns traits inside ``hold_sync()`` (one comm
message per change, sent straight to the IOPub socket, which is thread-safe); it never waits for the
front-end, never prints and never displays. The elapsed clock and the ETA countdown tick in the
browser from ``started_at`` / ``kernel_time``, so a running job costs one message per engine
change and nothing per second.

ipykernel 7.0.0. Found in ipython/ipykernel#1450 and jupyter-widgets/ipywidgets#4001 (and checked
in ipykernel 7.0.0's source): 7.0 moved the "parent" message of the shell into ContextVars
(``Kernel._shell_parent``, ``ZMQDisplayPublisher._parent_header``). A thread started by Python does
not inherit ContextVars, so in 7.0.0 ``kernel.get_parent()`` raised ``LookupError`` in every
background thread and *every* comm message (a widget trait change) or display update sent from a
worker failed. ipykernel 7.0.1+ (ipython/ipykernel#1451) falls back on the shell's global parent
again, and 6.x always used a plain attribute. What works on all of them: before sending from a
worker thread, probe ``kernel.get_parent()``; only when it raises, give *this thread* the parent
captured on the main thread with ``kernel.set_parent(ident, parent)`` (public API; on 7.0.0 it
only sets the calling thread's ContextVars, so no other thread's output is rerouted). Comm messages
are routed by comm id and display updates by display id, so the exact parent does not matter for
where they land. We never rely on ipykernel's thread-to-cell output routing, which changed
between 6.x, 7.0.0 and 7.0.1 (ipykernel#1289, #1451, #1546).

update_display from a worker. ``update_display_data`` is matched to outputs by ``display_id`` in
JupyterLab, Notebook 7, VS Code and nbclient, never appended to the running cell, so it is safe
from a thread on ipykernel 6 and 7 (with the parent fix above for 7.0.0). We send it once, when the
job becomes final, and only inside a kernel (in a terminal IPython it would print into the prompt).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import anywidget
import traitlets as t

from seedance_widgets.jobs.job import Job
from seedance_widgets.jobs.state import JobSnapshot, JobState

from . import _display

log = logging.getLogger("seedance_widgets.widgets")

#: Custom message kinds; js/lib/messages.js names the same strings.
MSG_CANCEL = "cancel"
MSG_VIDEO_REQUEST = "video-request"
MSG_VIDEO_RESPONSE = "video-response"

#: Bytes per video-response message. Large enough that a 10 MB clip is a handful of messages,
#: small enough to stay far below any websocket message limit.
VIDEO_CHUNK_BYTES = 1024 * 1024


class JobView(anywidget.AnyWidget):
    """A live view of one :class:`~seedance_widgets.jobs.Job`.

    Shows the prompt, status, a progress bar with ETA and elapsed time, the cost estimate and a
    cancel button; when done, the video (fetched from the kernel as binary messages, so it plays
    wherever the notebook sits and after the gateway's URL expired), a download link and the
    details; on failure the gateway's message. Every trait below is written by the kernel only.
    """

    _esm = _display.bundle("job_view.js")
    _css = _display.bundle("job_view.css")

    local_id = t.Unicode("", help="The job's local id (the ledger's key).").tag(sync=True)
    state = t.Unicode(JobState.INTENT, help="The job state (seedance_widgets.jobs.JobState).").tag(sync=True)
    status_text = t.Unicode("", help="Short status for people: 'Generating · 42%', 'Done in 2:41'.").tag(
        sync=True
    )
    gateway_status = t.Unicode("", help="The gateway's raw status word from the last poll.").tag(sync=True)
    prompt = t.Unicode("", help="The full prompt (the view shortens it).").tag(sync=True)
    progress = t.Int(0, min=0, max=100, help="Progress 0-100 as the gateway reports it.").tag(sync=True)
    eta_seconds = t.Float(
        None, allow_none=True, help="Predicted seconds to the finish, as of kernel_time (None = unknown)."
    ).tag(sync=True)
    submitted_at = t.Float(None, allow_none=True, help="Unix seconds the create was sent.").tag(sync=True)
    started_at = t.Float(
        None, allow_none=True, help="Unix seconds the job started; the view's elapsed clock counts from it."
    ).tag(sync=True)
    finished_at = t.Float(None, allow_none=True, help="Unix seconds the job became final.").tag(sync=True)
    kernel_time = t.Float(
        None,
        allow_none=True,
        help="Kernel clock (unix s) when these values were made: lets the view tick ETA and elapsed "
        "without kernel traffic and despite browser/kernel clock skew.",
    ).tag(sync=True)
    cost_estimate = t.Float(
        None, allow_none=True, help="USD, an ESTIMATE from a list price; not the gateway's bill."
    ).tag(sync=True)
    params = t.Dict(
        help="Request parameters for chips: resolution, aspect_ratio, duration, audio, seed, "
        "camera_fixed, images (a count)."
    ).tag(sync=True)
    task_id = t.Unicode("", help="The gateway's task id ('' before the create succeeded).").tag(sync=True)
    error = t.Unicode("", help="A sentence for people when the job failed ('' otherwise).").tag(sync=True)
    error_code = t.Unicode("", help="Machine-readable reason (gateway code or ours).").tag(sync=True)
    video = t.Dict(
        None,
        allow_none=True,
        help="Facts of the finished file: width, height, fps, duration, size, sha256, file_name, path "
        "(None until done).",
    ).tag(sync=True)
    provenance = t.Dict(
        help="Request body, task id, seed, model, timings, sha256, package version (never the key)."
    ).tag(sync=True)
    from_cache = t.Bool(False, help="True when the video came from the output folder with no API call.").tag(
        sync=True
    )
    reconnecting = t.Bool(False, help="True while the network fails and the engine keeps retrying.").tag(
        sync=True
    )
    embed = t.Bool(False, help="Keep the MP4 bytes in the saved notebook (video_bytes and a data: URL).").tag(
        sync=True
    )
    video_bytes = t.Bytes(
        b"", help="The MP4 itself, only when embed=True; otherwise empty (the view asks the kernel)."
    ).tag(sync=True)
    callback_error = t.Unicode(
        "", help="The last error raised while handling a front-end message or a job update."
    ).tag(sync=True)

    def __init__(self, job: Job, *, embed: bool = False, notebook_dir: str | Path | None = None) -> None:
        """Watch ``job``. ``embed`` keeps the video bytes in the saved notebook; ``notebook_dir`` is
        the folder the static ``<video src>`` is made relative to (default: the working directory,
        which is the notebook's folder in Jupyter)."""
        if not isinstance(job, Job):
            raise TypeError(f"JobView needs a seedance_widgets Job, got {type(job).__name__}")
        self._job = job
        self._notebook_dir = Path(notebook_dir) if notebook_dir is not None else Path.cwd()
        self._display_id = f"seedance-job-{job.local_id}-{uuid.uuid4().hex[:8]}"
        self._displayed = False
        self._final_published = False
        self._lock = threading.RLock()
        self._facts: dict[str, Any] | None = None
        self._facts_key: tuple[str, str] | None = None
        self._kernel_parent = _KernelParent.capture()
        # The comm opens with the job's whole state: the front-end never draws an empty card.
        first = job.snapshot()
        self._last: JobSnapshot | None = first
        super().__init__(embed=bool(embed), **self._values(first, embed=bool(embed)))
        self.on_msg(self._on_message)
        self._unsubscribe: Callable[[], None] | None = job.subscribe(self._on_snapshot)
        # After subscribing, so a change in between is not lost (older snapshots are ignored).
        self._apply(job.snapshot())
        if job.snapshot().is_final:
            self._stop_watching()

    # ---- construction helpers ----------------------------------------------------------------
    @classmethod
    def for_job(cls, job: Job, *, embed: bool = False, notebook_dir: str | Path | None = None) -> JobView:
        """The view for ``job`` (what a Job shows as when it is a cell's last value)."""
        return cls(job, embed=embed, notebook_dir=notebook_dir)

    @property
    def job(self) -> Job:
        return self._job

    @property
    def display_id(self) -> str:
        """The display id every display of this view uses (the final static update targets it)."""
        return self._display_id

    # ---- job -> traits (engine threads) --------------------------------------------------------
    def _on_snapshot(self, snap: JobSnapshot) -> None:
        """Observer called from the engine's threads: assign traits, nothing else."""
        try:
            self._kernel_parent.ensure_in_this_thread()
            self._apply(snap)
            if snap.is_final:
                self._stop_watching()
                self._publish_final_static()
        except Exception as exc:
            self._report_error("updating the view", exc)

    def _apply(self, snap: JobSnapshot) -> None:
        with self._lock:
            if self._last is not None and snap.at < self._last.at:
                return  # an older snapshot raced a newer one: keep the newer
            self._last = snap
            values = self._values(snap, embed=self.embed, have_bytes=bool(self.video_bytes))
            # One comm message for the whole change (traitlets only queues changed values).
            with self.hold_sync():
                for name, value in values.items():
                    setattr(self, name, value)

    def _values(self, snap: JobSnapshot, *, embed: bool, have_bytes: bool = False) -> dict[str, Any]:
        """The trait values that show ``snap``."""
        facts = self._video_facts(snap)
        values: dict[str, Any] = {
            "local_id": snap.local_id,
            "state": snap.state,
            "status_text": _display.status_text(snap),
            "gateway_status": snap.gateway_status or "",
            "prompt": snap.prompt,
            "progress": max(0, min(100, int(snap.progress))),
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
        }
        if embed and facts is not None and not have_bytes and snap.path is not None:
            values["video_bytes"] = Path(snap.path).read_bytes()
        return values

    def _video_facts(self, snap: JobSnapshot) -> dict[str, Any] | None:
        if snap.state != JobState.DONE or snap.path is None:
            return None
        key = (str(snap.path), snap.sha256 or "")
        if key != self._facts_key:
            self._facts = _display.video_facts(snap, self._notebook_dir)
            self._facts_key = key
        return self._facts

    def close(self) -> None:
        """Close the widget and stop observing the job (the job itself carries on)."""
        if hasattr(self, "_lock"):  # not when __init__ failed (ipywidgets' __del__ calls close)
            self._stop_watching()
        super().close()

    def _stop_watching(self) -> None:
        with self._lock:
            unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()

    # ---- front-end -> kernel (the kernel's shell thread) --------------------------------------
    def _on_message(self, _widget: object, content: Any, buffers: list[bytes] | None) -> None:
        kind = content.get("kind") if isinstance(content, dict) else None
        handler = self._handlers().get(str(kind))
        if handler is None:
            return  # unknown kinds are ignored (newer front-end, or anywidget's own)
        try:
            handler(content)
        except Exception as exc:
            self._report_error(f"handling {kind!r}", exc)

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], None]]:
        return {MSG_CANCEL: self._handle_cancel, MSG_VIDEO_REQUEST: self._handle_video_request}

    def _handle_cancel(self, _content: dict[str, Any]) -> None:
        self._job.cancel()

    def _handle_video_request(self, content: dict[str, Any]) -> None:
        request_id = str(content.get("id", ""))
        for reply, buffers in self.video_messages(request_id):
            self.send(reply, buffers=buffers)

    def video_messages(self, request_id: str) -> Iterator[tuple[dict[str, Any], list[bytes]]]:
        """The replies to one video request: chunks of the MP4 file, or one error reply."""
        snap = self._job.snapshot()
        path = Path(snap.path) if snap.path is not None else None
        if snap.state != JobState.DONE or path is None or not path.is_file():
            why = f"the job is {snap.state}" if snap.state != JobState.DONE else f"no file at {path}"
            yield {"kind": MSG_VIDEO_RESPONSE, "id": request_id, "error": f"no video to send: {why}"}, []
            return
        size = path.stat().st_size
        chunks = max(1, -(-size // VIDEO_CHUNK_BYTES))
        with path.open("rb") as stream:
            for index in range(chunks):
                data = stream.read(VIDEO_CHUNK_BYTES)
                yield (
                    {
                        "kind": MSG_VIDEO_RESPONSE,
                        "id": request_id,
                        "chunk": index,
                        "chunks": chunks,
                        "size": size,
                        "mime": "video/mp4",
                        "sha256": snap.sha256 or "",
                    },
                    [data],
                )

    def _report_error(self, doing: str, exc: BaseException) -> None:
        """Show the error under the widget and log it: never swallowed, never raised into the engine."""
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        log.error("JobView %s: error while %s: %s", self.local_id, doing, detail, exc_info=exc)
        with contextlib.suppress(Exception):
            self.callback_error = f"Error while {doing}: {detail}"

    # ---- static forms ----------------------------------------------------------------------
    def _snapshot(self) -> JobSnapshot:
        with self._lock:
            return self._last or self._job.snapshot()

    def _static_bundle(self, snap: JobSnapshot) -> tuple[dict[str, str], dict[str, Any]]:
        facts = self._video_facts(snap)
        data = {
            "text/plain": _display.text_line(snap),
            "text/html": _display.static_html(
                snap, facts, notebook_dir=self._notebook_dir, embed=bool(self.embed)
            ),
        }
        return data, {_display.PROVENANCE_KEY: _display.provenance(snap, facts)}

    def _bundle_of(self, snap: JobSnapshot) -> tuple[dict[str, Any], dict[str, Any]]:
        widget = super()._repr_mimebundle_()
        data, metadata = self._static_bundle(snap)
        if widget is not None:
            widget_data, widget_metadata = widget
            data = {**widget_data, **data}
            metadata = {**(widget_metadata or {}), **metadata}
        return data, metadata

    def _repr_mimebundle_(self, **_kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """The widget view plus text/html and text/plain fallbacks; provenance in the metadata."""
        return self._bundle_of(self._snapshot())

    def _ipython_display_(self, **_kwargs: Any) -> None:
        """Display with our display id, so the static parts can be made final later."""
        from IPython.display import display

        self._kernel_parent = _KernelParent.capture()
        snap = self._snapshot()
        data, metadata = self._bundle_of(snap)
        display(data, raw=True, metadata=metadata, display_id=self._display_id)
        with self._lock:
            self._displayed = True
            self._final_published = self._final_published or snap.is_final
        # The job may have ended while we displayed a non-final bundle: make it final now.
        self._publish_final_static()

    def _publish_final_static(self) -> None:
        """Replace every display of this view with the final bundle (so a saved notebook holds the
        video and the details, not a frozen progress bar). Runs once: from the engine's thread when
        the job ends after display, or from _ipython_display_ when it ended during display."""
        if not _in_kernel():
            return
        with self._lock:
            snap = self._snapshot()
            if not self._displayed or self._final_published or not snap.is_final:
                return
            self._final_published = True
        from IPython.display import update_display

        data, metadata = self._bundle_of(snap)
        update_display(data, raw=True, metadata=metadata, display_id=self._display_id)

    def __repr__(self) -> str:
        return f"<JobView {_display.text_line(self._snapshot())}>"


class _KernelParent:
    """The kernel's current parent message, captured on the main thread, for worker threads of
    ipykernel 7.0.0 (see the module docstring)."""

    def __init__(self, kernel: Any, ident: Any, parent: dict[str, Any] | None) -> None:
        self._kernel = kernel
        self._ident = ident
        self._parent = parent

    @classmethod
    def capture(cls) -> _KernelParent:
        kernel = _kernel()
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
        if self._kernel is None or not self._parent:
            return
        try:
            self._kernel.get_parent()
        except LookupError:
            # ipykernel 7.0.0 only: this thread has no parent at all; give it the captured one.
            self._kernel.set_parent(self._ident, self._parent, "shell")


def _kernel() -> Any:
    from IPython import get_ipython

    return getattr(get_ipython(), "kernel", None)


def _in_kernel() -> bool:
    return _kernel() is not None
