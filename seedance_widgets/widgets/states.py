"""The job states as people see them: a label, an optional note and a tone (the colour family).

The table is ``contract.json``'s ``states``, read here; js/lib/job_state.js spells the same table and
js/__tests__/contract.test.js checks it against that file, so the page and the kernel cannot drift.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

#: The one file both sides of the widgets are checked against (states, message kinds, card fields).
CONTRACT_PATH: Final = Path(__file__).with_name("contract.json")
TONES: Final = ("active", "ok", "error", "warn", "idle")


@dataclasses.dataclass(frozen=True)
class StateStyle:
    label: str
    tone: str
    final: bool
    #: A few words after the label ("task kept: attach later"), or "".
    note: str = ""


def load_contract() -> dict[str, Any]:
    """``contract.json`` as a dict."""
    return dict(json.loads(CONTRACT_PATH.read_text(encoding="utf-8")))


def _styles(contract: Mapping[str, Any]) -> dict[str, StateStyle]:
    styles = {state: StateStyle(**entry) for state, entry in contract["states"].items()}
    bad = {state: style.tone for state, style in styles.items() if style.tone not in TONES}
    if bad:
        raise ValueError(f"{CONTRACT_PATH}: unknown tone(s) {bad}; use one of {', '.join(TONES)}")
    return styles


#: Every job state's style, by state (seedance_widgets.jobs.JobState values).
STATES: Final[Mapping[str, StateStyle]] = MappingProxyType(_styles(load_contract()))


def state_label(state: str) -> str:
    """What a state reads as: "Generating", "Timed out (task kept: attach later)"; unknown ones verbatim."""
    style = STATES.get(state)
    if style is None:
        return state
    return f"{style.label} ({style.note})" if style.note else style.label


def state_tone(state: str) -> str:
    """The colour family of a state: active, ok, error, warn or idle (unknown ones are active)."""
    style = STATES.get(state)
    return style.tone if style is not None else "active"
