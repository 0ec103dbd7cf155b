"""Static forms of a job: the text line, the HTML block, video facts and provenance.

These stand in wherever the live widget cannot render (nbconvert HTML, GitHub, VS Code without
the widget manager, a terminal IPython) and are what a saved notebook keeps. Everything here is a
pure function of a :class:`~seedance_widgets.jobs.JobSnapshot` (plus the video file), so the widget,
the static HTML and the tests agree.
"""

from __future__ import annotations

import base64
import html
import os
import struct
import time
from pathlib import Path
from typing import Any

from seedance_widgets._version import __version__
from seedance_widgets.api import FPS, MODEL, output_size
from seedance_widgets.api.media import mp4_facts
from seedance_widgets.jobs.state import FINAL_STATES, JobSnapshot, JobState

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
    if state == JobState.RUNNING:
        return f"Generating · {snap.progress}%"
    if state == JobState.QUEUED:
        return f"Queued · {snap.progress}%" if snap.progress else "Queued"
    if state == JobState.DONE:
        if snap.from_cache:
            return "Done · from cache"
        start = snap.submitted_at or snap.started_at
        if start is not None and snap.finished_at is not None:
            return f"Done in {clock(snap.finished_at - start)}"
        return "Done"
    if state == JobState.FAILED:
        code = (snap.error_code or "").lower()
        return "Refused" if "policy" in code or code == "422" else "Failed"
    labels = {
        JobState.INTENT: "Preparing",
        JobState.UPLOADING: "Uploading images",
        JobState.SUBMITTING: "Submitting",
        JobState.DOWNLOADING: "Downloading",
        JobState.TIMED_OUT: "Timed out (task kept: attach later)",
        JobState.CANCELLED: "Stopped watching",
        JobState.EXPIRED: "Expired",
        JobState.MAY_EXIST: "May exist (not re-sent)",
    }
    return labels.get(state, state)


def params_of(snap: JobSnapshot) -> dict[str, Any]:
    """The request's parameters for chips (no prompt, no image URLs: those can be long or private)."""
    req = snap.request
    if req is None:
        return {}
    images = len(req.image_urls) + len(req.image_with_roles)
    return {
        "resolution": req.resolution,
        "aspect_ratio": req.aspect_ratio,
        "duration": req.duration,
        "audio": req.audio,
        "seed": snap.seed if snap.seed is not None else req.seed,
        "camera_fixed": req.camera_fixed,
        "images": images,
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
    if snap.error:
        parts.append(snap.error)
    return " · ".join(parts)


# ---- the video -------------------------------------------------------------------------------


def video_facts(snap: JobSnapshot, notebook_dir: Path | None = None) -> dict[str, Any] | None:
    """What a person wants to know about the finished file: size in pixels, fps, duration, bytes,
    sha256, name. Measured from the file with PyAV when it is installed; otherwise the values the
    request implies (Seedance 1.5 Pro always renders its documented size at 24 fps)."""
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
    if snap.request is not None:
        width, height = output_size(snap.request.resolution, snap.request.aspect_ratio)
        facts.update(width=width, height=height, fps=float(FPS), duration=float(snap.request.duration))
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
        "request": req.to_body() if req is not None else None,
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


# ---- the static HTML -------------------------------------------------------------------------

_TONE_COLOURS = {
    "ok": "#388e3c",
    "error": "#d32f2f",
    "warn": "#f57c00",
    "active": "#1976d2",
    "idle": "#757575",
}
_BOX_STYLE = (
    "border:1px solid #ddd;border-radius:6px;padding:8px 12px;max-width:900px;"
    "font-family:sans-serif;font-size:13px"
)


def _tone(state: str) -> str:
    if state == JobState.DONE:
        return "ok"
    if state in (JobState.FAILED, JobState.EXPIRED):
        return "error"
    if state in (JobState.TIMED_OUT, JobState.MAY_EXIST):
        return "warn"
    if state == JobState.CANCELLED:
        return "idle"
    return "active"


def tone_colour(state: str) -> str:
    """The colour of a state's status text in the static forms (red for failures)."""
    return _TONE_COLOURS[_tone(state)]


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else ""


def static_html(
    snap: JobSnapshot,
    facts: dict[str, Any] | None,
    *,
    notebook_dir: Path | None = None,
    embed: bool = False,
) -> str:
    """The text/html form: status, prompt, progress or video, details. Inline styles only (no
    classes a sanitizer might strip); every value escaped."""
    esc = html.escape
    colour = _TONE_COLOURS[_tone(snap.state)]
    rows: list[str] = [
        f'<div class="seedance-static" data-state="{esc(snap.state)}" style="{_BOX_STYLE}">',
        f'<div><span style="color:{colour};font-weight:600">{esc(status_text(snap))}</span> '
        f'<span style="color:#666">“{esc(" ".join(snap.prompt.split()))}”</span></div>',
    ]
    if snap.state not in FINAL_STATES:
        rows.append(
            f'<progress max="100" value="{snap.progress}" style="width:100%">{snap.progress}%</progress>'
        )
    if snap.error:
        rows.append(f'<div style="color:{_TONE_COLOURS["error"]};margin-top:4px">{esc(snap.error)}</div>')
    if facts is not None and snap.path is not None:
        src = video_src(Path(snap.path), notebook_dir, embed)
        width = min(640, int(facts.get("width") or 640))
        rows.append(
            f'<video class="seedance-static-video" controls preload="metadata" width="{width}" '
            f'src="{esc(src, quote=True)}" style="display:block;margin-top:6px;max-width:100%"></video>'
        )
    details = _detail_rows(snap, facts)
    if details:
        cells = "".join(
            f'<tr><th style="text-align:left;padding-right:12px">{esc(k)}</th><td>{esc(v)}</td></tr>'
            for k, v in details
        )
        rows.append(f"<details><summary>Details</summary><table>{cells}</table></details>")
    rows.append("</div>")
    return "\n".join(rows)


def _detail_rows(snap: JobSnapshot, facts: dict[str, Any] | None) -> list[tuple[str, str]]:
    params = params_of(snap)
    rows: list[tuple[str, str]] = []
    if snap.task_id:
        rows.append(("task id", snap.task_id))
    if params:
        rows.append(
            (
                "request",
                f"{params['resolution']} · {params['aspect_ratio']} · {params['duration']} s"
                + (" · audio" if params["audio"] else "")
                + (" · camera fixed" if params["camera_fixed"] else ""),
            )
        )
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
    if snap.cost_estimate:
        rows.append(("cost", f"≈ ${snap.cost_estimate:.2f} (estimate, not the gateway's bill)"))
    for label, ts in (("submitted", snap.submitted_at), ("finished", snap.finished_at)):
        if ts:
            rows.append((label, _when(ts)))
    if snap.from_cache:
        rows.append(("from cache", "yes (no API call)"))
    return rows
