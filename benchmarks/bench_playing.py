"""Completion -> playing: a 12 s 720p clip with audio, from the gateway's "completed" to the JobView's
`<video>` reaching readyState >= 3 in Chromium, vs `curl -o` of the same file in the same run.

Real parts end to end: the emulator on a loopback socket (in this process, so its state can say
exactly when each task became completed), a `jupyter lab` server, a real kernel (ipykernel 7)
whose default manager polls with its default (adaptive) policy at real time (time_scale 1, emulator
speed 1, "quick" profile: ~5 s tasks), Debian's Chromium driven by Playwright.

Clocks: one machine, one wall clock. t_completed = the emulator task's completion instant
(`created_wall + done_mono - created_mono`, the moment its status turned "completed"); the kernel
stamps each job state it first sees with time.time() (a subscriber registered before the JobView);
the page stamps with Date.now() the card's `data-video` changes (loading / loaded) and the video's
`canplay` event (readyState >= 3), as row 7 does. The value is t_canplay - t_completed (s).

Baseline: `curl -s -o FILE URL` of the same task's file right after, `%{time_total}` (s).

Downloads are throttled by the emulator (`download_bytes_per_second`, both for the engine and curl)
so the transfer lasts as long as the gateway's real file would: the emulator's clip of a 12 s 720p
request is ~0.5 MB (synthetic frames compress well) where the gateway's is ~4-6 MB, fetched at
~20 Mbit/s in ~2 s; unthrottled, curl takes a few milliseconds on loopback and the row would
compare the poll interval with nothing. `extra` shows the breakdown: poll lag (completed -> the
engine noticed), download (noticed -> done, file checked and saved), kernel -> page (done -> blob
made in the page), decode (blob -> canplay).

    .venv/bin/python benchmarks/bench_playing.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers.browser import CHROMIUM, NotebookPage, launch_chromium
from helpers.jupyter_server import JupyterServer, kernel_env
from helpers.notebooks import write_notebook
from playwright.sync_api import expect, sync_playwright

from seedance_widgets.emulator import Emulator, EmulatorConfig

TARGET_RATIO = 1.5
#: The gateway's 12 s 720p clip (~5 MB) at ~20 Mbit/s takes ~2 s: the emulator's ~0.5 MB clip at
#: this rate takes as long (see the module docstring).
DOWNLOAD_BYTES_PER_SECOND = 250_000
JOB_TIMEOUT_MS = 180_000

SETUP = """\
import json, time
import seedance_widgets as sw
from seedance_widgets.widgets import JobView
def recorder():
    marks = {}
    def mark(snap):
        marks.setdefault(str(snap.state.value if hasattr(snap.state, "value") else snap.state), time.time())
    return marks, mark"""
START = """\
marks, mark = recorder()
job = sw.generate({prompt!r}, duration={duration}, resolution="720p", audio=True, rerun=True)
job.subscribe(mark)
JobView(job)"""
FINISH = """\
job.wait(timeout=300)
with open({path!r}, "w") as fh:
    json.dump({{"marks": marks, "task_id": job.task_id}}, fh)"""

# Page stamps: the card's data-video changes and the player's canplay (readyState >= 3).
WATCH = """
([root, key]) => {
  const w = { loading: null, loaded: null, canplay: null, readyState: null };
  (window.__playing = window.__playing || {})[key] = w;
  const onAttr = () => {
    const state = root.dataset.video;
    if (state && w[state] === null) w[state] = Date.now();
  };
  new MutationObserver(onAttr).observe(root, { attributes: true, attributeFilter: ["data-video"] });
  root.addEventListener("canplay", (e) => {
    if (w.canplay === null) { w.canplay = Date.now(); w.readyState = e.target.readyState; }
  }, true);
  onAttr();
}
"""


def _completed_at(emu: Emulator, task_id: str) -> float:
    """The wall-clock instant the emulator's task turned "completed" (its state's own record)."""
    import time

    record = emu._state.tasks[task_id]  # the bench owns this emulator; its state is the referee
    _status, _progress, done_mono = record.snapshot(time.monotonic())
    if done_mono is None:
        raise RuntimeError(f"task {task_id} is not completed in the emulator")
    return record.created_wall + (done_mono - record.created_mono)


def _curl_seconds(url: str, dest: Path) -> float:
    out = subprocess.run(
        ["curl", "-s", "-f", "-o", str(dest), "-w", "%{time_total}", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return float(out.stdout.strip())


def measure_once(emu: Emulator, server: JupyterServer, browser: Any, i: int, duration: int) -> dict[str, Any]:
    """One job in a fresh kernel and page; returns the stamps and the breakdown (s)."""
    name = f"playing-{i}.ipynb"
    marks_file = f"playing-marks-{i}.json"
    cells = [
        SETUP,
        START.format(prompt=f"playing probe #{i}", duration=duration),
        FINISH.format(path=marks_file),
    ]
    write_notebook(server.root_dir / name, cells)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        nb = NotebookPage(page, server, "lab", name).open()
        nb.run_cell(0)
        nb.run_cell(1)
        card = nb.outputs(1).locator(".seedance-job")
        expect(card).to_be_visible()
        page.evaluate(WATCH, [card.element_handle(), str(i)])
        nb.run_cell(2, timeout_ms=JOB_TIMEOUT_MS)
        page.wait_for_function(f"() => window.__playing[{str(i)!r}].canplay !== null", timeout=JOB_TIMEOUT_MS)
        stamps = page.evaluate(f"() => window.__playing[{str(i)!r}]")
    finally:
        context.close()
        server.shutdown_kernels()
    kernel = json.loads((server.root_dir / marks_file).read_text())
    task_id = kernel["task_id"]
    completed = _completed_at(emu, task_id)
    marks = kernel["marks"]
    curl_s = _curl_seconds(f"{emu.base_url}/files/videos/{task_id}.mp4", server.root_dir / f"curl-{i}.mp4")
    size = (server.root_dir / f"curl-{i}.mp4").stat().st_size
    noticed = marks.get("downloading", marks.get("done"))
    done = marks["done"]
    page_s = {k: float(v) / 1000.0 for k, v in stamps.items() if k != "readyState" and v is not None}
    canplay = page_s["canplay"]
    loaded = page_s.get("loaded", canplay)
    loading = page_s.get("loading")
    return {
        "completed_to_playing_s": round(canplay - completed, 3),
        "curl_s": round(curl_s, 3),
        "bytes": size,
        "poll_lag_s": round(noticed - completed, 3),
        "download_s": round(done - noticed, 3),
        "kernel_to_page_s": round(loaded - done, 3),
        "page_request_after_done_s": round(loading - done, 3) if loading is not None else None,
        "decode_s": round(canplay - loaded, 3),
        "ready_state": stamps["readyState"],
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Row 15 (see the module docstring); `quick`: one 4 s clip instead of three 12 s ones."""
    if not Path(CHROMIUM).exists():
        from benchmarks._env import NotMeasured

        raise NotMeasured(f"{CHROMIUM} is missing (make test / make bench install it)")
    from benchmarks._env import tool

    tool("curl")
    repeats, duration = (1, 4) if quick else (3, 12)
    runs: list[dict[str, Any]] = []
    config = EmulatorConfig(speed=1.0, profile="quick", download_bytes_per_second=DOWNLOAD_BYTES_PER_SECOND)
    with tempfile.TemporaryDirectory(prefix="bench-playing-") as tmp:
        base = Path(tmp)
        (base / "root").mkdir()
        with Emulator(config) as emu:
            env = kernel_env(emu.base_url, emu.api_key)
            with JupyterServer(base / "root", base / "home", env) as server, sync_playwright() as pw:
                browser = launch_chromium(pw)
                try:
                    for i in range(repeats):
                        runs.append(measure_once(emu, server, browser, i, duration))
                finally:
                    browser.close()

    def med(key: str) -> float | None:
        values = [r[key] for r in runs if isinstance(r.get(key), (int, float))]
        return round(statistics.median(values), 3) if values else None

    breakdown = {k: med(k) for k in ("poll_lag_s", "download_s", "kernel_to_page_s", "decode_s")}
    note = (
        f"{duration} s 720p + audio ({med('bytes')} B) at {DOWNLOAD_BYTES_PER_SECOND / 1e3:g} kB/s; "
        f"median poll lag {breakdown['poll_lag_s']} s, download {breakdown['download_s']} s, "
        f"kernel->page {breakdown['kernel_to_page_s']} s, decode {breakdown['decode_s']} s"
    )
    row = {
        "id": "15",
        "value": [r["completed_to_playing_s"] for r in runs],
        "baseline_value": [r["curl_s"] for r in runs],
        "extra": {"note": note, "breakdown_median_s": breakdown, "runs": runs},
    }
    return {"rows": [row]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one 4 s clip")
    print(json.dumps(run(quick=parser.parse_args().quick), indent=2))


if __name__ == "__main__":
    main()
