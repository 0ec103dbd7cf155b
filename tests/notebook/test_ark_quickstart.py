"""The quickstart notebook, unchanged, in Ark mode (issue 14): a real kernel run by nbclient against
an emulator subprocess whose Ark side (``/api/v3``) ARK_API_KEY and ARK_BASE_URL point at, with
TOAPIS_API_KEY unset (the helpers' isolated environment drops it). What was sent is counted at the
emulator; the key must not reach the saved notebook.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
import requests
from helpers import REPO_ROOT
from helpers.notebooks import execute_notebook, outputs_of, text_of

from seedance_widgets.emulator.launch import EmulatorProcess, spawn_emulator

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

QUICKSTART = REPO_ROOT / "notebooks" / "quickstart.ipynb"
KERNEL = "python3"


@pytest.fixture(scope="module")
def emulator_process() -> Iterator[EmulatorProcess]:
    process = spawn_emulator(speed=20.0)
    try:
        yield process
    finally:
        process.stop()


def _stats(base_url: str) -> dict[str, Any]:
    reply = requests.get(f"{base_url}/_emulator/stats", timeout=10)
    reply.raise_for_status()
    return dict(reply.json())


def _errors(nb: nbformat.NotebookNode) -> list[str]:
    return ["\n".join(o.get("traceback", [])) for o in outputs_of(nb) if o.get("output_type") == "error"]


def test_quickstart_runs_unchanged_against_the_emulator_in_ark_mode(
    emulator_process: EmulatorProcess, tmp_path: Path
) -> None:
    emu = emulator_process
    requests.post(f"{emu.base_url}/_emulator/reset", timeout=10).raise_for_status()
    work = tmp_path / "work"
    work.mkdir()
    path = work / QUICKSTART.name
    shutil.copy(QUICKSTART, path)
    env = {"ARK_API_KEY": emu.api_key, "ARK_BASE_URL": f"{emu.base_url}/api/v3"}
    nb = execute_notebook(path, kernel=KERNEL, env=env, home=tmp_path / "home", timeout=240)
    assert not _errors(nb), _errors(nb)[0]
    assert emu.api_key not in path.read_text(encoding="utf-8"), "the API key reached the notebook"
    stats = _stats(emu.base_url)
    # Four jobs (the line magic, --wait, the cell magic, the form), all to Ark; the dry run sends nothing.
    assert stats["ark_creates"] == 4, stats
    text = text_of(nb)
    assert "Dry run: nothing was sent" in text
    assert "set (from ARK_API_KEY; never shown)" in text  # %seedance config
    assert "Ark (" in text  # the provider and its region
    assert text.count("done · ") == 2  # the two status lines the notebook prints
    assert "billed" in text  # the waited-for jobs report their tokens beside the estimate
    html = "\n".join(str(o.get("data", {}).get("text/html", "")) for o in outputs_of(nb))
    assert "est. ~$" in html  # the finished cards' static twins: estimate and bill side by side
    assert " · billed " in html
    videos = sorted(p.name for p in (work / "seedance_outputs" / "videos").glob("*.mp4"))
    assert any("-a-lighthouse-on-a-cliff" in n for n in videos), videos
    assert any("-a-red-fox-trotting" in n for n in videos), videos
