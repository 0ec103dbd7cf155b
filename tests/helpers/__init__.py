"""Test harness shared by the notebook and browser suites (and benchmarks/bench_ui_latency.py).

Real parts only: a real Jupyter server process, real kernels (ipykernel 7 as `python3`, ipykernel 6 as
`seedance-k6`), real Chromium driven by Playwright, the project's emulator on a loopback socket.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# PNGs the browser tests take. By default they go to test-results/ (git-ignored), so a test run never
# changes tracked files; `SEEDANCE_UPDATE_SCREENSHOTS=1 make pytest ARGS='-m browser'` refreshes the
# committed ones under docs/screenshots/ that the README shows.
SCREENSHOTS = (
    REPO_ROOT / "docs" / "screenshots"
    if os.environ.get("SEEDANCE_UPDATE_SCREENSHOTS") == "1"
    else REPO_ROOT / "test-results" / "screenshots"
)

# ipykernel 7 (the main venv's default kernel) and ipykernel 6 (.venv-k6, registered by `make kernels`).
KERNELS: tuple[str, ...] = ("python3", "seedance-k6")
