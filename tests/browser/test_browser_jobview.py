"""Issue 5 in real JupyterLab 4 and Notebook 7: a `%seedance` cell shows a live JobView whose bar moves
while another cell keeps the kernel busy, whose video plays at the right size, and whose cancel
button stops a job.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import KERNELS, SCREENSHOTS
from helpers.browser import (
    NotebookPage,
    progress_samples,
    wait_moves_while_busy,
    wait_video_playable,
    watch_progress,
)
from helpers.jupyter_server import UIS, JupyterServer, kernel_env
from helpers.notebooks import execute_notebook, write_notebook
from playwright.sync_api import Page, expect

from seedance_widgets.api import OUTPUT_SIZES
from seedance_widgets.emulator import Emulator

# Tasks of about 10 s (quick profile at half speed); the magic's engine is told to poll 4x faster
# than it would the gateway (Seedance.time_scale, its knob for emulators), so the bar gets many
# updates per task and a job is still running when its cancel button is clicked.
EMULATOR_SPEED = 0.5
SETUP = "%load_ext seedance_widgets\n%config Seedance.time_scale = 4.0"
RATIO, RESOLUTION = "9:16", "480p"
BUSY = "import time\nfor _ in range(240):  # about 12 s of a busy kernel\n    time.sleep(0.05)"
JOB_TIMEOUT_MS = 120_000


def magic(prompt: str) -> str:
    return f"%seedance --duration 4 --resolution {RESOLUTION} --ratio {RATIO} {prompt}"


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("ui", UIS)
def test_jobview_moves_while_busy_then_plays(
    ui: str, kernel: str, jupyter: JupyterServer, module_emulator: Emulator, page: Page
) -> None:
    name = f"live-{ui}-{kernel}.ipynb"
    prompt = f"A lighthouse at dusk, waves below ({ui}, {kernel})"
    write_notebook(jupyter.root_dir / name, [SETUP, magic(prompt), BUSY], kernel)
    nb = NotebookPage(page, jupyter, ui, name).open()
    nb.run_cell(0)
    nb.run_cell(1)  # returns at once: the job runs in the background
    job = nb.outputs(1).locator(".seedance-job")
    expect(job).to_be_visible()
    expect(job.locator(".seedance-prompt-text")).to_contain_text("A lighthouse at dusk")
    watch_progress(page, job, "live", busy_prompt=nb.prompt(2))

    nb.run_cell(2, wait=False)
    nb.wait_cell_busy(2)
    wait_moves_while_busy(page, "live", moves=2, timeout_ms=JOB_TIMEOUT_MS)
    if kernel == "python3":
        nb.screenshot(SCREENSHOTS / f"jobview-running-{ui}.png", nb.cell(1))
    values = [s["value"] for s in progress_samples(page, "live")]
    assert values == sorted(values), f"progress went backwards: {values}"

    expect(job).to_have_attribute("data-state", "done", timeout=JOB_TIMEOUT_MS)
    expect(job.locator(".seedance-progress")).to_have_attribute("aria-valuenow", "100")
    # The video is fetched from the kernel over the widget's comm, so it arrives once the busy
    # cell has finished; the wait below covers that.
    facts = wait_video_playable(job.locator("video.seedance-video"), timeout_ms=JOB_TIMEOUT_MS)
    width, height = OUTPUT_SIZES[RESOLUTION][RATIO]
    assert (facts["width"], facts["height"]) == (width, height), facts
    assert facts["readyState"] >= 3
    if kernel == "python3":
        nb.screenshot(SCREENSHOTS / f"jobview-{ui}.png", nb.cell(1))


@pytest.mark.parametrize("ui", UIS)
def test_cancel_second_job_from_its_button(
    ui: str, jupyter: JupyterServer, module_emulator: Emulator, page: Page
) -> None:
    name = f"cancel-{ui}.ipynb"
    cells = [
        SETUP,
        magic(f"A fox crossing a snowy field ({ui})"),
        magic(f"A paper plane over a city ({ui})"),
    ]
    write_notebook(jupyter.root_dir / name, cells)
    nb = NotebookPage(page, jupyter, ui, name).open()
    nb.run_all()
    first = nb.outputs(1).locator(".seedance-job")
    second = nb.outputs(2).locator(".seedance-job")
    expect(second).to_be_visible()
    cancel = second.locator("button.seedance-cancel")
    expect(cancel).to_be_enabled()
    cancel.click()
    expect(second).to_have_attribute("data-state", "cancelled")
    expect(second.locator("button.seedance-cancel")).to_be_hidden()
    # The other job is untouched and finishes.
    expect(first).to_have_attribute("data-state", "done", timeout=JOB_TIMEOUT_MS)
    expect(second).to_have_attribute("data-state", "cancelled")
    nb.screenshot(SCREENSHOTS / f"jobview-cancelled-{ui}.png", nb.cell(2))


@pytest.mark.parametrize("ui", UIS)
def test_a_cached_rerun_shows_the_card_then_the_live_view(
    ui: str, jupyter: JupyterServer, module_emulator: Emulator, page: Page, tmp_path: Path
) -> None:
    """Issue 16 (row 8a): a job already finished when shown plays at once from its static card;
    its live JobView takes that output over once the kernel is idle, and the card hides."""
    cell = magic(f"--wait A heron lifts off a misty river ({ui})")
    made = write_notebook(jupyter.root_dir / f"make-{ui}.ipynb", [SETUP, cell])
    env = kernel_env(module_emulator.base_url, module_emulator.api_key)
    execute_notebook(made, kernel="python3", env=env, home=tmp_path / "home", timeout=180)
    # A new kernel: the same cell is served from the cache. The delay leaves time to see the card.
    name = f"rerun-{ui}.ipynb"
    write_notebook(jupyter.root_dir / name, [f"{SETUP}\n%config Seedance.live_card_delay = 8", cell])
    nb = NotebookPage(page, jupyter, ui, name).open()
    nb.run_cell(0)
    nb.run_cell(1)
    card = nb.outputs(1).locator(".seedance-static")
    expect(card).to_be_visible()
    expect(card).to_have_attribute("data-state", "done")
    # The card's <video> is the file in the output folder, served by Jupyter beside the notebook.
    wait_video_playable(card.locator("video"))
    job = nb.outputs(1).locator(".seedance-job")
    expect(job).to_have_attribute("data-state", "done", timeout=JOB_TIMEOUT_MS)
    expect(card).to_be_hidden()
    facts = wait_video_playable(job.locator("video.seedance-video"), timeout_ms=JOB_TIMEOUT_MS)
    width, height = OUTPUT_SIZES[RESOLUTION][RATIO]
    assert (facts["width"], facts["height"]) == (width, height), facts
