"""What a job reads as: the status words, the text line, video facts and provenance.

Used by the live card (``_cards.card_data``) and by the static forms that stand in wherever the
widget cannot render (nbconvert HTML, GitHub, VS Code without the widget manager, a terminal
IPython) and that a saved notebook keeps (``_cards.static_card_html``). Everything here is a pure
function of a :class:`~seedance_widgets.jobs.JobSnapshot` (plus the video file), so the widget,
the static HTML and the tests agree.
"""

from __future__ import annotations

import base64
import os
import struct
import time
from pathlib import Path
from typing import Any

from seedance_widgets._version import __version__
from seedance_widgets.api import MODEL, ValidationError
from seedance_widgets.api.media import mp4_facts, sniff_image_type
from seedance_widgets.engine.state import JobSnapshot, JobState

from .states import state_label

#: Where the build (npm run build) puts the front-end bundles.
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

#: MIME type of the provenance entry in an output's metadata.
PROVENANCE_KEY = "seedance_widgets"

_MISSING_BUNDLE_ESM = """
export default { render({ el }) {
  const note = document.createElement("pre");
  note.textContent = %s;
  el.appendChild(note);
} };
"""


def bundle(name: str) -> Path | str:
    """The built front-end file ``static/<name>`` as a Path (anywidget loads it), or, when the
    package was installed without its bundle, an ES module that says how to build it. Import and
    display then still work (the static HTML fallback shows the job) instead of failing."""
    path = STATIC_DIR / name
    if path.is_file():
        return path
    if name.endswith(".css"):
        return ""
    message = f"seedance_widgets: the front-end bundle {name} is missing; run `npm install && npm run build`."
    return _MISSING_BUNDLE_ESM % _js_string(message)


def _js_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---- status -----------------------------------------------------------------------------------


def clock(seconds: float | None) -> str:
    """``m:ss`` (or ``h:mm:ss``) for a duration in seconds."""
    if seconds is None:
        return ""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


#: Status words of the gateway we know (contract section 2); any other is shown verbatim.
_KNOWN_GATEWAY_STATUSES = frozenset({"queued", "submitted", "in_progress", "completed", "failed"})


def status_text(snap: JobSnapshot) -> str:
    """The short status a person reads first: "Generating · 42%", "Done in 2:41", "Refused"."""
    text = _status_words(snap)
    raw = snap.gateway_status
    if raw and raw.lower() not in _KNOWN_GATEWAY_STATUSES and not snap.is_final:
        text += f" (gateway says {raw!r})"
    return text


def _status_words(snap: JobSnapshot) -> str:
    state = snap.state
    label = state_label(state)
    if state in (JobState.RUNNING, JobState.QUEUED):
        # No percentage until one is reported: Ark never reports one (its bar is indeterminate),
        # and "Generating · 0%" for a whole run reads as stuck.
        return f"{label} · {snap.progress}%" if snap.progress else label
    if state == JobState.DONE:
        if snap.from_cache:
            return f"{label} · from cache"
        start = snap.submitted_at or snap.started_at
        if start is not None and snap.finished_at is not None:
            return f"{label} in {clock(snap.finished_at - start)}"
        return label
    if state == JobState.FAILED:
        code = (snap.error_code or "").lower()
        return "Refused" if "policy" in code or code == "422" else state_label(state)
    if state == JobState.CANCELLED and cancel_outcome(snap) == CANCELLED_NOT_BILLED:
        return "Cancelled · not billed"
    return state_label(state)


# ---- cancel and cost ----------------------------------------------------------------------------

#: What a cancel did, by the engine's ``JobSnapshot.cancel_outcome`` (and the state): Ark cancelled
#: a queued task; Ark refused (the task runs, still watched); Ark could not be asked (still
#: watched); nothing had been sent; or we only stopped watching (ToAPIs has no cancel, or a
#: second cancel of a running Ark task).
CANCELLED_NOT_BILLED = "cancelled"
NOT_CANCELLABLE = "not_cancellable"
CANCEL_FAILED = "cancel_failed"
NOT_SENT = "not_sent"
STOPPED_WATCHING = "stopped_watching"
#: The cancel is on its way to the provider (the engine's workers send it; the outcome follows).
CANCELLING = "cancelling"
CANCEL_WORDS: dict[str, str] = {
    CANCELLING: "asking Ark to cancel\u2026 (still watching until it answers)",
    CANCELLED_NOT_BILLED: "cancelled before it ran: not billed",
    NOT_CANCELLABLE: "running: cannot be cancelled once running, still watching (it will be billed); "
    "cancel again to stop watching",
    CANCEL_FAILED: "the provider could not be asked to cancel: still watching; try again",
    NOT_SENT: "stopped before anything was sent: not billed",
    STOPPED_WATCHING: "stopped watching: the task may still finish and be billed",
}


