"""The tables ``%seedance jobs`` and ``%seedance config`` return: HTML in Jupyter, text elsewhere."""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Sequence
from typing import Any

from seedance_widgets.api import catalog


def estimate_text(usd: float | None, what: str = "") -> str:
    """ "~$0.26 (estimate)", or "no estimate" when the catalogue has no price: never a made-up number."""
    if usd is None:
        return f"{what}no estimate (no list price for these settings)"
    return f"~${usd:.2f} {what}(estimate)"


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Table:
    """Rows of named cells, shown as an HTML table (``_repr_html_``) or aligned text (``repr``)."""

    title = ""

    def __init__(self, columns: Sequence[str], rows: Sequence[dict[str, Any]], note: str = "") -> None:
        self.columns = list(columns)
        #: One dict per row, keyed by column name (for use in code: ``t.rows[0]["state"]``).
        self.rows = [dict(r) for r in rows]
        self.note = note

    def __len__(self) -> int:
        return len(self.rows)

    def _cell(self, row: dict[str, Any], column: str) -> str:
        value = row.get(column)
        return "" if value is None else str(value)

    def __repr__(self) -> str:
        cells = [[self._cell(r, c) for c in self.columns] for r in self.rows]
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(self.columns)]
        lines = [self.title] if self.title else []
        lines.append("  ".join(c.ljust(w) for c, w in zip(self.columns, widths, strict=True)).rstrip())
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
        if not self.rows:
            lines.append("(none)")
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        head = "".join(f'<th style="text-align:left">{esc(c)}</th>' for c in self.columns)
        body = "".join(
            "<tr>"
            + "".join(f'<td style="text-align:left">{esc(self._cell(r, c))}</td>' for c in self.columns)
            + "</tr>"
            for r in self.rows
        )
        if not self.rows:
            body = f'<tr><td colspan="{len(self.columns)}">(none)</td></tr>'
        title = f"<strong>{esc(self.title)}</strong>" if self.title else ""
        note = f'<div style="color:#666">{esc(self.note)}</div>' if self.note else ""
        return (
            f'<div class="seedance-table">{title}<table><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>{note}</div>"
        )


class JobTable(Table):
    """``%seedance jobs``: every job of this kernel and of the output folder's ledger."""

    title = "Seedance jobs"
    COLUMNS = (
        "id",
        "task id",
        "model",
        "state",
        "progress",
        "prompt",
        "settings",
        "seed",
        "cost (est.)",
        "billed",
        "file",
        "submitted",
        "from",
    )

    @classmethod
    def build(cls, entries: Sequence[tuple[Any, bool]]) -> JobTable:
        """``entries``: (job snapshot, started in this kernel?) pairs."""
        rows = []
        for snap, this_kernel in entries:
            req = snap.request
            settings = _settings(req) if req is not None else ""
            seed = snap.seed if snap.seed is not None else (req.seed if req is not None else None)
            rows.append(
                {
                    "id": snap.local_id,
                    "task id": snap.task_id or "",
                    "model": req.model if req is not None else "",
                    "state": snap.state + (" (cache)" if snap.from_cache else ""),
                    "progress": f"{snap.progress}%",
                    "prompt": _shorten(snap.prompt, 40),
                    "settings": settings,
                    "seed": "" if seed is None else seed,
                    "cost (est.)": _cost_cell(snap),
                    "billed": billed_cell(snap),
                    "file": snap.path.name if snap.path is not None else "",
                    "submitted": time.strftime("%m-%d %H:%M:%S", time.localtime(snap.submitted_at))
                    if snap.submitted_at
                    else "",
                    "from": "this kernel" if this_kernel else "ledger",
                }
            )
        mine = [s for s, this_kernel in entries if this_kernel and not s.from_cache]
        total = sum(s.cost_estimate or 0.0 for s in mine)
        billed = [b for b in (getattr(s, "cost_usd", None) for s in mine) if b is not None]
        bill = f"; billed so far ${sum(billed):.2f} for {len(billed)} of them" if billed else ""
        note = (
            f"{len(rows)} jobs. Started in this kernel: ~${total:.2f} (an estimate, not the bill){bill}."
            if rows
            else "No jobs yet: try %seedance a red fox runs through fresh snow"
        )
        return cls(cls.COLUMNS, rows, note)


