"""Time from a progress change in the kernel to the JobView's bar showing it in the browser.

Real parts end to end: the emulator on a loopback socket, a `jupyter lab` server, a real kernel
(ipykernel 7 and 6), Debian's Chromium driven by Playwright. In the kernel, a subscriber registered
on the job BEFORE the JobView stamps each new progress value with time.time(); in the page, a
MutationObserver stamps each new aria-valuenow of `.seedance-progress` with Date.now(). Same machine,
same clock: latency = page stamp - kernel stamp for the same value. Target: <= 250 ms.

    .venv/bin/python benchmarks/bench_ui_latency.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers.browser import (
    CHROMIUM,
    NotebookPage,
    launch_chromium,
    progress_samples,
    watch_progress,
)
from helpers.jupyter_server import JupyterServer, kernel_env
from helpers.notebooks import write_notebook
from playwright.sync_api import expect, sync_playwright

from seedance_widgets.emulator import Emulator, EmulatorConfig

TARGET_MS = 250.0
# The kernel's manager is told the emulator's pace (JobManager.time_scale, the documented knob for
# emulators), so it polls densely and each job yields many progress changes to time.
TIME_SCALE = 4.0
MARKS_FILE = "latency-marks-{tag}.json"

SETUP = """\
import json, time
import seedance_widgets as sw
from seedance_widgets.engine import default_manager
from seedance_widgets.widgets import JobView
default_manager().time_scale = {scale}
def recorder():
    marks, last = [], [None]
    def mark(snap):
        if snap.progress != last[0]:
            last[0] = snap.progress
            marks.append([snap.progress, time.time()])
    return marks, mark"""
# One recorder per job; it subscribes first, so its stamp precedes the view's trait assignment.
START = """\
marks, mark = recorder()
job = sw.generate({prompt!r}, duration=4, resolution="480p", rerun=True)
job.subscribe(mark)
JobView(job)"""
FINISH = """\
job.wait(timeout=120)
with open({path!r}, "w") as fh:
    json.dump(marks, fh)"""


def _latencies(marks: list[list[float]], samples: list[dict[str, Any]]) -> list[float]:
    """Match kernel marks to page samples by value; ms between them (the first page sample is the
    value already shown when the watch began, so it is not a change and is skipped)."""
    seen = {int(s["value"]): float(s["t"]) for s in samples[1:]}
    out: list[float] = []
    for value, t_kernel in marks:
        t_page = seen.get(int(value))
        if t_page is not None:
            out.append(t_page - t_kernel * 1000.0)
    return out


def measure(server: JupyterServer, page_factory: Any, ui: str, kernel: str, jobs: int) -> list[float]:
    """Run `jobs` jobs in one notebook in `ui` with `kernel`; return every latency in ms."""
    tag = f"{ui}-{kernel}"
    cells = [SETUP.format(scale=TIME_SCALE)]
    for i in range(jobs):
        cells += [
            START.format(prompt=f"latency probe {tag} #{i}"),
            FINISH.format(path=MARKS_FILE.format(tag=f"{tag}-{i}")),
        ]
    name = f"latency-{tag}.ipynb"
    write_notebook(server.root_dir / name, cells, kernel)
    page = page_factory()
    nb = NotebookPage(page, server, ui, name).open()
    nb.run_cell(0)
    result: list[float] = []
    for i in range(jobs):
        start_cell = 1 + 2 * i
        nb.run_cell(start_cell)
        job = nb.outputs(start_cell).locator(".seedance-job")
        expect(job).to_be_visible()
        key = f"{tag}-{i}"
        watch_progress(page, job, key)
        nb.run_cell(start_cell + 1, timeout_ms=180_000)
        expect(job).to_have_attribute("data-state", "done")
        marks = json.loads((server.root_dir / MARKS_FILE.format(tag=key)).read_text())
        result += _latencies(marks, progress_samples(page, key))
    page.context.close()
    server.shutdown_kernels()
    return result


def _summary(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "median_ms": None, "p95_ms": None, "max_ms": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "n": len(values),
        "median_ms": round(statistics.median(values), 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(max(values), 1),
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Measure the latency; `quick`: one job in JupyterLab with ipykernel 7, else every UI x kernel.

    Returns benchmarks/README.md's shape: row "7" with every latency in ms, the summary in "extra".
    """
    if not Path(CHROMIUM).exists():
        from benchmarks._env import NotMeasured

        raise NotMeasured(f"{CHROMIUM} is missing (make test / make bench install it)")
    every = [(ui, kernel) for ui in ("lab", "notebook") for kernel in ("python3", "seedance-k6")]
    combos = [("lab", "python3")] if quick else every
    jobs = 1 if quick else 2
    per_combo: dict[str, dict[str, float | int | None]] = {}
    everything: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp:
        base = Path(tmp)
        (base / "root").mkdir()
        # 10 s tasks (quick profile at half speed): several progress changes per job.
        with Emulator(EmulatorConfig(speed=0.5, profile="quick")) as emu:
            env = kernel_env(emu.base_url, emu.api_key)
            with JupyterServer(base / "root", base / "home", env) as server, sync_playwright() as pw:
                browser = launch_chromium(pw)

                def new_page() -> Any:
                    return browser.new_context(viewport={"width": 1280, "height": 900}).new_page()

                for ui, kernel in combos:
                    values = measure(server, new_page, ui, kernel, jobs)
                    per_combo[f"{ui}/{kernel}"] = _summary(values)
                    everything += values
                browser.close()
    overall = _summary(everything)
    extra = {
        "note": "kernel progress change -> .seedance-progress aria-valuenow in Chromium, same clock",
        "target_ms": TARGET_MS,
        **overall,
        "by_ui_kernel": per_combo,
    }
    row: dict[str, Any] = {"id": "7", "value": [round(v, 2) for v in everything], "extra": extra}
    if not everything:
        row["not_measured"] = "no progress change reached the page"
    return {"rows": [row]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one job, JupyterLab, ipykernel 7")
    print(json.dumps(run(quick=parser.parse_args().quick), indent=2))


if __name__ == "__main__":
    main()
