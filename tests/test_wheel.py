"""The wheel carries the built front-end.

The build runs on a copy of the source tree WITHOUT seedance_widgets/static/ and node_modules/, so
it passes only if `python -m build --wheel` itself runs the npm build hook (npm install + esbuild)
and hatch packs the git-ignored bundles.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOT_COPIED = shutil.ignore_patterns(
    ".git",
    ".venv*",
    "node_modules",
    "static",
    "__pycache__",
    "seedance_outputs",
    "dist",
    "build",
    "*.egg-info",
)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_wheel_builds_and_contains_the_bundles(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(REPO, source, ignore=NOT_COPIED)
    assert not (source / "seedance_widgets" / "static").exists()
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("seedance_widgets-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        bundles = {n for n in names if n.startswith("seedance_widgets/static/")}
        for required in ("job_view.js", "job_view.css", "form.js"):
            assert f"seedance_widgets/static/{required}" in bundles, sorted(bundles)
        # Every top-level js/*.js became a bundle: an ES module with a default export.
        for entry in (REPO / "js").glob("*.js"):
            name = f"seedance_widgets/static/{entry.name}"
            assert name in bundles, sorted(bundles)
            text = archive.read(name).decode()
            assert "export" in text
            assert "default" in text
        # Sources, tests and node_modules stay out of the wheel.
        assert not [n for n in names if n.startswith(("js/", "node_modules/", "tests/"))]
