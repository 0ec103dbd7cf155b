"""A real IPython shell with the extension loaded, pointed at the test's emulator.

As IPython's own tests and jupysql do: the singleton ``InteractiveShell`` (``display()``
publishes through it), history off, and errors re-raised from ``run_cell`` so a test
sees the UsageError itself. The shell's display publisher is swapped for IPython's
capturing one and the displayhook's writes are recorded, so a test can see every output.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from magic_session import Session, make_session

from seedance_widgets.emulator import Emulator


@pytest.fixture
def ip(
    emu_env: Emulator,
    tmp_outputs: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Session]:
    """The shell, in a temporary working directory, with the emulator's speed as time scale."""
    monkeypatch.chdir(tmp_path)
    with make_session(capsys, monkeypatch) as session:
        session.run(f"%config Seedance.output_dir = {str(tmp_outputs)!r}")
        session.run(f"%config Seedance.time_scale = {emu_env.config.speed}")
        yield session


@pytest.fixture
def png(tmp_path: Path) -> Path:
    """A small real PNG image on disk."""
    from PIL import Image

    path = tmp_path / "frame.png"
    Image.new("RGB", (64, 36), (200, 80, 40)).save(path)
    return path
