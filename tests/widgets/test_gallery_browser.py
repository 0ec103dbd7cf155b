"""The Gallery in real JupyterLab 4 and Notebook 7 (Chromium): a 2x2 grid of prompts x seeds from
jobs on the emulator, live progress per cell, every cell's video playable from the kernel's bytes.
Writes docs/screenshots/gallery-<ui>.png for the README."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import SCREENSHOTS
from helpers.browser import CHROMIUM, NotebookPage, launch_chromium, wait_video_playable
from helpers.jupyter_server import UIS, JupyterServer, kernel_env
from helpers.notebooks import write_notebook
from playwright.sync_api import Browser, Page, expect, sync_playwright

from seedance_widgets.api import OUTPUT_SIZES
from seedance_widgets.emulator import Emulator, EmulatorConfig

pytestmark = pytest.mark.browser

PROMPTS = ("a fox in the snow", "a paper boat at dawn")
GRID_CELL = f"""\
from seedance_widgets.api import GenerationRequest
from seedance_widgets.jobs import JobManager
from seedance_widgets.widgets import Gallery
manager = JobManager(time_scale=4.0)
jobs = [manager.submit(GenerationRequest(prompt=p, seed=s, duration=4, resolution="480p"))
        for p in {PROMPTS!r} for s in (1, 2)]
Gallery(jobs, rows="prompt", cols="seed")"""
JOB_TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    with Emulator(EmulatorConfig(speed=4.0, profile="quick")) as emu:
        base = tmp_path_factory.mktemp("gallery-jupyter")
        (base / "root").mkdir()
        with JupyterServer(base / "root", base / "home", kernel_env(emu.base_url, emu.api_key)) as server:
            yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    with sync_playwright() as pw:
        chromium = launch_chromium(pw)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, jupyter: JupyterServer) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()
    jupyter.shutdown_kernels()


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
