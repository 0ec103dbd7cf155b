"""Helpers for the job-engine tests (a uniquely named module: several conftest.py files exist)."""

from __future__ import annotations

import threading

from seedance_widgets.api import GenerationRequest
from seedance_widgets.emulator import Emulator

ENGINE_THREAD_PREFIXES = ("seedance-scheduler", "seedance-worker")


def engine_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(ENGINE_THREAD_PREFIXES)]


def quick_request(prompt: str = "a red kite over green hills", **changes: object) -> GenerationRequest:
    """A small request (480p, 4 s): cheap for the emulator to render."""
    fields: dict[str, object] = {"duration": 4, "resolution": "480p", **changes}
    return GenerationRequest(prompt=prompt, **fields)  # type: ignore[arg-type]


#: Enough refused lookups to cover every lookup a lost create reply makes (2 to 4, by timing).
UNCLEAR_LOOKUPS = 12


def lookups_unclear(emulator: Emulator) -> None:
    """Make the next lookups by client_business_id (GETs) unclear: the gateway answers 402 (not
    a 404, not a task), so a lost create reply stays ``may_exist``. Call
    :func:`clear_faults` once the job has ended, so the leftovers hit no later poll."""
    emulator.fail_next("get", "402", count=UNCLEAR_LOOKUPS)


def clear_faults(emulator: Emulator) -> None:
    emulator.configure(fail_next={})
