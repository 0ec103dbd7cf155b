"""Issue 15 in Chromium: a finished notebook travels, history survives a restart, one notice.

1. A notebook run by nbclient (default settings: it saves the widget state) with a JobView, a
   gallery and a form is exported three ways (plain ``jupyter nbconvert --to html``, ``export_html``
   copying the videos, ``%seedance export --embed``); one Chromium session with every http(s)
   request aborted opens each page and plays every ``<video>`` (readyState >= 2).
2. In JupyterLab: the emulator notice appears once in the first cell and nothing reaches stderr; a
   notebook saved with widget state exports with plain nbconvert and plays offline; after a kernel
   restart a new form lists the folder's job, puts its settings back, and "Generate again (paid)"
   asks in the page before it makes one new task.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from helpers import SCREENSHOTS
from helpers.browser import NotebookPage, open_offline, play_every_video, wait_video_playable
from helpers.jupyter_server import JupyterServer, kernel_env
from helpers.notebooks import execute_notebook, outputs_of, write_notebook
from playwright.sync_api import Browser, Page, expect

from seedance_widgets import export_html
from seedance_widgets.emulator import Emulator

EMULATOR_SPEED = 20.0
JOB_TIMEOUT_MS = 120_000
VIEW_MIME = "application/vnd.jupyter.widget-view+json"
STATE_MIME = "application/vnd.jupyter.widget-state+json"
JUPYTER = str(Path(sys.executable).with_name("jupyter"))

SHARED_CELLS = [
    "import seedance_widgets as sw\n"
    "from seedance_widgets.widgets import JobView, SeedanceForm\n"
    'job = sw.generate("A heron lands on a wooden post", duration=4, resolution="480p")\n'
    "JobView(job)",
    "print(job.wait(120).name)",
    'g = sw.grid(prompts=["A koi pond at dawn", "A koi pond at night"], duration=4, resolution="480p")\ng',
    "print(len(g.wait(120)))",
    'form = SeedanceForm(duration=4, resolution="480p", prompt="A red fox trots through fresh snow")\nform',
    "fox = form.generate()\nprint(fox.wait(120).name)",
]


def _env(emulator: Emulator) -> dict[str, str]:
    return {**kernel_env(emulator.base_url, emulator.api_key), "SEEDANCE_TIME_SCALE": str(EMULATOR_SPEED)}


def _video_files(folder: Path) -> set[Path]:
    return {p.resolve() for p in (folder / "seedance_outputs" / "videos").glob("*.mp4")}


@pytest.fixture(scope="module")
def shared(module_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The notebook run by nbclient, and its three exports."""
    work = tmp_path_factory.mktemp("shared")
    home = work.parent / f"{work.name}-home"
    nb_path = write_notebook(work / "shared.ipynb", SHARED_CELLS)
    nb = execute_notebook(nb_path, kernel="python3", env=_env(module_emulator), home=home, timeout=240)
    magic = write_notebook(
        work / "export_it.ipynb",
        ["%load_ext seedance_widgets\n%seedance export shared.ipynb --embed --out pages/magic.html"],
    )
    ran = execute_notebook(magic, kernel="python3", env=_env(module_emulator), home=home)
    plain = subprocess.run(
        [JUPYTER, "nbconvert", "--to", "html", "shared.ipynb"],
        cwd=work,
        capture_output=True,
        check=False,
        text=True,
        timeout=180,
    )
    assert plain.returncode == 0, plain.stderr
    copied = export_html(nb_path, work / "site" / "page.html")
    return {
        "work": work,
        "nb": nb,
        "magic_text": "".join(o.get("text", "") for o in outputs_of(ran)),
        "pages": {
            "nbconvert": work / "shared.html",
            "copied": copied,
            "embedded": work / "pages" / "magic.html",
        },
    }


