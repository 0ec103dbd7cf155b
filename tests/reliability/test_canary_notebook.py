"""A canary key through a real kernel: every notebook path that could show it, then the saved files.

The notebook runs with ``%xmode Verbose`` (tracebacks print every frame's locals) and library logging
at DEBUG on the notebook's stderr, and walks the paths where a key could slip out: a finished job, its
reprs and tables, the form's widget state, a job that fails, a 401 from a gateway that refuses the
key (job and direct client), a direct call interrupted by SIGINT while the HTTP library holds the
request, and an error raised from a worker. Then the saved notebook (outputs and widget state), the
output folder and the kernel's own files are searched for the key: zero hits.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from helpers.jupyter_server import isolated_env
from nbclient import NotebookClient

from seedance_widgets.emulator import Emulator, EmulatorConfig

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def strict_gateway() -> Iterator[Emulator]:
    """A gateway that accepts only its own key: the canary earns a 401 there."""
    with Emulator(EmulatorConfig(speed=20.0, api_key="the-only-key-this-gateway-takes")) as emu:
        yield emu


def _cells(strict_url: str) -> list[tuple[str, bool]]:
    """(source, raises) pairs; ``raises`` cells are tagged so the run goes on after their error."""
    return [
        ("%xmode Verbose", False),
        ("import logging\nlogging.basicConfig(level=logging.DEBUG)", False),
        ("%load_ext seedance_widgets", False),
        ("job = %seedance --wait -d 4 --resolution 480p a canary fox in the snow", False),
        ("job", False),
        ("print(repr(job), repr(job.snapshot()), job.snapshot().status_line())", False),
        ("%seedance jobs", False),
        ("%seedance config", False),
        ("from seedance_widgets import SeedanceForm\nSeedanceForm(prompt='a canary form')", False),
        ("%%seedance --wait -d 4 --resolution 480p\nfailme: a canary that fails", True),
        # A gateway that refuses the key: through the engine, then straight from the client.
        (f"%config Seedance.base_url = {strict_url!r}", False),
        ("%seedance --wait -d 4 --resolution 480p a refused canary", True),
        (
            "from seedance_widgets.api import SeedanceClient\n"
            f"SeedanceClient(base_url={strict_url!r}).get('task_canary')",
            True,
        ),
        ("%config Seedance.base_url = None", False),
        # A direct call interrupted mid-request (the gateway holds its reply), as a user's stop does.
        (
            "import os, signal, threading\n"
            "from seedance_widgets.api import SeedanceClient\n"
            "threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()\n"
            "SeedanceClient(timeout=(5, 30)).get(job.task_id)",
            True,
        ),
        ("import sys\nprint(sys.last_value if hasattr(sys, 'last_value') else None)", False),
    ]


def _notebook(strict_url: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for source, raises in _cells(strict_url):
        cell = nbformat.v4.new_code_cell(source)
        if raises:
            cell.metadata["tags"] = ["raises-exception"]
        nb.cells.append(cell)
    return nb


def test_a_canary_key_leaves_no_trace_in_notebook_outputs_state_or_files(
    emulator: Emulator, strict_gateway: Emulator, tmp_path: Path, report: object
) -> None:
    canary = "sk-canary-" + secrets.token_hex(16)
    home = tmp_path / "home"
    work = tmp_path / "work"
    work.mkdir()
    path = work / "canary.ipynb"
    nb = _notebook(strict_gateway.base_url)
    # The interrupted cell's GET is held by the gateway long enough for the SIGINT to land.
    emulator.configure(hang_seconds=20.0)
    env = {"TOAPIS_API_KEY": canary, "SEEDANCE_BASE_URL": emulator.base_url, "SEEDANCE_TIME_SCALE": "20"}
    client = NotebookClient(
        nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(work)}}
    )

    def hang_the_next_get(cell: object, cell_index: int, **_: object) -> None:
        if "signal.SIGINT" in nb.cells[cell_index].source:
            emulator.fail_next("get", "hang")

    client.on_cell_execute = hang_the_next_get
    client.execute(env=isolated_env(home, env))
    nbformat.write(nb, path)

    text = path.read_text()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    names = [o["ename"] for o in errors]
    # The run really went down the error paths it claims to cover.
    assert "KeyboardInterrupt" in names, names
    assert any("Authentication" in n or "Job" in n for n in names), names
    assert "application/vnd.jupyter.widget-state+json" in nb.metadata.get("widgets", {})
    assert strict_gateway.stats()["responses"].get("401", 0) >= 2
    files = [p for p in [*work.rglob("*"), *home.rglob("*")] if p.is_file()]
    hits = [str(p) for p in files if canary.encode() in p.read_bytes()]
    if canary in text:
        hits.append("the saved notebook")
    report.add(  # type: ignore[attr-defined]
        cells=len(nb.cells), errors_shown=len(errors), files_searched=len(files) + 1, key_hits=len(hits)
    )
    assert not hits, f"the canary key was found in: {hits}"
