"""A finished job shown again in a new kernel (a re-run served from the cache) shows its static card
at once, and its live JobView takes that output over only once no cell has started for
``Seedance.live_card_delay`` seconds (issue 16, row 8a: a re-run must not pay for widgets while its
cells run). Real kernels (ipykernel 7 and 6) driven over their own channels, so every message the
kernel sends is seen with the time it arrived.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from helpers import KERNELS
from helpers.jupyter_server import isolated_env, kernel_env
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager, start_new_kernel

from seedance_widgets.api import GenerationRequest, SeedanceClient
from seedance_widgets.emulator import Emulator
from seedance_widgets.engine import Job, JobManager

pytestmark = pytest.mark.notebook

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
ROLE_KEY = "seedance_widgets_display"  # widgets._share.ROLE_KEY
PROMPT = "a kingfisher dives into a still pond"
CACHED_CELL = f"%seedance --wait --duration 4 --resolution 480p {PROMPT}"
MESSAGE_TIMEOUT_S = 60.0


class Kernel:
    """A real kernel and its client; every IOPub message is kept with its arrival time."""

    def __init__(self, manager: KernelManager, client: BlockingKernelClient) -> None:
        self.manager = manager
        self.client = client
        self.seen: list[tuple[float, dict[str, Any]]] = []

    def run(self, code: str) -> list[dict[str, Any]]:
        """Execute ``code``; the IOPub messages of that request, up to its idle status."""
        msg_id = self.client.execute(code)
        mine: list[dict[str, Any]] = []
        while True:
            msg = self._next()
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            mine.append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        errors = [m["content"] for m in mine if m["msg_type"] == "error"]
        assert not errors, errors
        return mine

    def wait_for(self, wanted: Any) -> tuple[float, dict[str, Any]]:
        """The first message (already seen or still to come) for which ``wanted(msg)`` is true."""
        for arrived, msg in self.seen:
            if wanted(msg):
                return arrived, msg
        deadline = time.monotonic() + MESSAGE_TIMEOUT_S
        while time.monotonic() < deadline:
            msg = self._next()
            if wanted(msg):
                return self.seen[-1][0], msg
        raise AssertionError("the kernel never sent the awaited message")

    def _next(self) -> dict[str, Any]:
        try:
            msg: dict[str, Any] = self.client.get_iopub_msg(timeout=MESSAGE_TIMEOUT_S)
        except queue.Empty:
            raise AssertionError(f"no message from the kernel in {MESSAGE_TIMEOUT_S} s") from None
        self.seen.append((time.monotonic(), msg))
        return msg


@pytest.fixture
def saved_job(emulator: Emulator, tmp_path: Path) -> Path:
    """A folder whose output folder already holds the cached cell's video; the notebook's cwd."""
    folder = tmp_path / "work"
    client = SeedanceClient(api_key=emulator.api_key, base_url=emulator.base_url)
    with JobManager(folder / "seedance_outputs", client=client, time_scale=20.0) as manager:
        job = manager.submit(GenerationRequest(prompt=PROMPT, duration=4, resolution="480p"))
        assert isinstance(job, Job)
        job.wait(60)
    return folder


@contextmanager
def _start(kernel: str, folder: Path, emulator: Emulator, home: Path, delay: float) -> Iterator[Kernel]:
    env = isolated_env(home, kernel_env(emulator.base_url, emulator.api_key))
    manager, client = start_new_kernel(kernel_name=kernel, cwd=str(folder), env=env, startup_timeout=60)
    try:
        k = Kernel(manager, client)
        k.run(f"%load_ext seedance_widgets\n%config Seedance.live_card_delay = {delay}")
        yield k
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def _displays(msgs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["content"] for m in msgs if m["msg_type"] == "display_data"]


def _comm_open(msg: dict[str, Any]) -> bool:
    return msg["msg_type"] == "comm_open" and msg["content"].get("target_name") == "jupyter.widget"


def _cached_cell_shows_the_card(k: Kernel) -> tuple[str, str]:
    """Run the cached cell: its card and the live widget's place; their display ids (card, place)."""
    shown = _displays(k.run(CACHED_CELL))
    assert len(shown) == 2, shown
    card, place = shown
    assert card["metadata"][ROLE_KEY] == "static"
    assert "<video" in card["data"]["text/html"]
    assert WIDGET_MIME not in card["data"], "the card must show where a widget manager runs too"
    assert place["metadata"][ROLE_KEY] == "live"
    assert place["data"][WIDGET_MIME]["model_id"] == "", "the place shows nothing until the widget comes"
    return card["transient"]["display_id"], place["transient"]["display_id"]


@pytest.mark.parametrize("kernel", KERNELS)
def test_the_card_comes_at_once_and_the_live_view_takes_it_over_when_idle(
    kernel: str, saved_job: Path, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.reset_stats()
    with _start(kernel, saved_job, emulator, tmp_path / "home", delay=0.2) as k:
        card_id, place_id = _cached_cell_shows_the_card(k)

        def update_of(display_id: str) -> Any:
            def wanted(m: dict[str, Any]) -> bool:
                transient = m["content"].get("transient", {})
                return m["msg_type"] == "update_display_data" and transient.get("display_id") == display_id

            return wanted

        _, live = k.wait_for(update_of(place_id))
        model_id = live["content"]["data"][WIDGET_MIME]["model_id"]
        _, opened = k.wait_for(lambda m: _comm_open(m) and m["content"]["comm_id"] == model_id)
        assert opened["content"]["data"]["state"]["state"] == "done", "the widget opens with the job's state"
        assert live["content"]["metadata"][ROLE_KEY] == "live"
        _, twin = k.wait_for(update_of(card_id))
        assert twin["content"]["data"][WIDGET_MIME]["model_id"] == "", "the card becomes the hidden twin"
        assert "<video" in twin["content"]["data"]["text/html"]
        # The live view is the job's one view from now on: showing the job again reuses its model.
        again = _displays(k.run("_"))
        assert [d["data"].get(WIDGET_MIME, {}).get("model_id") for d in again] == [model_id, ""]
    assert emulator.stats()["create"] == 0


@pytest.mark.parametrize("kernel", KERNELS)
def test_cells_that_keep_coming_keep_the_card_static_until_they_stop(
    kernel: str, saved_job: Path, emulator: Emulator, tmp_path: Path
) -> None:
    delay = 1.0
    with _start(kernel, saved_job, emulator, tmp_path / "home", delay=delay) as k:
        _cached_cell_shows_the_card(k)
        started = time.monotonic()
        # Cells one after another, each shorter than the delay, together longer than it: the
        # kernel is free between them, but a cell keeps starting, so the widget must not come.
        while time.monotonic() - started < 2.5 * delay:
            k.run("import time; time.sleep(0.3)")
        # A cell that awaits lets the kernel's loop run while it waits: the timer must not be armed.
        k.run(f"import asyncio; await asyncio.sleep({2.5 * delay})")
        last_cell_done = time.monotonic()
        assert not [m for _, m in k.seen if _comm_open(m)], "the widget came while cells kept running"
        probe = k.run("import sys; print('anywidget' in sys.modules, 'ipywidgets' in sys.modules)")
        assert "False False" in "".join(m["content"].get("text", "") for m in probe)
        arrived, _ = k.wait_for(_comm_open)
        assert arrived > last_cell_done
