"""``JobView``: one generation job as a live anywidget, plus its static fallback.

Threads. The job engine calls :meth:`JobView._on_snapshot` from its own threads while the kernel's
main thread runs other cells. That callback only assigns traits inside ``hold_sync()`` (one comm
message per change, sent straight to the IOPub socket, which is thread-safe); it never waits for the
front-end, never prints and never displays. The elapsed clock and the ETA countdown tick in the
browser from ``started_at`` / ``kernel_time``, so a running job costs one message per engine
change and nothing per second.

Before assigning traits from an engine thread it calls ``KernelParent.ensure_in_this_thread()``
(``_cards.KernelParent`` explains why ipykernel 7.0.0 needs it).

update_display from a worker. ``update_display_data`` is matched to outputs by ``display_id`` in
JupyterLab, Notebook 7, VS Code and nbclient, never appended to the running cell, so it is safe
from a thread on ipykernel 6 and 7 (with the parent fix above for 7.0.0). We send it once, when the
job becomes final, and only inside a kernel (in a terminal IPython it would print into the prompt).

Sharing. Inside a kernel the view shows as two outputs: the live widget and its static twin (the
card as HTML, with the video), which exports with plain ``jupyter nbconvert --to html`` and which
JupyterLab hides; ``_share`` explains why. The twin is updated by display id on every state change
of the job (and of the jobs made from it with "Generate again"), never on progress ticks.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anywidget
import traitlets as t

from seedance_widgets.api import SeedanceError
from seedance_widgets.engine.job import Job
from seedance_widgets.engine.state import JobSnapshot, JobState

from . import _display, _share
from ._again import continue_from_here, generate_again
from ._cards import (
    CARD_FIELDS,
    CardBook,
    KernelParent,
    VideoServer,
    current_kernel,
    static_card_bundle,
    static_card_html,
)
from .messages import (
    MSG_CANCEL,
    MSG_CONTINUE,
    MSG_GENERATE_AGAIN,
    MSG_LAST_FRAME_REQUEST,
    MSG_VIDEO_REQUEST,
    MSG_VIDEO_RESPONSE,
)

__all__ = ["MSG_CANCEL", "MSG_GENERATE_AGAIN", "MSG_VIDEO_REQUEST", "MSG_VIDEO_RESPONSE", "JobView"]

log = logging.getLogger("seedance_widgets.widgets")


class JobView(anywidget.AnyWidget):
    """A live view of one :class:`~seedance_widgets.engine.Job`.

    Shows the prompt, status, a progress bar with ETA and elapsed time, the cost estimate and a
    cancel button; when done, the video (fetched from the kernel as binary messages, so it plays
    wherever the notebook sits and after the gateway's URL expired), a download link and the
    details; on failure the gateway's message. Every trait below is written by the kernel only.
    """

    _esm = _display.bundle("job_view.js")
    _css = _display.bundle("job_view.css")

    local_id = t.Unicode("", help="The job's local id (the ledger's key).").tag(sync=True)
    state = t.Unicode(JobState.INTENT, help="The job state (seedance_widgets.engine.JobState).").tag(
        sync=True
    )
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
    last_frame = t.Dict(
        None,
        allow_none=True,
        help="The saved last frame (file_name, path, size, can_continue) when the job asked for it; the "
        "page fetches the image with a last-frame-request (None otherwise).",
    ).tag(sync=True)
    usage_tokens = t.Int(
        None, allow_none=True, help="The provider's bill in tokens once reported (Ark); None before or never."
    ).tag(sync=True)
    cost_usd = t.Float(
        None, allow_none=True, help="That bill in USD (None: not reported, or no token price known)."
    ).tag(sync=True)
    cost_text = t.Unicode(
        "", help="The estimate and the bill side by side: 'est. ~$0.52 · billed 108,900 tokens ($0.44)'."
    ).tag(sync=True)
    cancel_outcome = t.Unicode(
        None,
        allow_none=True,
        help="What a cancel did: cancelled, not_cancellable, cancel_failed, not_sent, stopped_watching "
        "(None: not cancelled).",
    ).tag(sync=True)
    cancel_text = t.Unicode("", help="That outcome in words ('' when not cancelled).").tag(sync=True)
    embed = t.Bool(False, help="Keep the MP4 bytes in the saved notebook (video_bytes and a data: URL).").tag(
        sync=True
    )
    video_bytes = t.Bytes(
        b"", help="The MP4 itself, only when embed=True; otherwise empty (the view asks the kernel)."
    ).tag(sync=True)
    callback_error = t.Unicode(
        "", help="The last error raised while handling a front-end message or a job update."
    ).tag(sync=True)
    again = t.List(
        t.Dict(),
        help="Cards of the jobs made from this card with 'Generate again (paid)' or 'Continue from here "
        "(paid)', newest first (the card's data plus id and seed_used).",
    ).tag(sync=True)

    def __init__(
        self, job: Job, *, embed: bool = False, notebook_dir: str | Path | None = None, manager: Any = None
    ) -> None:
        """Watch ``job``. ``embed`` keeps the video bytes in the saved notebook; ``notebook_dir`` is
        the folder the static ``<video src>`` is made relative to (default: the working directory,
        which is the notebook's folder in Jupyter); ``manager`` is the job's JobManager, which
        "Generate again" submits to (default: the process's default manager)."""
        if not isinstance(job, Job):
            raise TypeError(f"JobView needs a seedance_widgets Job, got {type(job).__name__}")
        self._job = job
        self._manager = manager
        self._notebook_dir = Path(notebook_dir) if notebook_dir is not None else Path.cwd()
        self._display_id = f"seedance-job-{job.local_id}-{uuid.uuid4().hex[:8]}"
        self._displayed = False
        self._final_published = False
        self._lock = threading.RLock()
        self._book = CardBook(self._notebook_dir)
        self._twin = _share.StaticTwin(f"job-{job.local_id}")
        #: Jobs made from this card with "Generate again", newest first, and their cards.
        self._again_jobs: list[Job] = []
        self._again_book = CardBook(self._notebook_dir)
        self._again_unsubscribers: list[Callable[[], None]] = []
        self._videos = VideoServer(self, self._find)
        self._kernel_parent = KernelParent.capture()
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
    def for_job(
        cls, job: Job, *, embed: bool = False, notebook_dir: str | Path | None = None, manager: Any = None
    ) -> JobView:
        """The view for ``job`` (what a Job shows as when it is a cell's last value)."""
        return cls(job, embed=embed, notebook_dir=notebook_dir, manager=manager)

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
            self._publish_static()
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
        """The trait values that show ``snap`` (the card's data; the MP4 itself only with embed)."""
        card = self._book.update(snap) or self._book.get(snap.local_id)
        values = {name: card[name] for name in CARD_FIELDS}
        if embed and values["video"] is not None and not have_bytes and snap.path is not None:
            values["video_bytes"] = Path(snap.path).read_bytes()
        return values

    def close(self) -> None:
        """Close the widget and stop observing the job (the job itself carries on)."""
        if hasattr(self, "_lock"):  # not when __init__ failed (ipywidgets' __del__ calls close)
            self._stop_watching()
            for unsubscribe in getattr(self, "_again_unsubscribers", []):
                unsubscribe()
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
        return {
            MSG_CANCEL: self._handle_cancel,
            MSG_VIDEO_REQUEST: self._handle_video_request,
            MSG_GENERATE_AGAIN: self._handle_generate_again,
            MSG_LAST_FRAME_REQUEST: self._videos.answer_last_frame,
            MSG_CONTINUE: self._handle_continue,
        }

    def _handle_cancel(self, content: dict[str, Any]) -> None:
        job = self._find(str(content.get("id") or ""))
        if job is not None:
            job.cancel()

    def _handle_generate_again(self, content: dict[str, Any]) -> None:
        # Sent only after the user confirmed the cost in the card (js/lib/job_card.js).
        job_id = str(content.get("id") or "")
        source = self._find(job_id)
        if source is None:
            raise SeedanceError(f"no job {job_id!r} in this view")
        self.generate_again(source)

    def _handle_continue(self, content: dict[str, Any]) -> None:
        # Sent only after the user confirmed the cost in the card (js/lib/job_card.js).
        job_id = str(content.get("id") or "")
        source = self._find(job_id)
        if source is None:
            raise SeedanceError(f"no job {job_id!r} in this view")
        self.continue_from_here(source)

    def _handle_video_request(self, content: dict[str, Any]) -> None:
        self._videos.answer(content)

    def video_messages(
        self, request_id: str, job_id: str = ""
    ) -> Iterator[tuple[dict[str, Any], list[bytes]]]:
        """The replies to one video request: chunks of the MP4 file, or one error reply."""
        return self._videos.messages(request_id, job_id)

    # ---- generate again --------------------------------------------------------------------
    def _find(self, job_id: str) -> Job | None:
        """This view's job ("" or its id) or one made from it with "Generate again"."""
        if not job_id or job_id == self._job.local_id:
            return self._job
        with self._lock:
            return next((job for job in self._again_jobs if job.local_id == job_id), None)

    @property
    def again_jobs(self) -> list[Job]:
        """The jobs made from this card with "Generate again", newest first."""
        with self._lock:
            return list(self._again_jobs)

    def generate_again(self, job: Job | None = None) -> Job:
        """What the card's confirmed "Generate again (paid)" does: submit ``job``'s settings (default:
        this view's job) with a new seed as a new, paid task. The new job's card shows under this one."""
        return self._add_made(generate_again(job or self._job, manager=self._manager))

    def continue_from_here(self, job: Job | None = None) -> Job:
        """What the card's confirmed "Continue from here (paid)" does: a new job, same model and
        settings, whose first frame is ``job``'s last frame (default: this view's job). Its card
        shows under this one."""
        return self._add_made(continue_from_here(job or self._job, manager=self._manager))

    def _add_made(self, new: Job) -> Job:
        """Show a job made from this card (generate again, continue) under it, newest first."""
        with self._lock:
            known = any(j.local_id == new.local_id for j in self._again_jobs)
            if not known:
                self._again_book.update(new.snapshot())
                self._again_jobs.insert(0, new)
        if not known:
            self._again_unsubscribers.append(new.subscribe(self._on_again_snapshot))
        self._on_again_snapshot(new.snapshot())
        return new

    def _on_again_snapshot(self, snap: JobSnapshot) -> None:
        """Observer of the jobs made with "Generate again" (engine threads): assign traits only."""
        try:
            self._kernel_parent.ensure_in_this_thread()
            with self._lock:
                self._again_book.update(snap)
                self.again = [self._again_book.get(job.local_id) for job in self._again_jobs]
            self._publish_static()
        except Exception as exc:
            self._report_error("updating a new job's card", exc)

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

    def _metadata(self, snap: JobSnapshot) -> dict[str, Any]:
        return {_display.PROVENANCE_KEY: _display.provenance(snap, self._book.facts(snap))}

    def _card_html(self, snap: JobSnapshot) -> str:
        facts = self._book.facts(snap)
        return static_card_html(snap, facts, notebook_dir=self._notebook_dir, embed=bool(self.embed))

    def _static_bundle(self, snap: JobSnapshot) -> tuple[dict[str, str], dict[str, Any]]:
        facts = self._book.facts(snap)
        return static_card_bundle(snap, facts, notebook_dir=self._notebook_dir, embed=bool(self.embed))

    def _bundle_of(self, snap: JobSnapshot) -> tuple[dict[str, Any], dict[str, Any]]:
        widget = super()._repr_mimebundle_()
        data, metadata = self._static_bundle(snap)
        if widget is not None:
            widget_data, widget_metadata = widget
            data = {**widget_data, **data}
            metadata = {**(widget_metadata or {}), **metadata}
        return data, metadata

    def _live_bundle(self, snap: JobSnapshot) -> tuple[dict[str, Any], dict[str, Any]]:
        """Inside a kernel: the widget view and the text line (the twin carries the HTML)."""
        return _share.live_bundle(super()._repr_mimebundle_(), _display.text_line(snap), self._metadata(snap))

    def _twin_html(self, snap: JobSnapshot) -> str:
        """The static twin: the card, then the cards of the jobs made from it with "Generate again"."""
        html = self._card_html(snap)
        with self._lock:
            again = [self._again_book.snapshot(job.local_id) for job in self._again_jobs]
        if not again:
            return html
        cards = "".join(
            static_card_html(s, self._again_book.facts(s), notebook_dir=self._notebook_dir, compact=True)
            for s in again
        )
        return (
            f'{html}\n<div class="seedance-again-static" style="margin:6px 0 0 16px;font-family:sans-serif">'
            f'<div style="font-size:12px;color:#666">Made from this card</div>{cards}</div>'
        )

    def _twin_key(self, snap: JobSnapshot) -> tuple[Any, ...]:
        """What the twin shows: this job's state, and each job made from it, once added and once
        final (not every step: with embed the twin carries the whole MP4 each time it is sent)."""
        with self._lock:
            again = []
            for job in self._again_jobs:
                made = self._again_book.snapshot(job.local_id)
                again.append((job.local_id, made.state if made.is_final else "", made.sha256))
        return (snap.state, snap.sha256, tuple(again))

    def _repr_mimebundle_(self, **_kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """The widget view plus text/html and text/plain fallbacks; provenance in the metadata."""
        return self._bundle_of(self._snapshot())

    def _ipython_display_(self, **_kwargs: Any) -> None:
        """Display with our display id, so the static parts can be made final later; inside a
        kernel as the live output plus its static twin (see ``_share``)."""
        from IPython.display import display

        self._kernel_parent = KernelParent.capture()
        snap = self._snapshot()
        if not _share.in_kernel():
            data, metadata = self._bundle_of(snap)
            display(data, raw=True, metadata=metadata, display_id=self._display_id)
            return
        _share.show_backend_notice_once()
        data, metadata = self._live_bundle(snap)
        display(data, raw=True, metadata=metadata, display_id=self._display_id)
        self._twin.show(self._twin_html(snap), self._metadata(snap), self._twin_key(snap))
        with self._lock:
            self._displayed = True
            self._final_published = self._final_published or snap.is_final
        # The job may have ended while we displayed a non-final bundle: make it final now.
        self._publish_static()

    def take_over(self, live_display_id: str, twin_display_id: str) -> None:
        """Become the live widget of outputs shown before this view existed (a finished job's
        :class:`~seedance_widgets.widgets.finished_card.FinishedCard`): the placeholder under
        ``live_display_id`` turns into this widget, the card under ``twin_display_id`` into its
        static twin. Main thread only, inside a kernel."""
        from IPython.display import update_display

        self._kernel_parent = KernelParent.capture()
        snap = self._snapshot()
        with self._lock:
            self._display_id = live_display_id
            self._twin.adopt(twin_display_id)
            self._displayed = True
            self._final_published = self._final_published or snap.is_final
            data, metadata = self._live_bundle(snap)
            update_display(data, raw=True, metadata=metadata, display_id=live_display_id)
            self._twin.update(self._twin_html(snap), self._metadata(snap), self._twin_key(snap))
        # The job may have changed state meanwhile (a "Generate again" job): bring it up to date.
        self._publish_static()

    def _publish_static(self) -> None:
        """Bring every display of this view up to date: the live output's text line once, when the
        job is final (so a saved notebook does not say "running"), and the twin whenever the job or
        a job made from it changed state. From the engine's threads or the main thread."""
        if current_kernel() is None:
            return
        from IPython.display import update_display

        with self._lock:
            snap = self._snapshot()
            if not self._displayed:
                return
            if snap.is_final and not self._final_published:
                self._final_published = True
                data, metadata = self._live_bundle(snap)
                update_display(data, raw=True, metadata=metadata, display_id=self._display_id)
            # Under the lock: two engine threads never send their twins out of order.
            key = self._twin_key(snap)
            if self._twin.wants(key):
                self._twin.update(self._twin_html(snap), self._metadata(snap), key)

    @property
    def static_display_id(self) -> str:
        """The display id of the static twin (inside a kernel)."""
        return self._twin.display_id

    def __repr__(self) -> str:
        return f"<JobView {_display.text_line(self._snapshot())}>"
