"""Issue 15, a first run with no key in a real kernel: the built-in emulator's notice shows once in
the first cell, whichever front door started it (the magic, or the Python API with a JobView), and
nothing reaches the cell's stderr (library logging stays silent unless the user configured it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.notebooks import execute_notebook, outputs_of, write_notebook

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

NOTICE = "built-in offline emulator"
FRONT_DOORS = {
    "magic": [
        "%load_ext seedance_widgets\n%seedance --duration 4 --resolution 480p A paper boat on a rainy street",
        "%seedance --wait --duration 4 --resolution 480p A lighthouse in a storm",
    ],
    "python": [
        "import seedance_widgets as sw\n"
        "from seedance_widgets.widgets import JobView\n"
        'job = sw.generate("A paper boat on a rainy street", duration=4, resolution="480p")\n'
        "JobView(job)",
        "print(job.wait(120).name)\nJobView(job)",
    ],
}


@pytest.mark.parametrize("door", sorted(FRONT_DOORS))
def test_the_notice_shows_once_in_the_first_cell_and_nothing_on_stderr(door: str, tmp_path: Path) -> None:
    path = write_notebook(tmp_path / "work" / "first.ipynb", FRONT_DOORS[door])
    nb = execute_notebook(path, kernel="python3", env={}, home=tmp_path / "home", timeout=180)  # no key
    first = "".join(o.get("text", "") for o in nb.cells[0].outputs if o.get("output_type") == "stream")
    assert first.count(NOTICE) == 1, first
    assert "TOAPIS_API_KEY" in first
    everything = outputs_of(nb)
    shown = sum(str(o.get("text", "")).count(NOTICE) for o in everything)
    shown += sum(str(o.get("data", {}).get("text/plain", "")).count(NOTICE) for o in everything)
    assert shown == 1
    stderr = [
        o.get("text", "")
        for o in everything
        if o.get("output_type") == "stream" and o.get("name") == "stderr"
    ]
    assert stderr == []
    assert not [o for o in everything if o.get("output_type") == "error"]
