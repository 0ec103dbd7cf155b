"""Issue 6 in real JupyterLab 4 and Notebook 7: fill the SeedanceForm, add a local PNG as first frame,
generate, watch progress, play the video, re-use settings, compare two; screenshots light and dark.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import SCREENSHOTS
from helpers.browser import NotebookPage, progress_samples, wait_video_playable, watch_progress
from helpers.jupyter_server import UIS, JupyterServer
from helpers.notebooks import write_notebook
from PIL import Image
from playwright.sync_api import Locator, Page, expect

from seedance_widgets.api import OUTPUT_SIZES

EMULATOR_SPEED = 1.0
# The form's manager is told the emulator's pace (JobManager.time_scale, the engine's documented
# knob for emulators), so a 5 s task is polled often enough to show its progress.
# Each notebook has its own output folder: a new form lists its folder's past jobs (issue 15).
FORM_CELL = """\
from seedance_widgets.engine import JobManager
from seedance_widgets.widgets import SeedanceForm
form = SeedanceForm(manager=JobManager(output_dir={out!r}, time_scale=4.0))
form"""
PY_STATE_CELL = "print('prompt=' + form.prompt)\nprint('jobs=%d' % len(form.jobs))"
JOB_TIMEOUT_MS = 90_000
PRESSED = "aria-pressed"
# Tall enough that the whole form fits: element screenshots then need no scrolling under headers.
TALL = {"width": 1280, "height": 2000}


@pytest.fixture(scope="module")
def first_frame_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local 640x640 PNG (the 1:1 480p frame size): a red square on blue."""
    path = tmp_path_factory.mktemp("images") / "first-frame.png"
    img = Image.new("RGB", (640, 640), (20, 40, 160))
    img.paste((220, 30, 30), (160, 160, 480, 480))
    img.save(path)
    return path


def _open_form(page: Page, jupyter: JupyterServer, ui: str, name: str) -> tuple[NotebookPage, Locator]:
    page.set_viewport_size(TALL)
    write_notebook(jupyter.root_dir / name, [FORM_CELL.format(out=f"out-{Path(name).stem}"), PY_STATE_CELL])
    nb = NotebookPage(page, jupyter, ui, name).open()
    nb.run_cell(0)
    form = nb.outputs(0).locator(".seedance-form")
    expect(form).to_be_visible()
    return nb, form


def _card_job(card: Locator) -> Locator:
    return card.locator(".seedance-job")


def _wait_done_with_progress(page: Page, card: Locator, key: str) -> None:
    job = _card_job(card)
    expect(job).to_be_visible()
    watch_progress(page, job, key)
    expect(job).to_have_attribute("data-state", "done", timeout=JOB_TIMEOUT_MS)
    values = [s["value"] for s in progress_samples(page, key)]
    assert values[-1] == 100, values
    assert any(0 < v < 100 for v in values), f"the bar never showed progress in between: {values}"