def test_exports_of_an_nbclient_run_play_every_video_offline(
    shared: dict[str, Any], browser: Browser
) -> None:
    work: Path = shared["work"]
    nb = shared["nb"]
    # The hard case: nbclient saved the state of every live widget, so nbconvert picks their views.
    state = nb.metadata["widgets"][STATE_MIME]["state"]
    live = [o for o in outputs_of(nb) if o.get("metadata", {}).get("seedance_widgets_display") == "live"]
    assert len(live) == 3  # the JobView, the gallery, the form
    assert all(o["data"][VIEW_MIME]["model_id"] in state for o in live)
    twins = [o for o in outputs_of(nb) if o.get("metadata", {}).get("seedance_widgets_display") == "static"]
    assert [o["data"][VIEW_MIME]["model_id"] for o in twins] == ["", "", ""]
    assert "Wrote pages/magic.html" in shared["magic_text"]
    files = _video_files(work)
    assert len(files) == 4  # heron, two koi, fox

    expected = {"nbconvert": 7, "copied": 7, "embedded": 7}  # 1 card + 2 grid cells + 4 history cards
    page, blocked = open_offline(browser)
    for name, path in shared["pages"].items():
        page.goto(path.resolve().as_uri())
        facts = play_every_video(page)
        assert len(facts) == expected[name], (name, facts)
        assert all(f["ready"] >= 2 and f["width"] > 0 and f["error"] is None for f in facts), (name, facts)
        sources = page.eval_on_selector_all("video", "vs => vs.map(v => v.currentSrc)")
        if name == "embedded":
            assert all(src.startswith("data:video/mp4;base64,") for src in sources)
        else:
            shown = {Path(src.removeprefix("file://")).resolve() for src in sources}
            if name == "nbconvert":
                assert shown == files  # beside the output folder: the notebook's own files
            else:
                assert {p.name for p in shown} == {p.name for p in files}
                assert all(p.parent.name == "page_files" for p in shown)
    page.screenshot(path=str(SCREENSHOTS / "export-embedded.png"), full_page=True)
    assert all(not url.startswith("file:") for url in blocked)
    page.context.close()


# ---- JupyterLab ---------------------------------------------------------------------------------------

NOTICE_CELL = (
    "import os\n"
    'os.environ.pop("TOAPIS_API_KEY", None)\n'
    'os.environ.pop("SEEDANCE_BASE_URL", None)\n'
    "%load_ext seedance_widgets\n"
    "%seedance --dry-run -d 4 --resolution 480p A first run with no key"
)
LAB_CELLS = [
    "import seedance_widgets as sw\n"
    "from seedance_widgets.widgets import JobView, SeedanceForm\n"
    'job = sw.generate("A heron lands on a post at dawn", duration=4, resolution="480p")\n'
    "JobView(job)",
    'from seedance_widgets.widgets import SeedanceForm\nSeedanceForm(duration=4, resolution="480p")',
]


@pytest.fixture
def lab(jupyter: JupyterServer) -> JupyterServer:
    """The module's JupyterLab with "save widget state" on (off by default)."""
    raw = json.dumps({"saveState": True})
    jupyter.api("PUT", "/lab/api/settings/@jupyter-widgets/jupyterlab-manager:plugin", {"raw": raw})
    return jupyter


