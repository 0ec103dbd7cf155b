"""The attack suite: every test here is a `reliability` test, and the suites print their figures.

Each test module adds rows to a named table through the ``report`` fixture; the tables are printed
at the end of the run (pytest's terminal summary), so CI's log carries the fault matrix and the
kill-run counts alongside the pass/fail verdicts.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

_TABLES: dict[str, list[dict[str, Any]]] = defaultdict(list)
_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == _HERE:
            item.add_marker(pytest.mark.reliability)


class Report:
    """Rows for one named table of figures."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self._rows = rows

    def add(self, **row: Any) -> None:
        self._rows.append(row)


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Report:
    """``report.add(column=value, ...)`` adds a row to this module's table."""
    name = request.node.module.__name__.rpartition(".")[2]
    return Report(_TABLES[name])


def format_table(rows: list[dict[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    cells = [[str(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines.extend(" | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells)
    return lines


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for name, rows in sorted(_TABLES.items()):
        if not rows:
            continue
        terminalreporter.section(f"reliability: {name}")
        for line in format_table(rows):
            terminalreporter.write_line(line)
