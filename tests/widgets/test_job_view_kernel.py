"""JobView inside real kernels (ipykernel 7 as ``python3``, ipykernel 6 as ``seedance-k6``).

This is the ipykernel 7 regression check: the job engine's threads update the widget while the
kernel's main thread is busy in another cell, and those updates must reach the client *during*
that cell (not after it). The test is the front-end: a jupyter_client talking ZMQ to the kernel,
reading IOPub and sending the comm messages a browser would send.

Another kernel can be checked too (e.g. ipykernel 7.0.0, the release with the regression):
SEEDANCE_EXTRA_KERNEL_DIRS=/path/to/kernelspec-dir[:...] (each a folder holding kernel.json).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import KERNELS
from helpers.jupyter_server import isolated_env, kernel_env
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

from seedance_widgets.emulator import Emulator

pytestmark = [pytest.mark.notebook, pytest.mark.timeout(120)]

EXTRA_DIRS = [Path(p) for p in os.environ.get("SEEDANCE_EXTRA_KERNEL_DIRS", "").split(os.pathsep) if p]
KERNEL_PARAMS = list(KERNELS) + [str(p) for p in EXTRA_DIRS]


class Frontend:
    """Just enough of a Jupyter front-end: execute cells, record IOPub, send comm messages."""

    def __init__(self, client: BlockingKernelClient) -> None:
        self.client = client
        self.iopub: list[tuple[float, dict[str, Any]]] = []

    def drain(self, until_idle_of: str | None = None, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.client.get_iopub_msg(timeout=0.2)
            except Exception:  # queue.Empty
                if until_idle_of is None:
                    return
                continue
            self.iopub.append((time.monotonic(), msg))
            if (
                until_idle_of is not None
                and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"
                and msg["parent_header"].get("msg_id") == until_idle_of
            ):
                return
        raise AssertionError("kernel did not go idle in time")

    def run(self, code: str) -> tuple[str, float, float]:
        """Execute a cell; return its msg id and when it started and ended (monotonic)."""
        started = time.monotonic()
        msg_id = self.client.execute(code)
        self.drain(until_idle_of=msg_id)
        errors = [
            m for _, m in self.iopub if m["msg_type"] == "error" and m["parent_header"]["msg_id"] == msg_id
        ]
        assert not errors, "\n".join(errors[0]["content"]["traceback"])
        return msg_id, started, time.monotonic()

    def send_custom(self, comm_id: str, content: dict[str, Any]) -> None:
        msg = self.client.session.msg(
            "comm_msg", {"comm_id": comm_id, "data": {"method": "custom", "content": content}}
        )
        self.client.shell_channel.send(msg)

    def of_type(self, msg_type: str) -> list[tuple[float, dict[str, Any]]]:
        return [(at, m) for at, m in self.iopub if m["msg_type"] == msg_type]


@pytest.fixture(params=KERNEL_PARAMS)
def frontend(request: pytest.FixtureRequest, emulator: Emulator, tmp_path: Path) -> Iterator[Frontend]:
    kernel: str = request.param
    if Path(kernel).is_dir():  # an extra kernelspec folder
        manager = KernelManager(kernel_name=Path(kernel).name)
        manager.kernel_spec_manager = KernelSpecManager(kernel_dirs=[str(Path(kernel).parent)])
    else:
        manager = KernelManager(kernel_name=kernel)
    env = isolated_env(tmp_path / "home", kernel_env(emulator.base_url, emulator.api_key))
    manager.start_kernel(env=env, cwd=str(tmp_path))
    client = manager.blocking_client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        yield Frontend(client)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


SETUP = """
from IPython.display import display
from seedance_widgets.api import GenerationRequest, SeedanceClient
from seedance_widgets.engine.manager import JobManager
from seedance_widgets.widgets import JobView
manager = JobManager(output_dir="seedance_outputs", client=SeedanceClient(), time_scale=20)
job = manager.submit(GenerationRequest(prompt="a heron in a misty marsh", duration=4, resolution="480p"))
view = JobView(job)
display(view)
"""


def test_threaded_updates_reach_the_client_while_the_kernel_is_busy(
    frontend: Frontend, tmp_path: Path
) -> None:
    frontend.run(SETUP)
    opens = [m for _, m in frontend.of_type("comm_open") if "_anywidget_id" in m["content"]["data"]["state"]]
    assert len(opens) == 1
    comm_id = opens[0]["content"]["comm_id"]
    displays = [m for _, m in frontend.of_type("display_data") if "text/html" in m["content"]["data"]]
    assert displays, "the view was not displayed with its static fallback"
    display_id = displays[0]["content"]["transient"]["display_id"]
    # Two outputs (widgets/_share.py): the live view (the model's id, a text line, no HTML) and its
    # static twin (an empty model id, which nbconvert skips and JupyterLab hides, and the HTML).
    view_mime = "application/vnd.jupyter.widget-view+json"
    shown = [m["content"] for _, m in frontend.of_type("display_data")]
    assert [c["data"][view_mime]["model_id"] for c in shown] == [comm_id, ""]
    assert [c["metadata"]["seedance_widgets_display"] for c in shown] == ["live", "static"]
    assert "text/html" not in shown[0]["data"]
    live_id = shown[0]["transient"]["display_id"]

    # The main thread sleeps; the engine's threads finish the job meanwhile.
    _, busy_from, busy_to = frontend.run("import time\ntime.sleep(4)")
    updates = [
        (at, m["content"]["data"]["state"])
        for at, m in frontend.of_type("comm_msg")
        if m["content"]["comm_id"] == comm_id and m["content"]["data"].get("method") == "update"
    ]
    during = [state for at, state in updates if busy_from < at < busy_to]
    assert any(state.get("state") == "done" for state in during), (
        f"no 'done' update while the kernel was busy; updates: {[s.get('state') for _, s in updates]}"
    )
    assert any("progress" in state for state in during)
    # The static form was made final by display id, from the worker thread.
    finals = [
        m
        for at, m in frontend.of_type("update_display_data")
        if m["content"]["transient"]["display_id"] == display_id and busy_from < at < busy_to
    ]
    assert finals, "no update_display_data for the view's display id"
    assert "<video" in finals[-1]["content"]["data"]["text/html"]
    assert finals[-1]["content"]["metadata"]["seedance_widgets"]["state"] == "done"
    # The twin follows state changes only, never progress ticks (a saved notebook stays small).
    every = [m for _, m in frontend.of_type("update_display_data")]
    twin_states = [
        m["content"]["metadata"]["seedance_widgets"]["state"]
        for m in every
        if m["content"]["transient"]["display_id"] == display_id
    ]
    assert len(twin_states) == len(set(twin_states)), twin_states
    # The live output's text line is made final once too (a saved notebook never says "running").
    lives = [m["content"] for _, m in frontend.of_type("update_display_data")]
    lives = [c for c in lives if c["transient"]["display_id"] == live_id]
    assert len(lives) == 1
    assert lives[0]["data"][view_mime]["model_id"] == comm_id
    assert "Done" in lives[0]["data"]["text/plain"]
    # Workers never print into the running cell.
    streams = [m["content"]["text"] for _, m in frontend.of_type("stream")]
    assert not any("Traceback" in s or "Exception" in s for s in streams), streams

    # The browser asks for the video; the reply buffers are the file's bytes.
    frontend.send_custom(comm_id, {"kind": "video-request", "id": "from-test"})
    deadline = time.monotonic() + 20
    chunks: dict[int, bytes] = {}
    total = None
    while time.monotonic() < deadline and (total is None or len(chunks) < total):
        frontend.drain()
        for _, m in frontend.of_type("comm_msg"):
            data = m["content"]["data"]
            content = data.get("content", {}) if data.get("method") == "custom" else {}
            if content.get("id") == "from-test":
                assert "error" not in content, content
                total = content["chunks"]
                chunks[content["chunk"]] = bytes(m["buffers"][0])
    assert total is not None, "no video-response"
    videos = list((tmp_path / "seedance_outputs" / "videos").glob("*.mp4"))
    assert len(videos) == 1
    payload = b"".join(chunks[i] for i in range(total))
    assert hashlib.sha256(payload).hexdigest() == hashlib.sha256(videos[0].read_bytes()).hexdigest()
