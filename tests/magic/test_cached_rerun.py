"""A re-run served from the cache loads no HTTP stack, no emulator and no form (issue 16).

The first ``%seedance --wait`` cell of a re-run is the whole gap between a notebook of N
generations and the same notebook without them (benchmarks row 8a): whatever it imports that a
saved video does not need is paid on every re-run. A fresh interpreter runs the cell on a folder
whose video is saved, with the gateway's address pointing at a closed port.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from seedance_widgets.api import GenerationRequest, SeedanceClient
from seedance_widgets.emulator import Emulator
from seedance_widgets.engine import Job, JobManager

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "a paper boat drifting down a rain gutter"

_RERUN = f"""
import json, sys
from traitlets.config import Config
from IPython.core.interactiveshell import InteractiveShell
c = Config(); c.HistoryManager.enabled = False
shell = InteractiveShell.instance(config=c)
shell.run_line_magic("load_ext", "seedance_widgets")
job = shell.run_line_magic("seedance", "--wait --duration 4 --resolution 480p {PROMPT}")
loaded = [m for m in ("requests", "seedance_widgets.emulator", "seedance_widgets.api.client",
                      "seedance_widgets.widgets.form") if m in sys.modules]
print(json.dumps({{"from_cache": job.snapshot().from_cache, "state": job.status, "loaded": loaded}}))
"""


def _rerun(out: Path, **env: str) -> dict[str, object]:
    child = {k: v for k, v in os.environ.items() if k not in ("TOAPIS_API_KEY", "SEEDANCE_BASE_URL")}
    child.update(PYTHONPATH=str(ROOT), SEEDANCE_OUTPUT_DIR=str(out), **env)
    proc = subprocess.run(
        [sys.executable, "-c", _RERUN], capture_output=True, text=True, env=child, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_a_cached_cell_needs_no_http_stack_nor_emulator(emulator: Emulator, tmp_outputs: Path) -> None:
    client = SeedanceClient(api_key=emulator.api_key, base_url=emulator.base_url)
    with JobManager(tmp_outputs, client=client, time_scale=20.0) as manager:
        job = manager.submit(GenerationRequest(prompt=PROMPT, duration=4, resolution="480p"))
        assert isinstance(job, Job)
        job.wait(60)
    closed = "http://127.0.0.1:9"  # nothing listens: any call would fail the cell
    with_key = _rerun(tmp_outputs, TOAPIS_API_KEY=emulator.api_key, SEEDANCE_BASE_URL=closed)
    assert with_key == {"from_cache": True, "state": "done", "loaded": []}
    # Without a key the built-in emulator would be the backend: a saved video must not start it.
    assert _rerun(tmp_outputs) == {"from_cache": True, "state": "done", "loaded": []}