@pytest.mark.parametrize("ui", UIS)
def test_form_generate_play_reuse_compare(
    ui: str, jupyter: JupyterServer, page: Page, first_frame_png: Path
) -> None:
    nb, form = _open_form(page, jupyter, ui, f"form-{ui}.ipynb")
    generate = form.locator("button.seedance-generate")
    # Empty prompt: Generate is disabled and the reason is shown.
    expect(generate).to_be_disabled()
    expect(form.locator(".seedance-invalid")).not_to_be_empty()

    prompt = f"A red square drifting over a blue sea ({ui})"
    form.locator("textarea.seedance-prompt").fill(prompt)
    expect(form.locator(".seedance-charcount")).to_contain_text(str(len(prompt)))
    form.locator("input.seedance-duration").fill("4")
    form.locator('button.seedance-ratio[data-ratio="1:1"]').click()
    form.locator('button.seedance-resolution[data-value="480p"]').click()
    expect(form.locator('button.seedance-ratio[data-ratio="1:1"]')).to_have_attribute(PRESSED, "true")
    slot = form.locator('.seedance-slot[data-role="first_frame"]')
    slot.locator('input[type="file"]').set_input_files(str(first_frame_png))
    thumb = slot.locator(".seedance-thumb img")
    expect(thumb).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth === 640", arg=thumb.element_handle())
    expect(form.locator(".seedance-estimate")).to_contain_text("$")
    expect(generate).to_be_enabled()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    form.screenshot(path=str(SCREENSHOTS / f"form-filled-light-{ui}.png"))

    # The page's edits are the kernel's traits (one source of truth).
    nb.run_cell(1)
    expect(nb.outputs(1)).to_contain_text(f"prompt={prompt}")

    generate.click()
    cards = form.locator(".seedance-history .seedance-card")
    expect(cards).to_have_count(1)
    _wait_done_with_progress(page, cards.first, "form-1")
    facts = wait_video_playable(cards.first.locator("video.seedance-video"), timeout_ms=JOB_TIMEOUT_MS)
    assert (facts["width"], facts["height"]) == OUTPUT_SIZES["480p"]["1:1"], facts

    # Change the settings, then bring the first card's back.
    form.locator("textarea.seedance-prompt").fill("something else entirely")
    form.locator('button.seedance-ratio[data-ratio="16:9"]').click()
    expect(form.locator('button.seedance-ratio[data-ratio="16:9"]')).to_have_attribute(PRESSED, "true")
    cards.first.locator("button.seedance-reuse").click()
    expect(form.locator("textarea.seedance-prompt")).to_have_value(prompt)
    expect(form.locator('button.seedance-ratio[data-ratio="1:1"]')).to_have_attribute(PRESSED, "true")
    expect(form.locator('button.seedance-resolution[data-value="480p"]')).to_have_attribute(PRESSED, "true")

    # A second take with the re-used settings, a fixed seed this time: newest card first.
    form.locator('button.seedance-seed-mode[data-value="fixed"]').click()
    form.locator("input.seedance-seed").fill("1234")
    expect(generate).to_be_enabled()
    # Ctrl+Enter in the prompt generates, and only that: the notebook must not re-run the cell.
    count_before = nb.prompt(0).inner_text()
    form.locator("textarea.seedance-prompt").press("Control+Enter")
    expect(cards).to_have_count(2)
    assert nb.prompt(0).inner_text() == count_before, "Ctrl+Enter in the form also re-ran its cell"
    _wait_done_with_progress(page, cards.first, "form-2")
    expect(cards.first).to_contain_text("1234")
    nb.run_cell(1)
    expect(nb.outputs(1)).to_contain_text("jobs=2")

    # Compare the two, with synchronised playback.
    for i in range(2):
        cards.nth(i).locator("input.seedance-compare-pick").check()
    compare = form.locator(".seedance-compare")
    videos = compare.locator("video")
    expect(videos).to_have_count(2)
    all_videos = compare.element_handle().evaluate_handle("c => Array.from(c.querySelectorAll('video'))")
    page.wait_for_function("vs => vs.every(v => v.readyState >= 1)", arg=all_videos, timeout=JOB_TIMEOUT_MS)
    compare.locator(".seedance-compare-play").click()
    # Both play, and together (within a few frames of each other).
    page.wait_for_function(
        """vs => vs.every(v => !v.paused && v.readyState >= 3 && v.currentTime > 0.3)
              && Math.abs(vs[0].currentTime - vs[1].currentTime) < 0.25""",
        arg=all_videos,
        timeout=JOB_TIMEOUT_MS,
    )
    form.screenshot(path=str(SCREENSHOTS / f"form-light-{ui}.png"))


@pytest.fixture
def dark_theme(jupyter: JupyterServer) -> Iterator[None]:
    jupyter.set_theme("JupyterLab Dark")
    yield
    jupyter.set_theme("JupyterLab Light")


@pytest.mark.parametrize("ui", UIS)
def test_form_dark_theme(ui: str, jupyter: JupyterServer, page: Page, dark_theme: None) -> None:
    name = f"form-dark-{ui}.ipynb"
    cells = [
        "from seedance_widgets.engine import JobManager\nfrom seedance_widgets.widgets import SeedanceForm\n"
        f"form = SeedanceForm(manager=JobManager(output_dir='out-dark-{ui}', time_scale=4.0), "
        "prompt='Night market in the rain, "
        "neon signs reflected in puddles', duration=6, aspect_ratio='21:9', resolution='480p')\n"
        "form.generate()\nform",
    ]
    write_notebook(jupyter.root_dir / name, cells)
    page.set_viewport_size(TALL)
    nb = NotebookPage(page, jupyter, ui, name).open()
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false")
    nb.run_cell(0)
    form = nb.outputs(0).locator(".seedance-form")
    expect(form.locator(".seedance-history .seedance-card")).to_have_count(1)
    expect(_card_job(form.locator(".seedance-card").first)).to_have_attribute(
        "data-state", "done", timeout=JOB_TIMEOUT_MS
    )
    # The form follows the theme: its background is dark, its text light.
    colors = form.evaluate(
        """f => {
            const s = getComputedStyle(f);
            const t = getComputedStyle(f.querySelector('.seedance-prompt'));
            return [s.backgroundColor, t.color, t.backgroundColor];
        }"""
    )
    assert _luminance(colors[1]) > 128, f"prompt text is not light on the dark theme: {colors}"
    video = form.locator(".seedance-card video.seedance-video").first
    wait_video_playable(video, timeout_ms=JOB_TIMEOUT_MS)
    video.evaluate("v => { v.pause(); v.currentTime = 1.0; }")
    page.wait_for_function("v => !v.seeking && v.readyState >= 2", arg=video.element_handle())
    form.screenshot(path=str(SCREENSHOTS / f"form-dark-{ui}.png"))


def _luminance(css_color: str) -> float:
    """Relative brightness 0-255 of an rgb()/rgba() string (a transparent colour counts as dark)."""
    nums = [float(x) for x in re.findall(r"[\d.]+", css_color)]
    if len(nums) == 4 and nums[3] == 0:
        return 0.0
    r, g, b = nums[:3]
    return 0.299 * r + 0.587 * g + 0.114 * b