class TaskTable(Table):
    """``%seedance tasks``: the account's recent tasks at the provider (Ark), newest first.

    ``.attach(i_or_id)`` watches one of them (row number from 0, or its task id) and saves its video,
    as ``%seedance attach TASK_ID`` does."""

    title = "Recent tasks of the account (attach one: %seedance attach TASK_ID, or table.attach(i))"
    COLUMNS = ("#", "task id", "status", "model", "age", "tokens", "tier")

    def __init__(
        self,
        columns: Sequence[str],
        rows: Sequence[dict[str, Any]],
        note: str = "",
        *,
        attach: Callable[[int | str], Any] | None = None,
    ) -> None:
        super().__init__(columns, rows, note)
        self._attach = attach

    @classmethod
    def build(
        cls,
        tasks: Sequence[Any],
        *,
        attach: Callable[[int | str], Any] | None = None,
        now: float | None = None,
    ) -> TaskTable:
        """``tasks``: api ``Task`` objects (id, status, model, created_at, usage_tokens, service_tier)."""
        when = time.time() if now is None else now
        rows = [
            {
                "#": i,
                "task id": task.id,
                "status": task.status,
                "model": task.model or "",
                "age": age_text(when - task.created_at) if task.created_at else "",
                "tokens": "" if getattr(task, "usage_tokens", None) is None else f"{task.usage_tokens:,}",
                "tier": getattr(task, "service_tier", None) or "",
            }
            for i, task in enumerate(tasks)
        ]
        note = (
            f"{len(rows)} tasks. To watch one and save its video: %seedance attach {rows[0]['task id']}"
            if rows
            else "No tasks match."
        )
        return cls(cls.COLUMNS, rows, note, attach=attach)

    def attach(self, which: int | str) -> Any:
        """Watch task ``which`` (row number or task id) and save its video; returns the Job."""
        if self._attach is None:
            raise TypeError("this table was made without a manager to attach with")
        return self._attach(which)


def age_text(seconds: float) -> str:
    """ "42 s", "5 min", "3 h", "2 d" ago (the largest unit that fits)."""
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return f"{int(seconds)} s ago"


def billed_cell(snap: Any) -> str:
    """ "108,900 tokens ($0.44)" once the provider reported the bill, else "" (ToAPIs reports none)."""
    from seedance_widgets.widgets._display import billed_words

    return billed_words(getattr(snap, "usage_tokens", None), getattr(snap, "cost_usd", None)).removeprefix(
        "billed "
    )


class SettingsTable(Table):
    """``%seedance config``: the ``Seedance`` settings and the backend in use. Never the key."""

    title = "Seedance settings (change with %config Seedance.<name> = value)"


def _settings(req: Any) -> str:
    """ "5s 16:9 720p audio" ("auto length" where the model picks it)."""
    length = "auto length" if req.duration <= 0 else f"{req.duration}s"
    return f"{length} {req.aspect_ratio} {req.resolution}" + (" audio" if req.audio else "")


def _cost_cell(snap: Any) -> str:
    if snap.request is None:
        return ""
    if snap.cost_estimate is None:
        return "no estimate"
    return f"${snap.cost_estimate:.2f}" if snap.cost_estimate else ""


class ModelTable(Table):
    """``%seedance models``: every catalogue model and what it allows, read from its spec."""

    title = "Seedance models (use with --model ID or %config Seedance.model)"
    COLUMNS = (
        "id",
        "label",
        "seconds",
        "resolutions",
        "ratios",
        "audio",
        "references",
        "last frame",
        "price per 5 s (est.)",
    )

    @classmethod
    def build(cls) -> ModelTable:
        rows = [model_row(spec) for spec in catalog.MODELS.values()]
        note = (
            f"Default: {catalog.DEFAULT_MODEL}. Prices are ESTIMATES from one provider's published list, "
            "not the gateway's bill; 'no estimate' where no list price is known."
        )
        return cls(cls.COLUMNS, rows, note)


_AUDIO_WORDS = {"none": "no", "optional": "optional", "default_on": "on by default"}


def model_row(spec: catalog.ModelSpec) -> dict[str, str]:
    """One model's row of ``%seedance models`` (every value from its spec)."""
    d = spec.durations
    seconds = f"{d.min}-{d.max}" + (" or auto" if d.auto is not None else "")
    refs = [f"{spec.images.max_references} images"] if spec.images.max_references else []
    if spec.video_refs:
        refs.append(f"{spec.video_refs.max_count} videos")
    if spec.audio_refs:
        refs.append(f"{spec.audio_refs.max_count} audio")
    return {
        "id": spec.id,
        "label": spec.label,
        "seconds": seconds,
        "resolutions": ", ".join(spec.resolutions),
        "ratios": ", ".join(spec.ratios),
        "audio": _AUDIO_WORDS[spec.audio],
        "references": ", ".join(refs) or "none",
        "last frame": "yes" if spec.last_frame else "no",
        "price per 5 s (est.)": price_text(spec),
    }


def price_text(spec: catalog.ModelSpec) -> str:
    """ "480p $0.06 (audio $0.12), 720p $0.13 (audio $0.26)", per resolution, or "no estimate"."""
    parts = []
    for resolution in spec.resolutions:
        plain = catalog.estimate_usd(spec, resolution, 5, False)
        sound = catalog.estimate_usd(spec, resolution, 5, True) if spec.audio != "none" else None
        if plain is None and sound is None:
            parts.append(f"{resolution} no estimate")
        elif sound is not None and plain is not None and sound != plain:
            parts.append(f"{resolution} ${plain:.2f} (audio ${sound:.2f})")
        else:
            parts.append(f"{resolution} ${(plain if plain is not None else sound):.2f}")
    if all(p.endswith("no estimate") for p in parts):
        return "no estimate"
    return ", ".join(parts)
