"""Write notebooks with given cells, and execute them in real kernels with nbclient."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

from .jupyter_server import isolated_env

# The display names the kernelspecs carry (python3: ipykernel 7 in .venv; seedance-k6: .venv-k6).
KERNEL_DISPLAY = {"python3": "Python 3 (ipykernel)", "seedance-k6": "Python 3 (ipykernel 6)"}


def make_notebook(cells: Sequence[str], kernel: str = "python3") -> nbformat.NotebookNode:
    """A v4 notebook of code cells (a cell starting with "#md\\n" becomes Markdown) for `kernel`."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": kernel,
        "display_name": KERNEL_DISPLAY.get(kernel, kernel),
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    for source in cells:
        if source.startswith("#md\n"):
            nb.cells.append(nbformat.v4.new_markdown_cell(source.removeprefix("#md\n")))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(source))
    return nb


def write_notebook(path: Path, cells: Sequence[str], kernel: str = "python3") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(make_notebook(cells, kernel), path)
    return path


def execute_notebook(
    path: Path,
    *,
    kernel: str,
    env: dict[str, str],
    home: Path,
    timeout: int = 120,
    save: bool = True,
) -> nbformat.NotebookNode:
    """Run every cell of `path` in a fresh `kernel` whose cwd is the notebook's folder.

    `env` is added to an isolated environment (see isolated_env); errors in cells raise
    nbclient's CellExecutionError. With `save`, the executed notebook is written back, as a user's
    "run all + save" would.
    """
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=kernel,
        timeout=timeout,
        startup_timeout=60,
        resources={"metadata": {"path": str(path.parent)}},
    )
    # Extra keyword arguments reach KernelManager.start_kernel, which takes the kernel's env.
    kernel_kwargs: dict[str, Any] = {"env": isolated_env(home, env)}
    client.execute(**kernel_kwargs)
    if save:
        nbformat.write(nb, path)
    return nb


def outputs_of(nb: nbformat.NotebookNode) -> list[dict[str, Any]]:
    """Every output of every code cell, in order."""
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]


def text_of(nb: nbformat.NotebookNode) -> str:
    """All stream text and text/plain of a notebook's outputs, joined (for assertions)."""
    parts: list[str] = []
    for out in outputs_of(nb):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif "data" in out:
            parts.append(str(out["data"].get("text/plain", "")))
        elif out.get("output_type") == "error":
            parts.append("\n".join(out.get("traceback", [])))
    return "\n".join(parts)
