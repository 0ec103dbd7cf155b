"""Issue 13 in real JupyterLab 4: the form's model picker switches to seedance-2, whose limits rebuild
the controls (1080p and 15 s appear), generates from the emulator and the video plays; and a
``%seedance --model doubao-seedance-2-0 --ref-video <local mp4>`` cell uploads the clip and plays.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import SCREENSHOTS
from helpers.browser import NotebookPage, wait_video_playable
from helpers.jupyter_server import JupyterServer
from helpers.notebooks import write_notebook
from playwright.sync_api import Page, expect

from seedance_widgets.emulator import Emulator
from seedance_widgets.emulator.mp4 import RenderSpec, render_mp4

EMULATOR_SPEED = 4.0
JOB_TIMEOUT_MS = 180_000
TALL = {"width": 1280, "height": 2000}
FORM_CELL = """\
from seedance_widgets.engine import JobManager
from seedance_widgets.widgets import SeedanceForm
form = SeedanceForm(manager=JobManager(output_dir='out-models', time_scale=4.0))
form"""
STATE_CELL = "print('request=%s/%s/%s' % (form.model, form.resolution, form.duration))"


@pytest.fixture(scope="module")
def reference_clip(jupyter: JupyterServer) -> Path:
    """A real 3 s MP4 beside the notebooks (a local reference video for the 2.0 family)."""
    return render_mp4(
        RenderSpec("a reference dance", 320, 240, 3, audio=False, seed=1), jupyter.root_dir / "dance.mp4"
    )


def test_picker_to_seedance_2_at_1080p_and_15_s_plays(
    jupyter: JupyterServer, module_emulator: Emulator, page: Page
) -> None:
    page.set_viewport_size(TALL)
    write_notebook(jupyter.root_dir / "models-form.ipynb", [FORM_CELL, STATE_CELL])
    nb = NotebookPage(page, jupyter, "lab", "models-form.ipynb").open()
    nb.run_cell(0)
    form = nb.outputs(0).locator(".seedance-form")
    expect(form).to_be_visible()
    # Seedance 1.5 Pro first: no 1080p button, the slider stops at 12 s.
    expect(form.locator('button.seedance-resolution[data-value="1080p"]')).to_have_count(0)
    expect(form.locator("input.seedance-duration")).to_have_attribute("max", "12")

    form.locator("select.seedance-model").select_option("seedance-2")
    # The kernel sends seedance-2's limits; the page rebuilds its controls from them.
    expect(form.locator('button.seedance-resolution[data-value="1080p"]')).to_be_visible()
    expect(form.locator("input.seedance-duration")).to_have_attribute("max", "15")
    expect(form.locator(".seedance-model-note")).to_contain_text("Switched to Seedance 2")
    form.locator('button.seedance-resolution[data-value="1080p"]').click()
    form.locator("input.seedance-duration").fill("15")
    expect(form.locator(".seedance-duration-value")).to_have_text("15 s")
    form.locator("textarea.seedance-prompt").fill("A glacier calving into a grey sea, slow aerial shot")
    expect(form.locator(".seedance-estimate")).to_contain_text("$")
    generate = form.locator("button.seedance-generate")
    expect(generate).to_be_enabled()
    nb.run_cell(1)
    expect(nb.outputs(1)).to_contain_text("request=seedance-2/1080p/15")

    generate.click()
    card = form.locator(".seedance-history .seedance-card").first
    expect(card.locator(".seedance-job")).to_have_attribute("data-state", "done", timeout=JOB_TIMEOUT_MS)
    expect(card.locator(".seedance-chips")).to_contain_text("Seedance 2")
    facts = wait_video_playable(card.locator("video.seedance-video"), timeout_ms=JOB_TIMEOUT_MS)
    assert facts["readyState"] >= 2, facts
    assert facts["width"] >= 1900, facts  # 1080p
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    form.screenshot(path=str(SCREENSHOTS / "form-seedance-2-1080p.png"))


def test_a_reference_video_cell_plays(
    jupyter: JupyterServer, module_emulator: Emulator, page: Page, reference_clip: Path
) -> None:
    cells = [
        "%load_ext seedance_widgets\n%config Seedance.time_scale = 4.0\n"
        "%config Seedance.output_dir = 'out-ref'",
        f"%seedance --model doubao-seedance-2-0 --resolution 480p -d 4 --ref-video {reference_clip.name} "
        "a small robot dances like the reference",
    ]
    write_notebook(jupyter.root_dir / "models-ref.ipynb", cells)
    nb = NotebookPage(page, jupyter, "lab", "models-ref.ipynb").open()
    nb.run_cell(0)
    nb.run_cell(1)
    job = nb.outputs(1).locator(".seedance-job")
    expect(job).to_have_attribute("data-state", "done", timeout=JOB_TIMEOUT_MS)
    expect(job.locator(".seedance-chips")).to_contain_text("Seedance 2.0")
    facts = wait_video_playable(job.locator("video.seedance-video"), timeout_ms=JOB_TIMEOUT_MS)
    assert facts["readyState"] >= 2, facts
    assert module_emulator.stats()["upload"] >= 1  # the local clip went up before the create
