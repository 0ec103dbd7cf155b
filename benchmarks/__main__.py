"""``python -m benchmarks [--quick] [--only 5,6] [--out PATH]``: run every benchmark, print one table.

Each benchmark module exposes ``run(quick: bool = False) -> dict`` (shape: benchmarks/README.md).
A module that is missing or raises turns its rows into "not measured: <reason>";
the run goes on so the table always comes out whole.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from ._adapters import ADAPTERS
from ._core import Row, render_table, row_from_dict, write_results
from ._env import NotMeasured
from ._spec import GROUPS, SPEC


def run_group(group: str, module_name: str, quick: bool) -> tuple[list[Row], float]:
    defaults = [r for r in SPEC if r.id.rstrip("abcdefgh") == group]
    started = time.perf_counter()
    try:
        module = importlib.import_module(f"benchmarks.{module_name}")
    except ImportError as exc:
        reason = f"benchmarks/{module_name}.py is not there yet ({exc})"
        return [_missing(d, reason) for d in defaults], 0.0
    try:
        # Whatever a benchmark prints goes to stderr: stdout carries only the one table.
        with contextlib.redirect_stdout(sys.stderr):
            result: dict[str, Any] = module.run(quick=quick)
    except NotMeasured as exc:
        return [_missing(d, str(exc)) for d in defaults], time.perf_counter() - started
    except Exception as exc:  # a broken benchmark must not hide the others' rows
        traceback.print_exc(file=sys.stderr)
        reason = f"{module_name}.run raised {type(exc).__name__}: {str(exc)[:200]}"
        return [_missing(d, reason) for d in defaults], time.perf_counter() - started
    elapsed = time.perf_counter() - started
    if module_name in ADAPTERS and "rows" not in result:
        result = ADAPTERS[module_name](result)
    by_id = {str(r.get("id")): r for r in result.get("rows", []) if isinstance(r, dict)}
    top_reason = result.get("not_measured")
    rows = []
    for d in defaults:
        data = by_id.get(d.id) or (by_id.get(group) if len(defaults) == 1 else None)
        if data is None:
            reason = top_reason or f"{module_name}.run returned no row {d.id} (keys: {sorted(result)[:8]})"
            rows.append(_missing(d, str(reason)))
        else:
            rows.append(row_from_dict(data, d).finalize())
    return rows, elapsed


def _missing(default: Row, reason: str) -> Row:
    row = row_from_dict({}, default)
    row.not_measured = reason
    return row.finalize()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="small and fast: proves the benchmarks still work"
    )
    parser.add_argument("--only", default="", help="comma-separated row groups, e.g. 5,6")
    parser.add_argument(
        "--out", type=Path, default=None, help="results JSON (default benchmarks/results.json)"
    )
    args = parser.parse_args(argv)
    only = {g.strip() for g in args.only.split(",") if g.strip()}
    out = args.out or Path(__file__).with_name("results-quick.json" if args.quick else "results.json")

    rows: list[Row] = []
    timings: dict[str, float] = {}
    for group, module_name in GROUPS:
        if only and group not in only:
            continue
        print(f"[bench] {group}: {module_name} ...", file=sys.stderr, flush=True)
        group_rows, elapsed = run_group(group, module_name, args.quick)
        timings[module_name] = round(elapsed, 2)
        rows.extend(group_rows)
        print(f"[bench] {group}: done in {elapsed:.1f} s", file=sys.stderr, flush=True)

    meta = {
        "quick": args.quick,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_end": os.getloadavg(),
        "seconds_per_benchmark": timings,
    }
    table = render_table(rows)
    print(table)
    write_results(rows, out, meta)
    print(f"\nwritten: {out}  ({'quick' if args.quick else 'full'} run, load average {meta['loadavg_end']})")
    if os.environ.get("BENCH_PRINT_JSON"):
        print(json.dumps([r.to_json() for r in rows], default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
