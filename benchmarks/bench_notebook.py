"""Rows 8a/8b: re-executing a notebook whose N generations already exist.

A notebook with N ``%seedance --wait`` cells is executed once with nbclient (the
generations happen, against an emulator in its own process), then executed again and
again: each later run is timed and the emulator's request counts are read before and
after it. The baseline is the same notebook with each generation call taken out of its
cell (the cell only names its prompt), so both have as many cells. Both run in fresh
kernels (kernel start-up is in both), in the same folder, alternating.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from ._env import NotMeasured, child_env, emulator_process

_KINDS = ("create", "get", "upload", "download")


def _cells(n: int, with_generations: bool, magic: bool) -> list[str]:
    cells = ["%load_ext seedance_widgets" if magic else "import seedance_widgets"]
    for i in range(n):
        prompt = f"a paper boat drifting down a rain gutter, take {i}"
        if not with_generations:
            # The same cell with the generation call taken out: both notebooks have as many cells,
            # so the per-cell cost of the kernel and nbclient is not counted as ours.
            cells.append(f"prompt = {prompt!r}")
            continue
        if magic:
            cells.append(f"%seedance --wait --duration 4 --resolution 480p {prompt}")
        else:
            cells.append(f"seedance_widgets.generate({prompt!r}, duration=4, resolution='480p').wait()")
    cells.append("print('end of notebook')")
    return cells


def _widget_cells(n: int) -> list[str]:
    """The floor: the same notebook showing a bare anywidget where each generation was (what
    any widget costs a re-run: importing ipywidgets and anywidget, a comm per view)."""
    cells = [
        "%load_ext seedance_widgets",
        "import anywidget\nclass Bare(anywidget.AnyWidget):\n    _esm = 'export default { render() {} }'",
    ]
    cells += ["Bare()" for _ in range(n)]
    cells.append("print('end of notebook')")
    return cells


def _write(path: Path, cells: list[str]) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)
    return path


def _cell_seconds(nb: Any) -> list[float]:
    """Per-cell time from nbclient's timing metadata (execute_input -> execute_reply)."""
    out = []
    for cell in nb.cells:
        ex = cell.get("metadata", {}).get("execution", {})
        a, b = ex.get("iopub.execute_input"), ex.get("shell.execute_reply")
        if a and b:
            start, end = datetime.fromisoformat(a.rstrip("Z")), datetime.fromisoformat(b.rstrip("Z"))
            out.append((end - start).total_seconds())
    return out


def _execute(path: Path, env: dict[str, str], timeout: int, cells: list[list[float]] | None = None) -> float:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=timeout,
        startup_timeout=60,
        resources={"metadata": {"path": str(path.parent)}},
    )
    t0 = time.perf_counter()
    client.execute(env=env)  # reaches KernelManager.start_kernel: the kernel's environment
    elapsed = time.perf_counter() - t0
    if cells is not None:
        cells.append(_cell_seconds(nb))
    nbformat.write(nb, path)  # as "run all + save" would
    return elapsed


def _calls(stats: dict[str, Any]) -> dict[str, int]:
    return {k: int(stats.get(k, 0)) for k in _KINDS}


def _median_cells(runs: list[list[float]]) -> list[float]:
    if not runs:
        return []
    return [round(statistics.median(col), 3) for col in zip(*runs, strict=False)]


def _outside(walls: list[float], runs: list[list[float]]) -> float:
    """Median seconds of a run spent outside its cells (kernel start-up and shut-down, nbclient)."""
    rest = [w - sum(c) for w, c in zip(walls, runs, strict=False)]
    return statistics.median(rest) if rest else float("nan")


def run(quick: bool = False) -> dict[str, Any]:
    n = 2 if quick else 5
    repeats = 1 if quick else 9
    try:
        import seedance_widgets

        seedance_widgets.generate  # noqa: B018 - the job engine's front door must exist
    except (ImportError, AttributeError) as exc:
        raise NotMeasured(f"seedance_widgets.generate is not there yet ({exc})") from exc
    magic = hasattr(seedance_widgets, "load_ipython_extension")
    ours: list[float] = []
    base: list[float] = []
    floor: list[float] = []
    calls: list[float] = []
    by_kind: list[dict[str, int]] = []
    gen_cells: list[list[float]] = []
    plain_cells: list[list[float]] = []
    with tempfile.TemporaryDirectory(prefix="seedance-bench-nb-") as tmp, emulator_process(speed=10.0) as emu:
        folder = Path(tmp)
        env = child_env(
            TOAPIS_API_KEY=emu.api_key, SEEDANCE_BASE_URL=emu.base_url, IPYTHONDIR=str(folder / "ipy")
        )
        env.pop("JUPYTER_PLATFORM_DIRS", None)
        os.makedirs(folder / "ipy", exist_ok=True)
        gen = _write(folder / "generations.ipynb", _cells(n, True, magic))
        plain = _write(folder / "plain.ipynb", _cells(n, False, magic))
        bare = _write(folder / "bare-widgets.ipynb", _widget_cells(n))
        _execute(bare, env, timeout=600)  # warm, as the generations' first run is
        first = _execute(gen, env, timeout=600)
        created = _calls(emu.stats())["create"]
        if created < n:
            raise NotMeasured(f"the first execution made {created} creates for {n} generations")

        def generations() -> None:
            before = _calls(emu.stats())
            ours.append(_execute(gen, env, timeout=600, cells=gen_cells))
            after = _calls(emu.stats())
            delta = {k: after[k] - before[k] for k in _KINDS}
            by_kind.append(delta)
            calls.append(float(delta["create"] + delta["get"] + delta["upload"] + delta["download"]))

        sides = [
            generations,
            lambda: base.append(_execute(plain, env, timeout=600, cells=plain_cells)),
            lambda: floor.append(_execute(bare, env, timeout=600)),
        ]
        for r in range(repeats):
            # Each run in turn goes first: none always follows the same one (a kernel that is
            # still exiting, a warm page cache).
            for side in sides[r % 3 :] + sides[: r % 3]:
                side()
    front = "%seedance --wait" if magic else "seedance_widgets.generate(...).wait()"
    extra = {
        "generations": n,
        "front_door": front,
        "first_execution_s": first,
        "calls_by_kind": by_kind,
        "cell_seconds_generations": gen_cells,
        "cell_seconds_plain": plain_cells,
        "note": f"N={n} cells of {front}; calls = creates+gets+uploads+downloads at the emulator; "
        f"cells (median run) {_median_cells(gen_cells)} vs {_median_cells(plain_cells)} s; outside cells "
        f"(kernel start/stop) {_outside(ours, gen_cells):.2f} vs {_outside(base, plain_cells):.2f} s; "
        f"floor (the same notebook showing {n} bare anywidgets instead): "
        f"{statistics.median(floor) / statistics.median(base):.3f}x",
        "floor_s": floor,
    }
    return {
        "rows": [
            {"id": "8a", "value": ours, "baseline_value": base, "extra": extra},
            {"id": "8b", "value": calls},
        ]
    }
