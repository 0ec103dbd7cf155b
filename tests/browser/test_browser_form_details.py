"""SeedanceForm details in real JupyterLab 4 / Notebook 7 (Chromium) that the main browser test
(test_browser_form.py) does not cover: Ctrl+Enter typed straight after the prompt generates with the
whole prompt and does not re-run the cell; a narrow output has no sideways scrolling and stacks the
summary under the form."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.browser import NotebookPage
from helpers.jupyter_server import UIS, JupyterServer
from helpers.notebooks import write_notebook
from playwright.sync_api import Page, expect

EMULATOR_SPEED = 4.0
# Each notebook has its own output folder: a new form lists its folder's past jobs (issue 15).
FORM_CELL = """\
from seedance_widgets.engine import JobManager
from seedance_widgets.widgets import SeedanceForm
form = SeedanceForm(manager=JobManager(output_dir={out!r}, time_scale=4.0), duration=4, resolution="480p")
form"""
CHECK_CELL = "print('jobs=%d prompt=%s' % (len(form.jobs), form.jobs[0].request.prompt))"


def _open(page: Page, jupyter: JupyterServer, ui: str, name: str, width: int) -> NotebookPage:
    page.set_viewport_size({"width": width, "height": 1000})
    write_notebook(jupyter.root_dir / name, [FORM_CELL.format(out=f"out-{Path(name).stem}"), CHECK_CELL])
    nb = NotebookPage(page, jupyter, ui, name).open()
    nb.run_cell(0)
    return nb


@pytest.mark.parametrize("ui", UIS)
def test_ctrl_enter_right_after_typing_generates_the_whole_prompt(
    ui: str, jupyter: JupyterServer, page: Page
) -> None:
    nb = _open(page, jupyter, ui, f"ctrl-enter-{ui}.ipynb", 1280)
    form = nb.outputs(0).locator(".seedance-form")
    count_before = nb.prompt(0).text_content()
    form.locator("textarea.seedance-prompt").click()
    prompt = "a heron wading at dusk, reeds swaying"
    page.keyboard.type(prompt)
    page.keyboard.press("Control+Enter")  # no pause: the last keystrokes may still be in flight
    expect(form.locator(".seedance-card")).to_have_count(1)
    expect(form.locator(".seedance-card .seedance-prompt-text")).to_have_text(f"“{prompt}”")
    assert nb.prompt(0).text_content() == count_before  # the cell was not run again
    nb.run_cell(1)
    expect(nb.outputs(1)).to_contain_text(f"jobs=1 prompt={prompt}")


def test_narrow_output_has_no_sideways_scroll(jupyter: JupyterServer, page: Page) -> None:
    nb = _open(page, jupyter, "notebook", "narrow.ipynb", 520)
    form = nb.outputs(0).locator(".seedance-form")
    expect(form).to_be_visible()
    scroll, client = form.evaluate("f => [f.scrollWidth, f.clientWidth]")
    assert scroll <= client, (scroll, client)
    # One column: the summary sits under the prompt, not beside it.
    prompt_box = form.locator("textarea.seedance-prompt").bounding_box()
    summary_box = form.locator(".seedance-summary").bounding_box()
    assert prompt_box is not None
    assert summary_box is not None
    assert summary_box["y"] > prompt_box["y"] + prompt_box["height"]
    for role in ("first_frame", "last_frame", "reference_image"):
        expect(form.locator(f'.seedance-slot[data-role="{role}"]')).to_be_visible()
