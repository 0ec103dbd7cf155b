"""The display rules in a real ipykernel (run by nbclient), where the displayhook sends execute_result."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from seedance_widgets.emulator import Emulator

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def widget_outputs(cell: nbformat.NotebookNode) -> list[str]:
    """The live views' model ids (a view's static twin has an empty id: widgets/_share.py)."""
    ids = [o["data"][WIDGET_MIME]["model_id"] for o in cell.outputs if WIDGET_MIME in o.get("data", {})]
    return [model_id for model_id in ids if model_id]


@pytest.mark.notebook
def test_one_view_per_cell_and_no_execute_result_in_a_kernel(
    emu_env: Emulator, tmp_outputs: Path, tmp_path: Path
) -> None:
    cells = [
        "%load_ext seedance_widgets\n"
        f"%config Seedance.output_dir = {str(tmp_outputs)!r}\n"
        f"%config Seedance.time_scale = {emu_env.config.speed}",
        "job = %seedance --resolution 480p -d 4 a heron takes off",
        "%seedance --resolution 480p -d 4 a heron takes off",  # the same job, as the cell's value
        "job",
        "print(job.wait(60).name, job.status)",
        "%seedance --dry-run --seed 5 a heron",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    run = nb.cells
    for cell in run:
        assert not [o for o in cell.outputs if o["output_type"] == "error"], cell.outputs
    assert len(widget_outputs(run[1])) == 1
    assert len(widget_outputs(run[2])) == 1
    assert widget_outputs(run[3]) == widget_outputs(run[1])  # the same model, shown again
    for cell in run[1:4]:  # the live view and its static twin
        assert [o["output_type"] for o in cell.outputs] == ["display_data", "display_data"]
    assert "done" in run[4].outputs[0]["text"]
    assert [o["output_type"] for o in run[5].outputs] == ["stream"]
    assert '"seed": 5' in run[5].outputs[0]["text"]
    assert emu_env.stats()["create"] == 1
