"""Start and stop a real Jupyter server (JupyterLab 4 + Notebook 7 front-ends) on a free loopback port."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO

import requests

from . import REPO_ROOT

# The two front-ends one server offers: Notebook 7 registers its handlers as a server extension, so
# `jupyter lab` serves /notebooks/... exactly as `jupyter notebook` would.
UIS: tuple[str, ...] = ("lab", "notebook")


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kernel_env(base_url: str, api_key: str) -> dict[str, str]:
    """Environment variables that point a kernel's seedance_widgets at an emulator."""
    return {"TOAPIS_API_KEY": api_key, "SEEDANCE_BASE_URL": base_url}


def isolated_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """os.environ with Jupyter's per-user state moved under `home`, so no run sees another's settings.

    Kernelspecs still come from the venv's prefix (python3 and seedance-k6). PYTHONPATH holds the
    work tree so kernels import the code under test even before an editable install exists.
    """
    env = dict(os.environ)
    for var in ("TOAPIS_API_KEY", "SEEDANCE_BASE_URL", "JUPYTER_TOKEN", "JUPYTER_PASSWORD"):
        env.pop(var, None)
    for var, sub in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"),
        ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces"),
        ("IPYTHONDIR", "ipython"),
    ):
        path = home / sub
        path.mkdir(parents=True, exist_ok=True)
        env[var] = str(path)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    # The announcement toast ("receive official Jupyter news?") would cover widgets in screenshots.
    write_lab_setting(
        home / "lab-settings", "@jupyterlab/apputils-extension", "notification", {"fetchNews": "false"}
    )
    env.update(extra or {})
    return env


def write_lab_setting(settings_dir: Path, package: str, plugin: str, values: dict[str, object]) -> None:
    """Write a user setting the way JupyterLab stores it (read by Lab and Notebook 7 alike)."""
    target = settings_dir / package / f"{plugin}.jupyterlab-settings"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(values), encoding="utf-8")


class JupyterServer:
    """A `jupyter lab` process: 127.0.0.1, a free port, no token or password, no browser, own root dir."""

    def __init__(self, root_dir: Path, home: Path, env_extra: dict[str, str] | None = None) -> None:
        self.root_dir = root_dir
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "jupyter-server.log"
        self._env = isolated_env(home, env_extra)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def settings_dir(self) -> Path:
        return Path(self._env["JUPYTERLAB_SETTINGS_DIR"])

    def start(self, timeout: float = 60.0) -> JupyterServer:
        jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent)) or "jupyter"
        args = [
            jupyter,
            "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root_dir}",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            # Tests PUT settings (the theme) with plain HTTP; there is no session to protect here.
            "--ServerApp.disable_check_xsrf=True",
            "--LabApp.news_url=",
            "--ServerApp.open_browser=False",
            # window.jupyterapp in both front-ends, as JupyterLab's Galata tests have it: the only
            # place a test can see whether a notebook's session has its kernel yet (see
            # NotebookPage.wait_kernel; the DOM's "idle" indicator shows before any kernel exists).
            "--LabApp.expose_app_in_browser=True",
            "--JupyterNotebookApp.expose_app_in_browser=True",
        ]
        if os.geteuid() == 0:
            args.append("--allow-root")  # CI runs as root in a throwaway machine
        self._log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            args,
            cwd=self.root_dir,
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with requests.Session() as http:
            while time.monotonic() < deadline:
                if self._proc is not None and self._proc.poll() is not None:
                    raise RuntimeError(f"jupyter server exited early; log:\n{self.log_text()}")
                try:
                    if http.get(f"{self.url}/api/status", timeout=2).ok:
                        return
                except requests.ConnectionError:
                    pass
                time.sleep(0.1)  # polling a server that is starting, not waiting on a UI
        raise TimeoutError(f"jupyter server not ready in {timeout}s; log:\n{self.log_text()}")

    def log_text(self) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        # Drop the minified-JS dump jupyter_builder prints when it probes yarn: noise, huge lines.
        return "\n".join(line for line in text.splitlines() if len(line) < 1000)[-20000:]

    def api(self, method: str, path: str, payload: object = None) -> requests.Response:
        """Call the server's REST API (no token needed)."""
        with requests.Session() as http:
            resp = http.request(method, f"{self.url}{path}", json=payload, timeout=30)
        resp.raise_for_status()
        return resp

    def set_theme(self, theme: str) -> None:
        """JupyterLab's theme setting ("JupyterLab Light" / "JupyterLab Dark"); pages load it on open."""
        raw = json.dumps({"theme": theme})
        self.api("PUT", "/lab/api/settings/@jupyterlab/apputils-extension:themes", {"raw": raw})

    def shutdown_kernels(self) -> None:
        for kernel in self.api("GET", "/api/kernels").json():
            self.api("DELETE", f"/api/kernels/{kernel['id']}")

    def notebook_url(self, ui: str, name: str) -> str:
        """The URL that opens `name` (relative to the root dir) in `ui` ("lab" or "notebook")."""
        if ui == "lab":
            # ?reset: start from an empty workspace, no tabs restored from an earlier test.
            return f"{self.url}/lab/tree/{name}?reset"
        if ui == "notebook":
            return f"{self.url}/notebooks/{name}"
        raise ValueError(f"unknown ui {ui!r}; expected one of {UIS}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()  # SIGTERM: the server shuts its kernels down
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> JupyterServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
