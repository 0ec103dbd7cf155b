"""Fixtures for the widget tests: recording comms, and a job manager on the test's emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import comm
import pytest
from widget_support import SPEED, RecordingComm

from seedance_widgets.api import SeedanceClient
from seedance_widgets.emulator import Emulator
from seedance_widgets.engine.manager import JobManager


@pytest.fixture
def comms(monkeypatch: pytest.MonkeyPatch) -> list[RecordingComm]:
    """Every comm a widget opens during the test is a :class:`RecordingComm`, newest last."""
    made: list[RecordingComm] = []

    def create_comm(*args: Any, **kwargs: Any) -> RecordingComm:
        made.append(RecordingComm(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(comm, "create_comm", create_comm)
    return made


@pytest.fixture
def manager(emulator: Emulator, tmp_outputs: Path) -> Iterator[JobManager]:
    client = SeedanceClient(api_key=emulator.api_key, base_url=emulator.base_url)
    with JobManager(output_dir=tmp_outputs, client=client, time_scale=SPEED) as mgr:
        yield mgr
