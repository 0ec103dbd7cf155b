"""Experiment grids: prompts x seeds x settings x models, run in the background, seen side by side.

``grid(prompts=[...], seeds=[...], duration=[4, 8])`` submits one job per combination of the
listed values (any parameter may be a single value or a list) and returns a :class:`Grid` at
once. ``model=["doubao-seedance-1-5-pro", "seedance-2"]`` compares models: the gallery puts
them side by side, one column per model. Every combination is validated, and the whole grid's
cost estimate checked against the session budget, before the first paid call: a bad value never
leaves half a grid submitted. Re-running the same grid re-uses finished videos from the output
folder at zero cost.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import itertools
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .api import ValidationError, catalog
from .api.models import GRID_PARAMS, MODEL_DEFAULT
from .engine import DryRun, Job, JobManager, default_manager
from .engine.state import JobSnapshot
from .python_api import check_local_media, checked_request, image_inputs, media_inputs, media_kwargs


def _as_values(name: str, value: Any) -> list[Any]:
    """A parameter's values: a list/tuple sweeps, anything else is one value."""
    if isinstance(value, (list, tuple)):
        values = list(value)
        if not values:
            raise ValidationError(name, value, "at least one value")
        return values
    return [value]


@dataclasses.dataclass(frozen=True)
class Cell:
    """One combination of the grid: the parameter values that vary, and its job."""

    values: dict[str, Any]
    job: Job


class Grid:
    """The jobs of one sweep, with ways to wait for them, see them and tabulate them."""

    def __init__(self, cells: Sequence[Cell], axes: Sequence[str]) -> None:
        self.cells = list(cells)
        #: Parameters that take more than one value, in sweep order.
        self.axes = list(axes)

    @property
    def jobs(self) -> list[Job]:
        return [cell.job for cell in self.cells]

    def wait(self, timeout: float | None = None) -> list[Path | None]:
        """Block until every job has ended; the saved files (None for a job that failed).

        Unlike ``Job.wait`` this does not raise for a failed job: a grid is an experiment and
        one refused prompt should not hide the other results (see ``.table()``'s status).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        files: list[Path | None] = []
        for job in self.jobs:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                files.append(job.wait(timeout=left))
            except TimeoutError:
                raise
            except Exception:  # the job's own error stays visible in its snapshot
                files.append(None)
        return files

    def gallery(self, rows: str | None = None, cols: str | None = None) -> Any:
        """A widget: a labelled grid of players, rows and columns by the swept parameters."""
        from .widgets import Gallery

        axes = [a for a in self.axes if a in GRID_PARAMS]
        if cols is None and "model" in axes and rows != "model":
            cols = "model"  # models side by side, one column each
        rows = rows if rows is not None else next((a for a in axes if a != cols), None)
        cols = cols if cols is not None else next((a for a in axes if a != rows), None)
        return Gallery(self.jobs, rows=rows, cols=cols)

    def records(self) -> list[dict[str, Any]]:
        """One dict per job: parameters, task id, status, time, cost estimate and real cost (tokens
        and USD, once the provider reported them: Ark does, ToAPIs does not), file."""
        out = []
        for cell in self.cells:
            snap = cell.job.snapshot()
            out.append(_record(snap))
        return out

    def table(self) -> Any:
        """One row per job: a pandas DataFrame when pandas is installed, else a list of dicts
        (a :class:`Table`, which a notebook shows as an HTML table)."""
        rows = self.records()
        try:
            import pandas as pd
        except ImportError:
            return Table(rows)
        return pd.DataFrame(rows)

    def to_html(self, path: str | Path, *, embed: bool = True) -> Path:
        """Write a self-contained page of the results for sharing (videos inline when ``embed``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_page(self, path.parent, embed), encoding="utf-8")
        return path

    def __len__(self) -> int:
        return len(self.cells)

    def __iter__(self) -> Any:
        return iter(self.jobs)

    def summary(self) -> str:
        snaps = [job.snapshot() for job in self.jobs]
        done = sum(1 for s in snaps if s.state == "done")
        failed = sum(1 for s in snaps if s.is_final and s.state != "done")
        paid = [s for s in snaps if not s.from_cache]
        cost = sum(s.cost_estimate or 0.0 for s in paid)
        unknown = sum(1 for s in paid if s.cost_estimate is None)
        axes = (
            " x ".join(f"{a} ({len({str(c.values.get(a)) for c in self.cells})})" for a in self.axes)
            or "1 job"
        )
        extra = f", no estimate for {unknown}" if unknown else ""
        billed = [s.cost_usd for s in paid if s.cost_usd is not None]
        bill = f"; billed ${sum(billed):.2f} for {len(billed)} so far" if billed else ""
        return (
            f"Grid {axes}: {len(snaps)} jobs, {done} done, {failed} ended without a video, "
            f"~${cost:.2f} (estimate{extra}, cache hits are free){bill}"
        )

    def __repr__(self) -> str:
        return f"<{self.summary()}>"

    def _repr_html_(self) -> str:
        return _results_table(self, base=None, embed=False)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.gallery())


