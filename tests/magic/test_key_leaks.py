"""The API key never shows in what a notebook saves, even under ``%xmode Verbose``.

A verbose traceback prints the variables of every frame it shows. Frames of the HTTP library
hold the request's headers (``Authorization: Bearer <key>``), so a call interrupted inside
that library (the user presses Stop while the gateway holds its reply) must surface with a
traceback that ends in our own frames. These tests drive a real ``InteractiveShell`` the way
a kernel does, interrupt a real call with a real SIGINT while it waits inside the HTTP stack,
and search the traceback the shell produced (what ipykernel would save in the notebook).
"""

from __future__ import annotations

import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from seedance_widgets.api import GenerationRequest, SeedanceClient
from seedance_widgets.emulator import Emulator

#: A key unlike any other string, so finding it anywhere means it leaked.
CANARY = "sk-canary-" + secrets.token_hex(16)
SMALL = GenerationRequest(
    "a canary in a verbose traceback", duration=4, aspect_ratio="1:1", resolution="480p"
)


class Shell:
    """A real InteractiveShell in verbose mode, recording every traceback it shows."""

    def __init__(self, shell: InteractiveShell) -> None:
        self.shell = shell
        self.tracebacks: list[str] = []

    def run(self, code: str) -> Any:
        return self.shell.run_cell(code, store_history=False)


@pytest.fixture
def verbose_shell(monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> Iterator[Shell]:
    monkeypatch.setenv("TOAPIS_API_KEY", CANARY)
    monkeypatch.setenv("SEEDANCE_BASE_URL", emulator.base_url)
    config = Config()
    config.HistoryManager.enabled = False
    InteractiveShell.clear_instance()
    shell = InteractiveShell.instance(config=config)
    session = Shell(shell)
    original = shell._showtraceback

    def record(etype: type[BaseException], evalue: BaseException, stb: list[str]) -> None:
        # ``stb`` is exactly what ipykernel sends to the front-end and the notebook saves.
        session.tracebacks.append("\n".join(stb))
        original(etype, evalue, stb)

    monkeypatch.setattr(shell, "_showtraceback", record)
    assert session.run("%xmode Verbose").success
    try:
        yield session
    finally:
        InteractiveShell.clear_instance()


def interrupt_main_when(ready: Callable[[], bool], limit: float = 20.0) -> threading.Thread:
    """A thread that sends a real SIGINT to the main thread once ``ready()`` holds."""
    main = threading.main_thread().ident
    assert main is not None
    assert threading.current_thread() is threading.main_thread()

    def watch() -> None:
        deadline = time.monotonic() + limit
        while not ready():
            if time.monotonic() > deadline:
                return  # the test's own assertions report that no interrupt happened
            time.sleep(0.01)
        signal.pthread_kill(main, signal.SIGINT)

    thread = threading.Thread(target=watch, name="interrupter", daemon=True)
    thread.start()
    return thread


def check_traceback(session: Shell, capsys: pytest.CaptureFixture[str]) -> str:
    assert len(session.tracebacks) == 1, session.tracebacks
    shown = session.tracebacks[0]
    printed = capsys.readouterr()
    everything = "\n".join([shown, printed.out, printed.err])
    assert "KeyboardInterrupt" in shown
    # Verbose mode really printed variables (so a header dict in a frame would have shown).
    assert "self" in shown
    assert " = " in shown or "\x1b[34m= " in shown
    assert CANARY not in everything
    # No frame of the HTTP stack is shown at all: its frames hold the request headers.
    for library in ("urllib3", "requests/", "http/client.py", "socket.py"):
        assert library not in shown, f"a frame of {library} reached the traceback"
    return shown


@pytest.mark.reliability
def test_a_get_interrupted_while_the_gateway_holds_its_reply_shows_no_key(
    verbose_shell: Shell, emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.configure(hang_seconds=30.0)
    emulator.fail_next("get", "hang")
    waiting = interrupt_main_when(lambda: emulator.stats()["get"] >= 1)
    result = verbose_shell.run(
        "from seedance_widgets.api import SeedanceClient\nSeedanceClient().get('task_vid_held')"
    )
    waiting.join()
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    shown = check_traceback(verbose_shell, capsys)
    assert "GET" in shown  # our message says which call was interrupted


@pytest.mark.reliability
def test_a_create_interrupted_in_flight_shows_no_key_and_says_the_task_may_exist(
    verbose_shell: Shell, emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.configure(hang_seconds=30.0)
    emulator.fail_next("create", "hang")
    verbose_shell.shell.user_ns["request"] = SMALL
    waiting = interrupt_main_when(lambda: emulator.stats()["create"] >= 1)
    result = verbose_shell.run(
        "from seedance_widgets.api import SeedanceClient\nSeedanceClient().create(request)"
    )
    waiting.join()
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    shown = check_traceback(verbose_shell, capsys)
    assert "may exist" in shown
    assert emulator.stats()["tasks"] == 1  # the gateway really made it: the warning is due


@pytest.mark.reliability
def test_a_download_interrupted_mid_body_shows_no_key_and_leaves_no_file(
    verbose_shell: Shell, emulator: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with SeedanceClient(CANARY, emulator.base_url) as client:
        task = client.create(SMALL)
        while not task.is_final:
            task = client.get(task.id)
    assert task.video_url
    emulator.configure(slow_bytes_per_second=20_000.0)
    emulator.fail_next("download", "slow")
    receiving = threading.Event()
    verbose_shell.shell.user_ns.update(
        url=task.video_url, dest=tmp_path / "clip.mp4", receiving=lambda got, total: receiving.set()
    )
    waiting = interrupt_main_when(receiving.is_set)
    result = verbose_shell.run(
        "from seedance_widgets.api import SeedanceClient\n"
        "SeedanceClient().download(url, dest, progress=receiving, chunk_size=1024)"
    )
    waiting.join()
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    check_traceback(verbose_shell, capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # neither the video nor a .part