def _restart_kernel(page: Page) -> None:
    """Kernel > Restart Kernel… > Restart, as a user does (JupyterLab then also drops what it kept
    for the old kernel, such as its comm subshells)."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Kernel$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Restart Kernel")).first.click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator("button.jp-mod-accept").click()
    expect(dialog).to_have_count(0)
    indicator = page.locator(".jp-Notebook-ExecutionIndicator").first
    expect(indicator).not_to_have_attribute("data-status", "idle", timeout=10_000)


def _kernel_id(server: JupyterServer, name: str) -> str:
    sessions = server.api("GET", "/api/sessions").json()
    (kernel,) = [s["kernel"]["id"] for s in sessions if s["path"].endswith(name)]
    return str(kernel)


def test_lab_notice_once_saved_state_export_history_after_restart_and_generate_again(
    lab: JupyterServer, module_emulator: Emulator, page: Page, browser: Browser
) -> None:
    # First run with no key: the notice once in the first cell, nothing on stderr.
    write_notebook(lab.root_dir / "first-run.ipynb", [NOTICE_CELL])
    first = NotebookPage(page, lab, "lab", "first-run.ipynb").open()
    first.run_cell(0)
    text = first.cell(0).locator(".jp-OutputArea").inner_text()
    assert text.count("built-in offline emulator") == 1, text
    assert "Dry run: nothing was sent" in text
    assert first.cell(0).locator('[data-mime-type="application/vnd.jupyter.stderr"]').count() == 0

    # A job shown by a JobView: the live card plays, its static twin stays hidden.
    name = "share-lab.ipynb"
    write_notebook(lab.root_dir / name, LAB_CELLS)
    nb = NotebookPage(page, lab, "lab", name).open()
    nb.run_cell(0)
    card = nb.cell(0).locator(".seedance-job")
    expect(card).to_have_attribute("data-state", "done", timeout=JOB_TIMEOUT_MS)
    wait_video_playable(card.locator("video.seedance-video"), timeout_ms=JOB_TIMEOUT_MS)
    assert nb.cell(0).locator(".seedance-job").count() == 1
    # The twin is the cell's second output: the widget renderer hides it (its model id is empty),
    # so its HTML never reaches the page.
    expect(nb.cell(0).locator(".jp-OutputArea-child")).to_have_count(2)
    expect(nb.cell(0).locator(".jp-OutputArea-child").nth(1).locator(".jp-OutputArea-output")).to_be_hidden()
    assert nb.cell(0).locator(".seedance-static").count() == 0

    # Saved with widget state, exported with plain nbconvert: the video plays offline.
    tab = page.locator(".lm-TabBar-tab.jp-mod-current")
    expect(tab).to_have_class(re.compile(r"\bjp-mod-dirty\b"))  # new outputs: not saved yet
    nb.prompt(0).click()  # command mode in the notebook, where Ctrl+S saves it
    page.keyboard.press("Control+s")
    expect(tab).not_to_have_class(re.compile(r"\bjp-mod-dirty\b"), timeout=30_000)
    saved = nbformat.read(lab.root_dir / name, as_version=4)
    live_id = saved.cells[0].outputs[0]["data"][VIEW_MIME]["model_id"]
    assert live_id in saved.metadata["widgets"][STATE_MIME]["state"]
    convert = subprocess.run(
        [JUPYTER, "nbconvert", "--to", "html", name],
        cwd=lab.root_dir,
        capture_output=True,
        check=False,
        text=True,
        timeout=180,
    )
    assert convert.returncode == 0, convert.stderr
    offline, _ = open_offline(browser)
    offline.goto((lab.root_dir / "share-lab.html").resolve().as_uri())
    facts = play_every_video(offline)
    assert len(facts) == 1
    assert facts[0]["ready"] >= 2
    offline.context.close()

    # A new kernel: the new form lists the folder's job, newest first, and puts its settings back.
    before = int(module_emulator.stats()["create"])
    kernel_id = _kernel_id(lab, name)
    _restart_kernel(page)
    assert _kernel_id(lab, name) == kernel_id  # the same kernel id, a new process
    nb.wait_idle()
    nb.run_cell(1)
    history = nb.cell(1).locator(".seedance-history .seedance-card")
    expect(history).to_have_count(1)
    past = history.first
    expect(past).to_have_attribute("data-state", "done")
    wait_video_playable(past.locator("video.seedance-video"), timeout_ms=JOB_TIMEOUT_MS)
    past.locator("button.seedance-reuse").click()
    expect(nb.cell(1).locator("textarea.seedance-prompt")).to_have_value("A heron lands on a post at dawn")

    # Generate again (paid): the first click only asks; the confirmation makes one new task.
    past.locator("button.seedance-again").click()
    confirm = past.locator(".seedance-again-confirm")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text("(estimate)")
    assert int(module_emulator.stats()["create"]) == before
    nb.screenshot(SCREENSHOTS / "form-generate-again-confirm.png", nb.cell(1))
    confirm.locator("button.seedance-again-yes").click()
    expect(history).to_have_count(2, timeout=JOB_TIMEOUT_MS)
    expect(history.first).to_have_attribute("data-state", "done", timeout=JOB_TIMEOUT_MS)
    assert int(module_emulator.stats()["create"]) == before + 1
