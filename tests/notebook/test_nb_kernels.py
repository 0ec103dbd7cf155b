"""The nbclient harness itself: a notebook runs in both real kernels (ipykernel 7 and 6)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import KERNELS
from helpers.notebooks import execute_notebook, text_of, write_notebook

pytestmark = pytest.mark.notebook


@pytest.mark.parametrize("kernel", KERNELS)
def test_notebook_runs_in_each_kernel(kernel: str, tmp_path: Path) -> None:
    nb_path = write_notebook(
        tmp_path / "nb" / "smoke.ipynb",
        [
            "import ipykernel, os\nprint('ipykernel', ipykernel.__version__.split('.')[0])",
            "print('cwd', os.getcwd())\nprint('base', os.environ['SEEDANCE_BASE_URL'])",
        ],
        kernel,
    )
    nb = execute_notebook(
        nb_path,
        kernel=kernel,
        env={"SEEDANCE_BASE_URL": "http://127.0.0.1:9/", "TOAPIS_API_KEY": "k"},
        home=tmp_path / "home",
    )
    text = text_of(nb)
    assert f"ipykernel {'7' if kernel == 'python3' else '6'}" in text
    assert f"cwd {nb_path.parent}" in text
    assert "base http://127.0.0.1:9/" in text
