"""Test harness shared by the notebook and browser suites (and benchmarks/bench_ui_latency.py).

Real parts only: a real Jupyter server process, real kernels (ipykernel 7 as `python3`, ipykernel 6 as
`seedance-k6`), real Chromium driven by Playwright, the project's emulator on a loopback socket.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# PNGs the browser tests write for the README (committed).
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"

# ipykernel 7 (the main venv's default kernel) and ipykernel 6 (.venv-k6, registered by `make kernels`).
KERNELS: tuple[str, ...] = ("python3", "seedance-k6")
