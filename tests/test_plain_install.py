"""A plain install (no `emulator` extra) with no key: the first job fails at once, in one line that
names both ways out, instead of a bare ModuleNotFoundError from deep inside.

The venv holds only the package's required dependencies (no PyAV, Starlette, uvicorn...), and the
package is imported from the work tree.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from seedance_widgets.backend import EMULATOR_MODULES

REPO = Path(__file__).resolve().parents[1]
# Distribution name -> import name, where they differ.
_IMPORT_NAMES = {"pillow": "PIL", "python-multipart": "multipart"}


def _requirement_name(spec: str) -> str:
    return spec.split(">", 1)[0].split("=", 1)[0].split("<", 1)[0].split("[", 1)[0].strip().lower()


def test_the_emulator_module_list_is_the_emulator_extra() -> None:
    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"][
        "emulator"
    ]
    names = [_IMPORT_NAMES.get(n, n) for n in map(_requirement_name, extra)]
    assert sorted(names) == sorted(EMULATOR_MODULES)


@pytest.fixture(scope="module")
def plain_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("plain") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *deps],
        check=True,
        timeout=600,
    )
    return python


def _run(python: Path, code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TOAPIS_API_KEY", "SEEDANCE_BASE_URL")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, env=env, timeout=120, check=False
    )


@pytest.mark.slow
def test_generate_without_key_or_emulator_says_both_ways_out(plain_python: Path, tmp_path: Path) -> None:
    check = _run(
        plain_python, "import importlib.util as u; print(u.find_spec('av'), u.find_spec('starlette'))"
    )
    assert check.stdout.strip() == "None None", "the plain venv must not have the emulator's modules"
    result = _run(
        plain_python,
        f"import os; os.chdir({str(tmp_path)!r})\n"
        "import seedance_widgets as sw\n"
        "try:\n"
        "    sw.generate('a lighthouse at dusk')\n"
        "except Exception as err:\n"
        "    print(type(err).__name__, '|', err)\n",
    )
    assert result.returncode == 0, result.stderr
    name, _, message = result.stdout.strip().partition(" | ")
    assert name == "NoBackendError", result.stdout + result.stderr
    assert "\n" not in message
    assert "TOAPIS_API_KEY" in message
    assert "pip install 'seedance_widgets[emulator]'" in message
    assert "ModuleNotFoundError" not in result.stderr


@pytest.mark.slow
def test_the_magic_says_the_same_as_a_usage_error(plain_python: Path, tmp_path: Path) -> None:
    result = _run(
        plain_python,
        f"import os; os.chdir({str(tmp_path)!r})\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "from IPython.core.error import UsageError\n"
        "ip = InteractiveShell.instance()\n"
        "ip.run_line_magic('load_ext', 'seedance_widgets')\n"
        "try:\n"
        "    ip.run_line_magic('seedance', 'a lighthouse at dusk')\n"
        "except UsageError as err:\n"
        "    print('UsageError |', err)\n",
    )
    assert result.returncode == 0, result.stderr
    name, _, message = result.stdout.strip().rpartition("\n")[2].partition(" | ")
    assert name == "UsageError", result.stdout + result.stderr
    assert "TOAPIS_API_KEY" in message
    assert "seedance_widgets[emulator]" in message
