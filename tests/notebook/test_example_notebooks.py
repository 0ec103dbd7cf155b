"""The example notebooks in notebooks/: committed clean, and green when run in a real kernel.

Each notebook is copied into a temporary working folder (so its seedance_outputs/ lands there) and
run by nbclient in a real ipykernel against an emulator subprocess (TOAPIS_API_KEY and
SEEDANCE_BASE_URL point at it); requests are counted at the emulator. The quickstart also runs with
no key at all, as a newcomer's first run does (the engine then starts its own emulator).

Each executed notebook is then exported with plain ``jupyter nbconvert --to html`` (nbclient saved the
widget state, the case where nbconvert shows widget views) and opened in Chromium with every http(s)
request aborted: every ``<video>`` on the page plays, and the videos the notebook waited for are there.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
import requests
from helpers import REPO_ROOT
from helpers.browser import CHROMIUM, launch_chromium, open_offline, play_every_video
from helpers.jupyter_server import kernel_env
from helpers.notebooks import execute_notebook, outputs_of, text_of
from playwright.sync_api import Browser, sync_playwright

from seedance_widgets.emulator.launch import EmulatorProcess, spawn_emulator

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

NOTEBOOKS = REPO_ROOT / "notebooks"
EXAMPLES = ("quickstart.ipynb", "image_to_video.ipynb", "experiments.ipynb", "models.ipynb")
KERNEL = "python3"
PROVENANCE_KEY = "seedance_widgets"  # widgets._display.PROVENANCE_KEY
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


class RunningEmulator:
    """An emulator subprocess, counted and reset over its HTTP control endpoints."""

    def __init__(self, process: EmulatorProcess) -> None:
        self.process = process
        self.base_url = process.base_url
        self.api_key = process.api_key

    def stats(self) -> dict[str, Any]:
        reply = requests.get(f"{self.base_url}/_emulator/stats", timeout=10)
        reply.raise_for_status()
        return dict(reply.json())

    def reset_stats(self) -> None:
        requests.post(f"{self.base_url}/_emulator/reset", timeout=10).raise_for_status()


@pytest.fixture(scope="module")
def emulator_process() -> Iterator[RunningEmulator]:
    process = spawn_emulator(speed=20.0)
    try:
        yield RunningEmulator(process)
    finally:
        process.stop()


@pytest.fixture
def emu(emulator_process: RunningEmulator) -> RunningEmulator:
    emulator_process.reset_stats()
    return emulator_process


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """One Chromium for the module's exported pages."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install -y chromium)")
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        yield browser
        browser.close()


def _assert_export_plays(work: Path, name: str, chromium: Browser, must_show: list[str]) -> list[str]:
    """`jupyter nbconvert --to html` of the executed notebook, opened offline: every video plays, and
    one file name per entry of `must_show` (a part of it) is among the videos. Returns the sources."""
    jupyter = str(Path(sys.executable).with_name("jupyter"))
    done = subprocess.run(
        [jupyter, "nbconvert", "--to", "html", name],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    page, _ = open_offline(chromium)
    try:
        page.goto((work / name).with_suffix(".html").resolve().as_uri())
        facts = play_every_video(page)
    finally:
        page.context.close()
    assert facts, "the exported page shows no video"
    bad = [f for f in facts if not (int(str(f["ready"])) >= 2 and f["error"] is None and f["width"])]
    assert not bad, bad
    sources = [str(f["src"]) for f in facts]
    for part in must_show:
        assert any(part in src for src in sources), (part, sources)
    return sources


def _run(
    name: str, work: Path, home: Path, env: dict[str, str], *, copy: bool = True
) -> nbformat.NotebookNode:
    """Run notebooks/<name> as a copy in `work` (its cwd); the saved copy keeps the outputs."""
    path = work / name
    if copy:
        work.mkdir(parents=True, exist_ok=True)
        shutil.copy(NOTEBOOKS / name, path)
    return execute_notebook(path, kernel=KERNEL, env=env, home=home, timeout=240)


def _errors(nb: nbformat.NotebookNode) -> list[str]:
    return ["\n".join(o.get("traceback", [])) for o in outputs_of(nb) if o.get("output_type") == "error"]


def _provenances(nb: nbformat.NotebookNode) -> list[dict[str, Any]]:
    return [o["metadata"][PROVENANCE_KEY] for o in outputs_of(nb) if PROVENANCE_KEY in o.get("metadata", {})]


def _html(nb: nbformat.NotebookNode) -> str:
    return "\n".join(str(o.get("data", {}).get("text/html", "")) for o in outputs_of(nb))


def _widget_count(nb: nbformat.NotebookNode) -> int:
    return sum(1 for o in outputs_of(nb) if WIDGET_MIME in o.get("data", {}))


def _videos(work: Path) -> dict[str, Path]:
    """The saved videos beside the notebook, by sha256 of their bytes."""
    files = (work / "seedance_outputs" / "videos").glob("*.mp4")
    return {hashlib.sha256(f.read_bytes()).hexdigest(): f for f in files}


def _intents(work: Path) -> list[dict[str, Any]]:
    lines = (work / "seedance_outputs" / "ledger.jsonl").read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, filter(None, lines)) if r["event"] == "intent"]


