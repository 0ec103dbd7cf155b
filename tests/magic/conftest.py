"""A real IPython shell with the extension loaded, pointed at the test's emulator.

As IPython's own tests and jupysql do: the singleton ``InteractiveShell`` (``display()``
publishes through it), history off, and errors re-raised from ``run_cell`` so a test
sees the UsageError itself. The shell's display publisher is swapped for IPython's
capturing one and the displayhook's writes are recorded, so a test can see every output.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from magic_session import Session, make_session

from seedance_widgets.emulator import Emulator

#: What ``open_shell`` gives: open the shell on this emulator, for a ``with`` block.
OpenShell = Callable[[Emulator], contextlib.AbstractContextManager[Session]]


@pytest.fixture
def open_shell(
    tmp_outputs: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> OpenShell:
    """Opens the shell on an emulator, in a temporary working directory, with the emulator's speed
    as time scale (``ip`` and ``ark_ip`` differ only in which side of the emulator the keys name)."""

    @contextlib.contextmanager
    def open_(emu: Emulator) -> Iterator[Session]:
        monkeypatch.chdir(tmp_path)
        with make_session(capsys, monkeypatch) as session:
            session.run(f"%config Seedance.output_dir = {str(tmp_outputs)!r}")
            session.run(f"%config Seedance.time_scale = {emu.config.speed}")
            yield session

    return open_


@pytest.fixture
def ip(emu_env: Emulator, open_shell: OpenShell) -> Iterator[Session]:
    """The shell on the ToAPIs side of the emulator (``emu_env``)."""
    with open_shell(emu_env) as session:
        yield session


@pytest.fixture
def ark_ip(ark_env: Emulator, open_shell: OpenShell) -> Iterator[Session]:
    """The shell in Ark mode (only ARK_API_KEY set, ``ark_env``). Faults a test left on the emulator
    are cleared before the shell shuts down, so its shutdown is never held by one."""
    with open_shell(ark_env) as session:
        yield session
        ark_env.configure(fail_next={})


@pytest.fixture
def png(tmp_path: Path) -> Path:
    """A small real PNG image on disk."""
    from PIL import Image

    path = tmp_path / "frame.png"
    Image.new("RGB", (64, 36), (200, 80, 40)).save(path)
    return path
