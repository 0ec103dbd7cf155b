"""Helpers for the job-engine tests (a uniquely named module: several conftest.py files exist)."""

from __future__ import annotations

import threading

from seedance_widgets.api import GenerationRequest

ENGINE_THREAD_PREFIXES = ("seedance-scheduler", "seedance-worker")


def engine_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(ENGINE_THREAD_PREFIXES)]


def quick_request(prompt: str = "a red kite over green hills", **changes: object) -> GenerationRequest:
    """A small request (480p, 4 s): cheap for the emulator to render."""
    fields: dict[str, object] = {"duration": 4, "resolution": "480p", **changes}
    return GenerationRequest(prompt=prompt, **fields)  # type: ignore[arg-type]