class Table(list):  # type: ignore[type-arg]
    """``Grid.table()`` without pandas: a plain list of dicts that a notebook shows as a table."""

    def _repr_html_(self) -> str:
        columns: list[str] = []
        for row in self:
            columns += [key for key in row if key not in columns]
        head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_cell_text(row.get(c)))}</td>" for c in columns) + "</tr>"
            for row in self
        )
        return f'<table class="seedance-grid-table"><tr>{head}</tr>{body}</table>'


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _record(snap: JobSnapshot) -> dict[str, Any]:
    req = snap.request
    elapsed = None
    if snap.submitted_at is not None and snap.finished_at is not None:
        elapsed = round(snap.finished_at - snap.submitted_at, 1)
    return {
        "model": req.model if req else None,
        "prompt": req.prompt if req else None,
        "seed": req.seed if req else None,
        "seed_used": snap.seed,
        "duration": req.duration if req else None,
        "aspect_ratio": req.aspect_ratio if req else None,
        "resolution": req.resolution if req else None,
        "audio": req.audio if req else None,
        "camera_fixed": req.camera_fixed if req else None,
        "task_id": snap.task_id,
        "status": snap.state,
        "error": snap.error,
        "time_s": elapsed,
        "cost_estimate_usd": 0.0 if snap.from_cache else snap.cost_estimate,
        # The provider's bill beside the estimate (None until reported; a cache hit costs nothing).
        "usage_tokens": 0 if snap.from_cache else snap.usage_tokens,
        "cost_usd": 0.0 if snap.from_cache else snap.cost_usd,
        "from_cache": snap.from_cache,
        "file": str(snap.path) if snap.path else None,
        "sha256": snap.sha256,
    }


def grid(
    prompts: str | Iterable[str],
    seeds: int | Iterable[int | None] | None = None,
    *,
    model: str | Sequence[str] = catalog.DEFAULT_MODEL,
    duration: int | Sequence[int] = MODEL_DEFAULT,
    aspect_ratio: str | Sequence[str] = MODEL_DEFAULT,
    resolution: str | Sequence[str] = MODEL_DEFAULT,
    audio: bool | Sequence[bool] = MODEL_DEFAULT,
    camera_fixed: bool | Sequence[bool] = False,
    first_frame: Any = None,
    last_frame: Any = None,
    references: Any = None,
    ref_videos: Any = None,
    ref_audios: Any = None,
    return_last_frame: bool = False,
    web_search: bool = False,
    rerun: bool = False,
    dry_run: bool = False,
    manager: JobManager | None = None,
) -> Grid | list[DryRun]:
    """Submit every combination of the listed values; returns a :class:`Grid` at once.

    ``model`` is one catalogue id or a list of them (a list compares models side by side);
    ``duration``, ``aspect_ratio``, ``resolution`` and ``audio`` left out take each model's own
    defaults. ``seeds=None`` means one random seed per combination. Images, reference videos
    and audio (as :func:`seedance_widgets.generate` takes them) are shared by every job; every
    combination is checked with them, for its model, before anything is sent.
    ``dry_run=True`` returns the exact bodies and estimates without calling anything.
    """
    sweep: dict[str, list[Any]] = {
        "model": _as_values("model", model),
        "prompt": _as_values("prompts", [prompts] if isinstance(prompts, str) else list(prompts)),
        "seed": [None]
        if seeds is None
        else _as_values("seeds", seeds if not isinstance(seeds, int) else [seeds]),
        "duration": _as_values("duration", duration),
        "aspect_ratio": _as_values("aspect_ratio", aspect_ratio),
        "resolution": _as_values("resolution", resolution),
        "audio": _as_values("audio", audio),
        "camera_fixed": _as_values("camera_fixed", camera_fixed),
    }
    names = list(sweep)
    combos = [dict(zip(names, values, strict=True)) for values in itertools.product(*sweep.values())]
    images = image_inputs(first_frame, last_frame, references)
    media = media_inputs(ref_videos, ref_audios)
    shared = {"return_last_frame": return_last_frame, "web_search": web_search}
    # Validate every combination (with its images and media) before anything is sent: half a
    # grid is worse than none. Local media are read and checked once per model, not per combination.
    requests = [checked_request({**combo, **shared}, images) for combo in combos]
    for spec in {req.spec.id: req.spec for req in requests}.values():
        checked_request({"prompt": "x", "model": spec.id}, (), media)
        check_local_media(spec, media)
    chosen = manager or default_manager()
    extra = media_kwargs(media)
    if dry_run:
        return [chosen.submit(req, images=images, rerun=rerun, dry_run=True, **extra) for req in requests]  # type: ignore[misc]
    # The whole grid against the budget before anything is sent (saved videos are free).
    chosen.check_budget(requests, images, rerun=rerun, name="grid", outcome="Nothing was submitted")
    cells = []
    for combo, req in zip(combos, requests, strict=True):
        job = chosen.submit(req, images=images, rerun=rerun, **extra)
        assert isinstance(job, Job)
        cells.append(Cell(values=combo, job=job))
    axes = [name for name in names if len(sweep[name]) > 1]
    return Grid(cells, axes)