def cancel_outcome(snap: JobSnapshot) -> str | None:
    """Which of ``CANCEL_WORDS`` a cancel of ``snap``'s job led to (None: not cancelled)."""
    outcome = getattr(snap, "cancel_outcome", None)
    if snap.state == JobState.CANCELLED:
        return outcome if outcome in (CANCELLED_NOT_BILLED, NOT_SENT) else STOPPED_WATCHING
    if outcome in (NOT_CANCELLABLE, CANCEL_FAILED, CANCELLING) and not snap.is_final:
        return str(outcome)
    return None


def cancel_text(snap: JobSnapshot) -> str:
    """The sentence for what a cancel did ("" when the job was not cancelled)."""
    outcome = cancel_outcome(snap)
    return CANCEL_WORDS[outcome] if outcome is not None else ""


def estimate_words(usd: float | None) -> str:
    """ "est. ~$0.52", "est. free" for a zero, or "" when there is no list price."""
    if usd is None:
        return ""
    return f"est. ~${usd:.2f}"


def billed_words(tokens: int | None, usd: float | None) -> str:
    """ "billed 108,900 tokens ($0.44)", "billed 108,900 tokens" (no token price known), or ""."""
    if tokens is None:
        return f"billed ${usd:.2f}" if usd is not None else ""
    money = f" (${usd:.2f})" if usd is not None else ""
    return f"billed {tokens:,} tokens{money}"


def cost_text(snap: JobSnapshot) -> str:
    """The estimate and, once known, the real bill side by side:
    "est. ~$0.52 · billed 108,900 tokens ($0.44)". "" for a job with no request (nothing to price)."""
    tokens = getattr(snap, "usage_tokens", None)
    real = getattr(snap, "cost_usd", None)
    if snap.request is None and tokens is None and real is None:
        return ""
    estimate = estimate_words(snap.cost_estimate) or "no estimate"
    billed = billed_words(tokens, real)
    return f"{estimate} · {billed}" if billed else estimate


def params_of(snap: JobSnapshot) -> dict[str, Any]:
    """The request's parameters for chips (no prompt, no image URLs: those can be long or private)."""
    req = snap.request
    if req is None:
        return {}
    images = len(req.image_urls) + len(req.image_with_roles)
    spec = req.spec
    return {
        "model": req.model,
        "model_label": spec.label,
        "resolution": req.resolution,
        "aspect_ratio": req.aspect_ratio,
        "duration": req.duration,
        "audio": req.audio,
        "seed": snap.seed if snap.seed is not None else req.seed,
        "camera_fixed": req.camera_fixed,
        "images": images,
        "videos": len(req.video_with_roles),
        "audios": len(req.audio_with_roles),
        "return_last_frame": req.return_last_frame,
        "web_search": req.web_search,
    }


def text_line(snap: JobSnapshot) -> str:
    """The text/plain form: one readable line (what a terminal IPython shows)."""
    prompt = " ".join(snap.prompt.split())
    if len(prompt) > 60:
        prompt = prompt[:59] + "…"
    parts = [f"Seedance job {snap.local_id}: {status_text(snap)}", f"“{prompt}”"]
    if snap.task_id:
        parts.append(f"task {snap.task_id}")
    if snap.state == JobState.DONE and snap.path is not None:
        parts.append(str(snap.path))
    billed = billed_words(snap.usage_tokens, snap.cost_usd)
    if billed:
        parts.append(billed)
    if snap.error:
        parts.append(snap.error)
    return " · ".join(parts)


# ---- the video -------------------------------------------------------------------------------


