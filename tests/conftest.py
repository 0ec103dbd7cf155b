"""Shared fixtures: a real emulator on a loopback socket, and a clean output folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from seedance_widgets.emulator import Emulator, EmulatorConfig


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fast in-process emulator (tasks finish in well under a second of wall time)."""
    with Emulator(EmulatorConfig(speed=20.0)) as emu:
        yield emu


@pytest.fixture
def emu_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """Point TOAPIS_API_KEY and SEEDANCE_BASE_URL at the test's emulator."""
    monkeypatch.setenv("TOAPIS_API_KEY", emulator.api_key)
    monkeypatch.setenv("SEEDANCE_BASE_URL", emulator.base_url)
    return emulator


@pytest.fixture
def ark_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """Ark mode: ARK_API_KEY and ARK_BASE_URL point at the test's emulator (which serves Ark under
    /api/v3); TOAPIS_API_KEY, SEEDANCE_PROVIDER and the region variables are unset."""
    for name in ("TOAPIS_API_KEY", "SEEDANCE_BASE_URL", "SEEDANCE_PROVIDER", "ARK_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ARK_API_KEY", emulator.api_key)
    monkeypatch.setenv("ARK_BASE_URL", emulator.base_url + "/api/v3")
    return emulator


@pytest.fixture
def tmp_outputs(tmp_path: Path) -> Path:
    """An empty output folder for one test."""
    out = tmp_path / "seedance_outputs"
    out.mkdir()
    return out
