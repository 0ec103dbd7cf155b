"""The browser harness on plain ipywidgets: renders in JupyterLab 4 and Notebook 7, in both kernels,
and a widget updated from a thread moves in the page while another cell keeps the kernel busy.
"""

from __future__ import annotations

import pytest
from helpers import KERNELS
from helpers.browser import NotebookPage
from helpers.jupyter_server import UIS, JupyterServer
from helpers.notebooks import write_notebook
from playwright.sync_api import Page, expect

SLIDER = "import ipywidgets as w\nslider = w.IntSlider(value=7, max=10_000, description='tick')\nslider"
# Updates from a worker thread, as the job engine does: ipykernel 7 broke these at first.
TICKER = """\
import threading, time
def _tick():
    for i in range(1, 10_000):
        time.sleep(0.05)
        slider.value = i
threading.Thread(target=_tick, daemon=True).start()"""
BUSY = "import time\nfor _ in range(200):\n    time.sleep(0.05)"


@pytest.mark.parametrize("ui", UIS)
def test_int_slider_renders(ui: str, jupyter_plain: JupyterServer, page: Page) -> None:
    name = f"slider-{ui}.ipynb"
    write_notebook(jupyter_plain.root_dir / name, [SLIDER])
    nb = NotebookPage(page, jupyter_plain, ui, name).open()
    nb.run_cell(0)
    readout = nb.outputs(0).locator(".widget-readout")
    expect(readout).to_have_text("7")
    expect(nb.outputs(0).locator(".widget-slider")).to_be_visible()


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("ui", UIS)
def test_thread_updates_reach_page_while_kernel_busy(
    ui: str, kernel: str, jupyter_plain: JupyterServer, page: Page
) -> None:
    name = f"ticker-{ui}-{kernel}.ipynb"
    write_notebook(jupyter_plain.root_dir / name, [SLIDER, TICKER, BUSY], kernel)
    nb = NotebookPage(page, jupyter_plain, ui, name).open()
    nb.run_cell(0)
    nb.run_cell(1)
    nb.run_cell(2, wait=False)
    nb.wait_cell_busy(2)
    readout = nb.outputs(0).locator(".widget-readout")
    first = int(readout.inner_text())
    # Two further values while cell 3 still runs: updates flow without the kernel going idle.
    page.wait_for_function(
        "([el, v]) => Number(el.textContent) > v + 2",
        arg=[readout.element_handle(), first],
    )
    assert "*" in nb.prompt(2).inner_text(), "the busy cell finished before the updates were seen"