# ---- the shareable page -------------------------------------------------------------------------


def _video_tag(snap: JobSnapshot, base: Path | None, embed: bool) -> str:
    if snap.state != "done" or snap.path is None or not Path(snap.path).exists():
        label = html.escape(snap.status_line())
        return f'<div class="ph">{label}</div>'
    file = Path(snap.path)
    if embed:
        data = base64.b64encode(file.read_bytes()).decode("ascii")
        src = f"data:video/mp4;base64,{data}"
    elif base is not None:
        try:
            src = file.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            src = file.resolve().as_uri()
    else:
        src = file.as_posix()
    return f'<video controls muted loop preload="metadata" src="{html.escape(src)}"></video>'


def _billed_text(tokens: int | None, usd: float | None) -> str:
    """ "108,900 tokens ($0.44)" once the provider reported the bill; "" before (or on ToAPIs)."""
    if tokens is None:
        return f"${usd:.2f}" if usd is not None else ""
    return f"{tokens:,} tokens" + (f" (${usd:.2f})" if usd is not None else "")


def _results_table(grid: Grid, base: Path | None, embed: bool) -> str:
    head = ["video", *grid.axes, "seed used", "status", "task id", "time", "cost (est.)", "billed"]
    rows = []
    for cell in grid.cells:
        snap = cell.job.snapshot()
        rec = _record(snap)
        values = [html.escape(str(cell.values.get(axis))) for axis in grid.axes]
        tds = [
            _video_tag(snap, base, embed),
            *values,
            html.escape(str(rec["seed_used"] if rec["seed_used"] is not None else "")),
            html.escape(rec["status"] + (f": {rec['error']}" if rec["error"] else "")),
            f"<code>{html.escape(rec['task_id'] or '')}</code>",
            html.escape(f"{rec['time_s']} s" if rec["time_s"] is not None else ""),
            html.escape(
                "no estimate" if rec["cost_estimate_usd"] is None else f"${rec['cost_estimate_usd']:.2f}"
            ),
            html.escape(_billed_text(rec["usage_tokens"], rec["cost_usd"])),
        ]
        rows.append("<tr>" + "".join(f"<td>{td}</td>" for td in tds) + "</tr>")
    header = "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"
    caption = html.escape(grid.summary())
    return f'<table class="seedance-grid"><caption>{caption}</caption>{header}{"".join(rows)}</table>'


_STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:6px;vertical-align:top;font-size:13px}
caption{text-align:left;font-weight:600;margin-bottom:8px}video{width:320px;display:block}
.ph{width:320px;height:90px;background:#eee;display:flex;align-items:center;justify-content:center;color:#666}
code{font-size:11px}
"""


def _shared_settings(grid: Grid) -> str:
    """The settings every video of the grid shares (those not swept), as a list."""
    if not grid.cells:
        return ""
    first = grid.cells[0].job.snapshot().request
    shared = {
        k: getattr(first, k, v) if v is MODEL_DEFAULT else v
        for k, v in grid.cells[0].values.items()
        if k not in grid.axes
    }
    if not shared:
        return ""
    items = "".join(
        f"<li>{html.escape(name)}: <span class='v'>{html.escape(str(value))}</span></li>"
        for name, value in shared.items()
    )
    return f"<ul class='shared'>{items}</ul>"


def _page(grid: Grid, base: Path, embed: bool) -> str:
    from ._version import __version__

    models = sorted({snap.request.model for snap in (c.job.snapshot() for c in grid.cells) if snap.request})
    model = ", ".join(models)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Seedance grid: {html.escape(grid.summary())}</title><style>{_STYLE}</style></head><body>"
        f"<h1>Seedance experiment grid</h1><p>Model{'s' if len(models) > 1 else ''} "
        f"<code>{html.escape(model)}</code>, "
        f"made with seedance_widgets {html.escape(__version__)}. Costs are estimates from a list price.</p>"
        f"{_shared_settings(grid)}{_results_table(grid, base, embed)}</body></html>"
    )
