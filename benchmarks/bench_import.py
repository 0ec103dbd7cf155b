"""Row 5: ``import seedance_widgets`` + ``%load_ext seedance_widgets`` vs ``import anywidget, ipywidgets``.

Each repeat is a fresh interpreter. Both sides first build the same IPython shell (a
kernel already has one), then time only their imports, so interpreter start-up and
IPython itself cancel out. The two sides alternate so machine load hits both alike.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from typing import Any

from ._env import NotMeasured, child_env, run_python

_PRELUDE = """
import json, time
from traitlets.config import Config
from IPython.core.interactiveshell import InteractiveShell
c = Config(); c.HistoryManager.enabled = False
shell = InteractiveShell.instance(config=c)
t0 = time.perf_counter()
"""

OURS = (
    _PRELUDE
    + """
import seedance_widgets
shell.run_line_magic("load_ext", "seedance_widgets")
t1 = time.perf_counter()
ok = "seedance" in shell.magics_manager.magics["line"]
print(json.dumps({"s": t1 - t0, "magic": ok}))
"""
)

BASE = (
    _PRELUDE
    + """
import anywidget, ipywidgets
t1 = time.perf_counter()
print(json.dumps({"s": t1 - t0, "magic": True}))
"""
)


def _top_imports(code: str, env: dict[str, str], n: int = 6) -> list[str]:
    """Largest cumulative imports under ``-X importtime`` (evidence when the target is missed)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, env=env, check=False
    )
    rows: list[tuple[int, str]] = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2].rstrip()
            if name.startswith(" ") and not name.startswith("  "):  # top-level imports only
                rows.append((int(parts[1]), name.strip()))
    rows.sort(reverse=True)
    return [f"{name} {us / 1000:.0f} ms" for us, name in rows[:n]]


def run(quick: bool = False) -> dict[str, Any]:
    repeats = 3 if quick else 15
    row: dict[str, Any] = {
        "id": "5",
        "measure": "import seedance_widgets + %load_ext",
        "baseline": "import anywidget, ipywidgets",
        "unit": "s",
    }
    with tempfile.TemporaryDirectory() as ipydir:
        env = child_env(IPYTHONDIR=ipydir)
        ours: list[float] = []
        base: list[float] = []
        try:
            run_python(OURS, env=env)  # warm the file cache and .pyc files for both sides
            run_python(BASE, env=env)
            for _ in range(repeats):
                a = run_python(OURS, env=env)
                if not a["magic"]:
                    raise NotMeasured(
                        "%load_ext seedance_widgets registered no %seedance magic (not written yet)"
                    )
                ours.append(a["s"])
                base.append(run_python(BASE, env=env)["s"])
        except NotMeasured as exc:
            row["not_measured"] = str(exc)
        row["value"], row["baseline_value"] = ours, base
        if ours and base and not quick:
            row["extra"] = {
                "top_imports_ours": _top_imports(OURS, env),
                "top_imports_base": _top_imports(BASE, env),
            }
    return {"rows": [row]}
