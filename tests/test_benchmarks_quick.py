"""The benchmarks still work: ``python -m benchmarks --quick`` prints the whole table and its JSON.

No threshold is asserted here (quick runs are too small and this machine too noisy for
that): only that every row comes out with numbers or an honest "not measured: <reason>".
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks._core import Row, Target, render_table, row_from_dict
from benchmarks._spec import SPEC

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_quick_run_prints_every_row(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,  # every row small, 15 groups incl. two browsers and 1,000 jobs under rate limits
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| measure" in proc.stdout
    data = json.loads(out.read_text())
    assert data["meta"]["quick"] is True
    rows = {r["id"]: r for r in data["rows"]}
    assert list(rows) == [r.id for r in SPEC]
    for rid, row in rows.items():
        assert row["id"] in proc.stdout
        if row["not_measured"]:
            assert f"not measured: {row['not_measured']}" in proc.stdout
            assert row["status"] == "n/a"
            continue
        assert row["value"]["n"] >= 1, rid
        assert row["checked"] is not None, rid
        assert row["status"] in ("PASS", "FAIL"), rid
        if row["target"].endswith("x"):
            assert row["baseline_value"]["n"] >= 1, rid
            assert row["ratio"] is not None, rid
            assert row["ratio"] > 0, rid


def test_missing_parts_print_not_measured() -> None:
    row = row_from_dict({"value": [1.0, 2.0]}, Row("9", "m", "b", Target("<=", 1.0)))
    row.finalize()
    assert row.not_measured
    assert row.status() == "n/a"
    assert "not measured: no baseline samples were collected" in render_table([row])


def test_ratio_and_target() -> None:
    row = row_from_dict(
        {"value": [2.0, 3.0, 100.0], "baseline_value": [1.0, 2.0, 2.0]}, Row("9", "m", "b", Target("<=", 1.3))
    ).finalize()
    assert row.computed_ratio() == pytest.approx(1.5)
    assert row.status() == "FAIL"
    faster = Row("9", "m", "b", Target(">=", 0.8))
    higher = row_from_dict({"value": [90.0], "baseline_value": [100.0]}, faster)
    assert higher.finalize().status() == "PASS"
    absolute = row_from_dict({"value": [3.0, 5.0]}, Row("9", "m", "b", Target("<=", 16, "absolute"), "MB"))
    assert absolute.finalize().status() == "PASS"
    assert absolute.computed_ratio() is None
