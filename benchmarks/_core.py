"""Rows, statistics, the printed table and ``results.json``.

Every row compares a measured value with a baseline measured in the same run, so the
noise of a shared machine mostly cancels. A row whose parts are missing carries the
reason (``not_measured``) instead of numbers: no number is ever made up.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any


@dataclasses.dataclass(frozen=True)
class Target:
    """What a row must reach: ``ratio <= limit`` (or ``>=``), or the same on an absolute value."""

    op: str  # "<=" or ">="
    limit: float
    kind: str = "ratio"  # "ratio" compares value/baseline; "absolute" compares the value itself

    def label(self, unit: str = "") -> str:
        if self.kind == "ratio":
            return f"{self.op} {self.limit:g}x"
        return f"{self.op} {self.limit:g}{(' ' + unit) if unit else ''}"

    def met(self, x: float) -> bool:
        return x <= self.limit if self.op == "<=" else x >= self.limit


@dataclasses.dataclass
class Row:
    """One line of the table.

    ``value`` and ``baseline_value`` are the raw repeats (same unit). ``ratio`` is
    computed from their medians unless the benchmark supplies its own (for instance a
    ratio of totals). ``not_measured`` holds the reason when a part is missing.
    """

    id: str
    measure: str
    baseline: str
    target: Target
    unit: str = "s"
    value: list[float] = dataclasses.field(default_factory=list)
    baseline_value: list[float] = dataclasses.field(default_factory=list)
    ratio: float | None = None
    not_measured: str | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    # ---- derived -----------------------------------------------------------------
    def computed_ratio(self) -> float | None:
        if self.not_measured:
            return None
        if self.ratio is not None:
            return self.ratio
        if self.target.kind != "ratio":
            return None
        if not self.value or not self.baseline_value:
            return None
        base = statistics.median(self.baseline_value)
        if base == 0:
            return None
        return statistics.median(self.value) / base

    def checked(self) -> float | None:
        """The number compared with the target (ratio, or the median absolute value)."""
        if self.not_measured:
            return None
        if self.target.kind == "ratio":
            return self.computed_ratio()
        return statistics.median(self.value) if self.value else None

    def status(self) -> str:
        x = self.checked()
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return "n/a"
        return "PASS" if self.target.met(x) else "FAIL"

    def finalize(self) -> Row:
        """Turn a row with no numbers and no reason into an honest 'not measured' (on one line)."""
        if self.not_measured:
            self.not_measured = " ".join(self.not_measured.split())
        if not self.not_measured and self.checked() is None:
            missing = "no samples" if not self.value else "no baseline samples"
            self.not_measured = f"{missing} were collected"
        return self

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "measure": self.measure,
            "baseline": self.baseline,
            "unit": self.unit,
            "target": self.target.label(self.unit),
            "status": self.status(),
            "ratio": self.computed_ratio(),
            "checked": self.checked(),
            "value": _summary(self.value),
            "baseline_value": _summary(self.baseline_value),
            "not_measured": self.not_measured,
            "extra": self.extra,
        }


def _summary(samples: Sequence[float]) -> dict[str, Any]:
    if not samples:
        return {"n": 0, "samples": []}
    return {
        "n": len(samples),
        "min": min(samples),
        "median": statistics.median(samples),
        "max": max(samples),
        "samples": list(samples),
    }


def row_from_dict(data: dict[str, Any], default: Row) -> Row:
    """A row from the plain-dict shape benchmark modules return (see benchmarks/README.md).

    ``default`` supplies id, measure, baseline, target and unit where the dict does not.
    """
    row = dataclasses.replace(default, extra=dict(default.extra))
    for key in ("measure", "baseline", "unit"):
        if isinstance(data.get(key), str):
            setattr(row, key, data[key])
    row.value = _floats(data.get("value", data.get("values", [])))
    row.baseline_value = _floats(data.get("baseline_value", data.get("baseline_values", [])))
    if isinstance(data.get("ratio"), (int, float)):
        row.ratio = float(data["ratio"])
    if data.get("not_measured"):
        row.not_measured = str(data["not_measured"])
    if isinstance(data.get("extra"), dict):
        row.extra.update(data["extra"])
    return row


def _floats(x: Any) -> list[float]:
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return [float(x)]
    if isinstance(x, (list, tuple)):
        return [float(v) for v in x if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return []


# ---- output ------------------------------------------------------------------------------
def _fmt(x: float | None, unit: str = "") -> str:
    if x is None:
        return "-"
    ax = abs(x)
    if x == int(x) and ax < 1e6:
        s = str(int(x))
    elif ax >= 1000:
        s = f"{x:,.0f}"
    elif ax >= 10:
        s = f"{x:.1f}"
    elif ax >= 0.01:
        s = f"{x:.3f}"
    else:
        s = f"{x:.2e}"
    return f"{s} {unit}".rstrip()


def _min_med(samples: Sequence[float], unit: str) -> str:
    if not samples:
        return "-"
    return f"{_fmt(min(samples))} / {_fmt(statistics.median(samples), unit)} (n={len(samples)})"


def render_table(rows: Sequence[Row]) -> str:
    """A plain-text table: one line per row, 'not measured: <reason>' where numbers are missing."""
    header = [
        "#",
        "measure",
        "baseline",
        "value min / median",
        "baseline min / median",
        "ratio",
        "target",
        "result",
    ]
    lines: list[list[str]] = []
    for row in rows:
        ratio = row.computed_ratio()
        lines.append(
            [
                row.id,
                row.measure,
                row.baseline,
                _min_med(row.value, row.unit),
                _min_med(row.baseline_value, row.unit),
                f"{ratio:.3f}x" if ratio is not None else "-",
                row.target.label(row.unit),
                row.status(),
            ]
        )
    widths = [
        max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)
    ]
    out = [" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out.append("-+-".join("-" * w for w in widths))
    for row, line in zip(rows, lines, strict=True):
        out.append(" | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        if row.not_measured:
            out.append(f"{'':{widths[0]}} | not measured: {row.not_measured}")
        note = row.extra.get("note")
        if note:
            out.append(f"{'':{widths[0]}} | note: {note}")
    return "\n".join(out)


def write_results(rows: Sequence[Row], path: Path, meta: dict[str, Any]) -> None:
    payload = {"meta": meta, "rows": [r.to_json() for r in rows]}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