def video_facts(snap: JobSnapshot, notebook_dir: Path | None = None) -> dict[str, Any] | None:
    """What a person wants to know about the finished file: size in pixels, fps, duration, bytes,
    sha256, name. Measured from the file's MP4 index; otherwise the values the request implies
    (the model's documented size and frame rate, where its spec gives them)."""
    path = snap.path
    if snap.state != JobState.DONE or path is None or not Path(path).is_file():
        return None
    path = Path(path)
    facts: dict[str, Any] = {
        "file_name": path.name,
        "path": shown_path(path, notebook_dir),
        "size": path.stat().st_size,
        "sha256": snap.sha256 or "",
        "measured": False,
    }
    req = snap.request
    if req is not None:
        known = req.known_size  # None for adaptive or an unconfirmed size: only the file can say
        if known is not None:
            facts.update(width=known[0], height=known[1])
        if req.spec.fps is not None:
            facts["fps"] = float(req.spec.fps)
        if req.duration > 0:  # an auto length is known only from the file
            facts["duration"] = float(req.duration)
    facts.update(_probe(path))
    return facts


def shown_path(path: Path, notebook_dir: Path | None) -> str:
    """The path as a person wants to read it: relative to the notebook when inside its folder."""
    base = (notebook_dir or Path.cwd()).resolve()
    resolved = path.resolve()
    return str(resolved.relative_to(base)) if resolved.is_relative_to(base) else str(resolved)


def _probe(path: Path) -> dict[str, Any]:
    # Read from the MP4's index with the standard library: a cached re-run never loads a codec
    # library, and the kernel needs no PyAV (it comes only with the [emulator] extra).
    try:
        facts = mp4_facts(path)
    except (OSError, ValueError, IndexError, struct.error) as exc:  # a damaged file keeps the request's facts
        return {"probe_error": f"{type(exc).__name__}: {exc}"}
    return {**facts, "measured": True} if facts else {}


def video_src(path: Path, notebook_dir: Path | None, embed: bool) -> str:
    """The ``src`` of the static ``<video>``: a data: URL when embedding, else the file's path
    relative to the notebook (so the saved notebook plays wherever the folder is served)."""
    if embed:
        return "data:video/mp4;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    base = notebook_dir or Path.cwd()
    try:
        rel = os.path.relpath(path.resolve(), base.resolve())
    except ValueError:  # another drive on Windows
        rel = str(path.resolve())
    return Path(rel).as_posix()


def image_src(path: Path, notebook_dir: Path | None, embed: bool) -> str:
    """The ``src`` of a static ``<img>`` (a job's last frame): as :func:`video_src`, its own type."""
    if embed:
        data = path.read_bytes()
        mime = sniff_image_type(data[:16]) or "image/png"
        return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
    return video_src(path, notebook_dir, embed=False)


# ---- provenance ------------------------------------------------------------------------------


def provenance(snap: JobSnapshot, facts: dict[str, Any] | None = None) -> dict[str, Any]:
    """Where a video came from: the request body, task id, seed, model, timings, sha256 and the
    package version. Goes into the output's metadata and the widget's details. Never the key:
    nothing here is read from the client or the environment."""
    req = snap.request
    return {
        "local_id": snap.local_id,
        "task_id": snap.task_id,
        "model": req.model if req is not None else MODEL,
        "request": request_record(req) if req is not None else None,
        "request_hash": snap.request_hash,
        "seed": snap.seed if snap.seed is not None else (req.seed if req is not None else None),
        "state": snap.state,
        "submitted_at": snap.submitted_at,
        "started_at": snap.started_at,
        "finished_at": snap.finished_at,
        "sha256": snap.sha256,
        "file": (facts or {}).get("path") or (str(snap.path) if snap.path else None),
        "from_cache": snap.from_cache,
        "cost_estimate_usd": snap.cost_estimate,
        "error_code": snap.error_code,
        "package": "seedance_widgets",
        "package_version": __version__,
    }


def request_record(req: Any) -> dict[str, Any]:
    """The request as provenance keeps it: the ToAPIs body (what earlier outputs hold), or, for a
    request only Ark can take (the flex tier), the request's own fields (protocol-free)."""
    try:
        body: dict[str, Any] = req.to_body()
    except ValidationError:
        return dict(req.to_dict())
    return body


# ---- times ----------------------------------------------------------------------------------


def when(ts: float | None) -> str:
    """A unix time as local "YYYY-mm-dd HH:MM:SS" ("" when unknown)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else ""
