"""Fixtures for the job engine: a manager on the test's emulator, and a thread-leak check."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from engine_helpers import engine_threads

from seedance_widgets.api import SeedanceClient
from seedance_widgets.emulator import Emulator
from seedance_widgets.engine import JobManager


@pytest.fixture
def make_manager(emulator: Emulator, tmp_outputs: Path) -> Iterator[Callable[..., JobManager]]:
    """Build managers on the test's emulator (time scaled to its speed); all shut down after,
    and no engine thread may survive them."""
    made: list[JobManager] = []
    before = set(engine_threads())

    def make(output_dir: Path | None = None, **kwargs: object) -> JobManager:
        kwargs.setdefault("time_scale", emulator.config.speed)
        kwargs.setdefault("client", SeedanceClient(api_key=emulator.api_key, base_url=emulator.base_url))
        manager = JobManager(output_dir or tmp_outputs, **kwargs)  # type: ignore[arg-type]
        made.append(manager)
        return manager

    yield make
    for manager in made:
        manager.shutdown()
    leaked = [t.name for t in engine_threads() if t not in before and t.is_alive()]
    assert not leaked, f"engine threads still running after shutdown: {leaked}"


@pytest.fixture
def manager(make_manager: Callable[..., JobManager]) -> JobManager:
    return make_manager()
