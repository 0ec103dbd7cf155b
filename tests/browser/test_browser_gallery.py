"""The Gallery in real JupyterLab 4 and Notebook 7 (Chromium): a 2x2 grid of prompts x seeds from
jobs on the emulator, live progress per cell, every cell's video playable from the kernel's bytes.
Writes docs/screenshots/gallery-<ui>.png for the README."""

from __future__ import annotations

import pytest
from helpers import SCREENSHOTS
from helpers.browser import NotebookPage, wait_video_playable
from helpers.jupyter_server import UIS, JupyterServer
from helpers.notebooks import write_notebook
from playwright.sync_api import Page, expect

from seedance_widgets.api import OUTPUT_SIZES

EMULATOR_SPEED = 4.0
PROMPTS = ("a fox in the snow", "a paper boat at dawn")
GRID_CELL = f"""\
from seedance_widgets.api import GenerationRequest
from seedance_widgets.engine import JobManager
from seedance_widgets.widgets import Gallery
manager = JobManager(time_scale=4.0)
jobs = [manager.submit(GenerationRequest(prompt=p, seed=s, duration=4, resolution="480p"))
        for p in {PROMPTS!r} for s in (1, 2)]
Gallery(jobs, rows="prompt", cols="seed")"""
JOB_TIMEOUT_MS = 90_000


@pytest.mark.parametrize("ui", UIS)
def test_gallery_grid_shows_progress_then_plays_every_cell(
    ui: str, jupyter: JupyterServer, page: Page
) -> None:
    name = f"gallery-{ui}.ipynb"
    write_notebook(jupyter.root_dir / name, [GRID_CELL])
    nb = NotebookPage(page, jupyter, ui, name).open()
    nb.run_cell(0)
    gallery = nb.outputs(0).locator(".seedance-gallery")
    expect(gallery).to_be_visible()
    expect(gallery.locator(".seedance-gallery-row-label")).to_have_text(list(PROMPTS))
    expect(gallery.locator(".seedance-gallery-col-label")).to_have_text(["seed 1", "seed 2"])
    cells = gallery.locator(".seedance-gallery-cell")
    expect(cells).to_have_count(4)
    # Each cell holds its own job card, with a progress bar until its job is done.
    expect(gallery.locator(".seedance-job")).to_have_count(4)
    expect(gallery.locator(".seedance-gallery-title")).to_have_text("4 of 4 done", timeout=JOB_TIMEOUT_MS)
    for i in range(4):
        cell = cells.nth(i)
        expect(cell.locator(".seedance-job")).to_have_attribute("data-state", "done")
        facts = wait_video_playable(cell.locator("video.seedance-video"), timeout_ms=JOB_TIMEOUT_MS)
        assert (facts["width"], facts["height"]) == OUTPUT_SIZES["480p"]["16:9"], facts
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    gallery.screenshot(path=str(SCREENSHOTS / f"gallery-{ui}.png"))