def _assert_clean_run(nb: nbformat.NotebookNode, saved: Path, secret: str | None) -> None:
    assert not _errors(nb), _errors(nb)[0]
    if secret:
        assert secret not in saved.read_text(encoding="utf-8"), "the API key reached the notebook"


# ---- committed state ----------------------------------------------------------------------------


def test_the_example_notebooks_exist() -> None:
    present = {p.name for p in NOTEBOOKS.glob("*.ipynb")}
    assert set(EXAMPLES) <= present


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_committed_notebook_has_no_outputs_and_no_widget_state(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert "widgets" not in nb.metadata, "saved widget state: clear it before committing"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    for cell in nb.cells:
        assert "execution" not in cell.metadata
        if cell.cell_type == "code":
            assert cell.outputs == [], f"outputs in cell {cell.source[:60]!r}"
            assert cell.execution_count is None
        assert "attachments" not in cell or not cell.attachments
    assert nb.cells[0].cell_type == "markdown", "a notebook opens by saying what it shows"


# ---- quickstart ---------------------------------------------------------------------------------


def _assert_waited_videos_saved(videos: dict[str, Path]) -> None:
    """The clips the quickstart waits for are saved (the two it does not wait for may still be
    running when nbclient shuts the kernel down after the last cell)."""
    names = sorted(f.name for f in videos.values())
    assert any("-a-lighthouse-on-a-cliff" in n for n in names), names
    assert any("-a-red-fox-trotting" in n for n in names), names
    assert 2 <= len(videos) <= 4


@pytest.mark.browser
def test_quickstart_against_the_emulator(emu: RunningEmulator, tmp_path: Path, chromium: Browser) -> None:
    work = tmp_path / "work"
    nb = _run("quickstart.ipynb", work, tmp_path / "home", kernel_env(emu.base_url, emu.api_key))
    _assert_clean_run(nb, work / "quickstart.ipynb", emu.api_key)
    # Four jobs: the line magic, --wait, the cell magic, the form; the dry run sends nothing.
    assert emu.stats()["create"] == 4
    videos = _videos(work)
    _assert_waited_videos_saved(videos)
    text = text_of(nb)
    assert "Dry run: nothing was sent" in text
    assert "A steam train crosses a stone bridge" in text
    assert text.count("done · ") == 2  # the two status lines the notebook prints
    assert "saved to seedance_outputs/videos/" in text
    assert "4 jobs" in text  # %seedance jobs
    assert "never shown" in text  # %seedance config: the key only as set / not set
    # Live views: three magic jobs, the `job` cell, and the form.
    assert _widget_count(nb) >= 5
    # The finished `job` cell's static output holds its player and its provenance.
    lighthouse = [p for p in _provenances(nb) if "lighthouse" in json.dumps(p.get("request"))]
    done = [p for p in lighthouse if p["state"] == "done"]
    assert done, lighthouse
    assert done[-1]["sha256"] in videos
    assert done[-1]["seed"] == 7
    assert "<video" in _html(nb)
    # Shared: the waited-for clips (the lighthouse's card, twice, and the fox in the form) play offline.
    _assert_export_plays(
        work, "quickstart.ipynb", chromium, ["-a-lighthouse-on-a-cliff", "-a-red-fox-trotting"]
    )


def test_quickstart_with_no_key_uses_the_built_in_emulator(tmp_path: Path) -> None:
    work = tmp_path / "work"
    nb = _run("quickstart.ipynb", work, tmp_path / "home", {})  # isolated_env drops any key
    _assert_clean_run(nb, work / "quickstart.ipynb", None)
    text = text_of(nb)
    assert "built-in offline emulator" in text
    assert "TOAPIS_API_KEY" in text
    assert "set (from TOAPIS_API_KEY" not in text
    _assert_waited_videos_saved(_videos(work))


# ---- image to video -----------------------------------------------------------------------------


@pytest.mark.browser
def test_image_to_video_against_the_emulator(emu: RunningEmulator, tmp_path: Path, chromium: Browser) -> None:
    work = tmp_path / "work"
    nb = _run("image_to_video.ipynb", work, tmp_path / "home", kernel_env(emu.base_url, emu.api_key))
    _assert_clean_run(nb, work / "image_to_video.ipynb", emu.api_key)
    stats = emu.stats()
    assert stats["create"] == 4
    # The notebook's own images, each kept once under its hash. The --ref job and the Python job
    # run at the same time and share the backdrop, which each may upload (an engine race).
    assert sorted(p.name for p in (work / "frames").iterdir()) == [
        "first.png",
        "last.png",
        "ref_backdrop.jpg",
        "ref_ball.png",
    ]
    assert len(list((work / "seedance_outputs" / "uploads").iterdir())) == 4
    assert 4 <= stats["upload"] <= 5
    roles = [sorted(i["role"] for i in rec.get("images") or []) for rec in _intents(work)]
    assert roles == [
        ["first_frame"],  # %seedance --first
        ["first_frame", "last_frame"],  # %seedance --first --last
        ["reference_image", "reference_image"],  # %seedance --ref --ref
        ["first_frame", "reference_image"],  # generate(first_frame=, references=)
    ]
    videos = _videos(work)
    assert 3 <= len(videos) <= 4  # the --ref job runs in the background: it may still be running
    text = text_of(nb)
    assert "refused:" in text
    assert "at most 4" in text
    assert "nothing sent" in text  # the dry run
    assert any("image/png" in o.get("data", {}) for o in outputs_of(nb))  # the contact sheet
    # Each job's output carries its provenance; the `job` cell shows the finished one with its player.
    provenance = _provenances(nb)
    assert len(provenance) >= 4
    done = {p["sha256"] for p in provenance if p["state"] == "done"}
    assert done
    assert done <= set(videos)
    assert "<video" in _html(nb)
    waited = [
        "-the-red-ball-starts-rolling",
        "-the-ball-rolls-from-left-to-right",
        "-the-red-ball-rolls-towards",
    ]
    _assert_export_plays(work, "image_to_video.ipynb", chromium, waited)


# ---- experiments --------------------------------------------------------------------------------


@pytest.mark.browser
def test_experiments_then_a_second_run_makes_zero_creates(
    emu: RunningEmulator, tmp_path: Path, chromium: Browser
) -> None:
    work = tmp_path / "work"
    env = kernel_env(emu.base_url, emu.api_key)
    nb = _run("experiments.ipynb", work, tmp_path / "home", env)
    _assert_clean_run(nb, work / "experiments.ipynb", emu.api_key)
    assert emu.stats()["create"] == 4  # the 2 x 2 grid; its re-run and the magic sweep are cached
    videos = _videos(work)
    assert len(videos) == 4
    text = text_of(nb)
    assert "4 jobs, about $0.19 (estimate)" in text
    assert "nothing sent: duration" in text  # the bad grid, refused before any create
    assert "4 of 4 jobs from the cache; estimated cost of this run: $0.00" in text
    assert "[True, True]" in text  # the magic's --seeds sweep came from the cache too
    assert "refused:" in text
    assert "Nothing was submitted" in text
    assert _widget_count(nb) >= 1  # the gallery

    # The table: one row per job, with task id, status, cost and file.
    # (a list of dicts shown as a table, or a DataFrame when the kernel has pandas)
    tables = re.findall(r'<table[^>]*class="(?:seedance-grid-table|dataframe)".*?</table>', _html(nb), re.S)
    assert len(tables) == 1
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", tables[0], re.S)
    assert len(rows) == 5  # header + 4 jobs
    for row in rows[1:]:
        assert "task_vid_" in row
        assert "<td>done</td>" in row
    # (a DataFrame's HTML shortens long text: match the 16 hex digits that start each file name)
    assert {digest for digest in videos if digest[:16] in tables[0]} == set(videos)

    # The shared page: self-contained, the four videos inline.
    page = (work / "hummingbird_grid.html").read_text(encoding="utf-8")
    sources = re.findall(r'<video[^>]*\ssrc="([^"]+)"', page)
    assert len(sources) == 4
    inline = {hashlib.sha256(base64.b64decode(src.split(",", 1)[1])).hexdigest() for src in sources}
    assert inline == set(videos)

    # Run the saved notebook again in a new kernel: every video comes from the output folder.
    emu.reset_stats()
    again = _run("experiments.ipynb", work, tmp_path / "home", env, copy=False)
    _assert_clean_run(again, work / "experiments.ipynb", emu.api_key)
    stats = emu.stats()
    assert (stats["create"], stats["get"], stats["download"]) == (0, 0, 0)
    assert "4 of 4 jobs from the cache" in text_of(again)
    assert _videos(work) == videos
    # Shared: the gallery (all four, it waited for them) and the cached sweep play offline.
    sources = _assert_export_plays(work, "experiments.ipynb", chromium, [f.name for f in videos.values()])
    assert len(sources) >= 4 + 2  # the gallery's four cells and the sweep's two cards


# ---- models ---------------------------------------------------------------------------------------

MODEL_IDS = ("doubao-seedance-1-5-pro", "seedance-2", "doubao-seedance-2-0")


@pytest.mark.browser
def test_models_notebook_compares_three_models(
    emu: RunningEmulator, tmp_path: Path, chromium: Browser
) -> None:
    work = tmp_path / "work"
    nb = _run("models.ipynb", work, tmp_path / "home", kernel_env(emu.base_url, emu.api_key))
    _assert_clean_run(nb, work / "models.ipynb", emu.api_key)
    assert emu.stats()["create"] == 3  # one per model; the refusal and the dry run send nothing
    # Every job has its file. The emulator's clip depends on prompt, size, length, sound and seed, not
    # on the model, so two models' clips may be the same bytes, kept once in the output folder.
    files = sorted((work / "seedance_outputs" / "videos").glob("*.mp4"))
    assert 2 <= len(files) <= 3
    text = text_of(nb)
    assert "seedance-2-mini" in text  # %seedance models: the whole catalogue
    assert "no estimate" in text  # seedance-2 at 4k has no list price
    assert "refused:" in text
    assert "tops out at 720p" in text
    assert "Dry run: nothing was sent" in text
    assert _widget_count(nb) >= 1  # the gallery
    # The table: one row per model, each done.
    tables = re.findall(r'<table[^>]*class="(?:seedance-grid-table|dataframe)".*?</table>', _html(nb), re.S)
    assert len(tables) == 1
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", tables[0], re.S)[1:]
    assert len(rows) == 3
    for row, model in zip(rows, MODEL_IDS, strict=True):
        assert model in row
        assert "<td>done</td>" in row
    # Shared: the gallery's three videos play offline.
    _assert_export_plays(work, "models.ipynb", chromium, [f.name for f in files])
