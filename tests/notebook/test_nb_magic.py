"""`%seedance --wait` in a notebook run by nbclient in real kernels (ipykernel 7 and 6) against the
emulator: the outputs hold the video and its provenance, and a second run makes zero creates.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from helpers import KERNELS
from helpers.jupyter_server import kernel_env
from helpers.notebooks import execute_notebook, outputs_of, write_notebook

from seedance_widgets.emulator import Emulator

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

PROMPT = "A red kite over green hills, slow pan"
CELLS = [
    "%load_ext seedance_widgets",
    f"%seedance --wait --duration 4 --resolution 480p --ratio 1:1 {PROMPT}",
]
PROVENANCE_KEY = "seedance_widgets"  # widgets._display.PROVENANCE_KEY: the output-metadata entry


def _provenance(outputs: list[dict[str, Any]]) -> dict[str, Any]:
    found = [out["metadata"][PROVENANCE_KEY] for out in outputs if PROVENANCE_KEY in out.get("metadata", {})]
    assert found, f"no output carries {PROVENANCE_KEY!r} metadata: {[o.get('metadata') for o in outputs]}"
    return found[-1]


def _has_video(outputs: list[dict[str, Any]]) -> bool:
    for out in outputs:
        data = out.get("data", {})
        if any(mime.startswith("video/") for mime in data) or "<video" in str(data.get("text/html", "")):
            return True
    return False


@pytest.mark.parametrize("kernel", KERNELS)
def test_wait_cell_outputs_video_and_provenance_then_rerun_is_free(
    kernel: str, emulator: Emulator, tmp_path: Path
) -> None:
    nb_path = write_notebook(tmp_path / "work" / "clip.ipynb", CELLS, kernel)
    env = kernel_env(emulator.base_url, emulator.api_key)
    emulator.reset_stats()

    first = execute_notebook(nb_path, kernel=kernel, env=env, home=tmp_path / "home", timeout=180)
    assert emulator.stats()["create"] == 1
    outputs = outputs_of(first)
    assert not [o for o in outputs if o.get("output_type") == "error"], outputs
    assert _has_video(outputs), "the cell's output has no <video> / video/* form"
    prov = _provenance(outputs)
    text = repr(prov)
    assert PROMPT in text
    assert prov.get("task_id"), prov
    # The video the provenance names is on disk beside the notebook, and it is that file.
    videos = list((nb_path.parent / "seedance_outputs" / "videos").glob("*.mp4"))
    assert len(videos) == 1, videos
    digest = hashlib.sha256(videos[0].read_bytes()).hexdigest()
    assert digest in text, f"provenance lacks the video's sha256 {digest}"
    assert emulator.api_key not in nb_path.read_text(encoding="utf-8")

    # A second run of the saved notebook, in a new kernel: shown from the cache, no create.
    emulator.reset_stats()
    second = execute_notebook(nb_path, kernel=kernel, env=env, home=tmp_path / "home", timeout=180)
    assert emulator.stats()["create"] == 0
    assert _has_video(outputs_of(second))
    assert digest in repr(_provenance(outputs_of(second)))
