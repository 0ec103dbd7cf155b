"""Issue 12: the kernel side and the page side of the widgets speak one contract.

``seedance_widgets/widgets/contract.json`` holds the job states (label, note, tone, final), the
custom message kinds and the card's data fields. The Python side reads its state table from it and is
checked against it here (with js/lib/messages.js, which this test reads too); js/__tests__/
contract.test.js checks the JS tables against the same file. No other source file spells a kind.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import REPO_ROOT

from seedance_widgets.api import GenerationRequest
from seedance_widgets.engine.state import FINAL_STATES, STATE_LABELS, JobSnapshot, JobState
from seedance_widgets.widgets import JobView, _cards, messages, states

CONTRACT = states.load_contract()
JS_DIR = REPO_ROOT / "js"
#: The only files that may spell a message kind.
KIND_HOMES = {REPO_ROOT / "seedance_widgets" / "widgets" / "messages.py", JS_DIR / "lib" / "messages.js"}


def job_states() -> set[str]:
    return {value for name, value in vars(JobState).items() if name.isupper()}


def test_every_job_state_has_one_style_and_the_status_line_uses_the_same_words() -> None:
    assert set(CONTRACT["states"]) == job_states()
    assert {s for s, style in states.STATES.items() if style.final} == set(FINAL_STATES)
    assert set(STATE_LABELS) == job_states()
    for state, style in states.STATES.items():
        assert style.tone in states.TONES, state
        assert STATE_LABELS[state] == style.label.lower(), state
    assert states.state_label(JobState.TIMED_OUT) == "Timed out (task kept: attach later)"
    assert states.state_label("made-up") == "made-up"
    assert states.state_tone("made-up") == "active"


def test_python_message_kinds_are_the_contracts() -> None:
    assert CONTRACT["messages"] == messages.ALL_KINDS
    assert len(set(CONTRACT["messages"].values())) == len(CONTRACT["messages"])


def test_js_message_kinds_are_the_contracts() -> None:
    source = (JS_DIR / "lib" / "messages.js").read_text("utf-8")
    exported = dict(re.findall(r'^export const (MSG_[A-Z_]+) = "([^"]+)";$', source, re.M))
    assert exported == CONTRACT["messages"]


def _sources() -> list[Path]:
    python = sorted((REPO_ROOT / "seedance_widgets").rglob("*.py"))
    js = [
        p
        for p in sorted(JS_DIR.rglob("*.js"))
        if "__tests__" not in p.parts and "node_modules" not in p.parts
    ]
    return [p for p in [*python, *js] if p not in KIND_HOMES]


_QUOTED = re.compile(r"""["'`]([a-z-]+)["'`]""")
#: A literal given as a message's kind: ``kind: "x"``, ``"kind": "x"``, ``kind === "x"``, ``kind != 'x'``.
_AS_KIND = re.compile(r"""kind["'`]?\)?\s*(?:[:=]|[!=]==?)\s*["'`]([a-z-]+)["'`]""")


def kind_literals(text: str) -> list[int]:
    """Line numbers of ``text`` that spell a message kind: a kind with a dash ("video-request")
    quoted anywhere (comments too), a one-word kind ("cancel") where a message's kind is given or
    compared (elsewhere the same word may be a trait or a class name)."""
    kinds = set(CONTRACT["messages"].values())
    return [
        number
        for number, line in enumerate(text.splitlines(), 1)
        if any(word in kinds and "-" in word for word in _QUOTED.findall(line))
        or any(word in kinds for word in _AS_KIND.findall(line))
    ]


def test_no_other_source_file_spells_a_message_kind() -> None:
    """A kind is spelled once per side; everything else uses the MSG_* constants. (Tests may spell
    kinds: they pin the wire format.)"""
    sources = _sources()
    assert len(sources) > 10  # the scan sees the sources
    found = {
        str(path.relative_to(REPO_ROOT)): lines
        for path in sources
        if (lines := kind_literals(path.read_text("utf-8")))
    }
    assert found == {}


@pytest.mark.parametrize(
    "line",
    [
        'model.send({ kind: "cancel" });',
        'if msg.get("kind") == "compare":',
        "handlers = {'video-request': answer}",
        "if (msg.kind !== `add-image-response`) return;",
    ],
)
def test_the_scan_catches_a_kind_literal(line: str) -> None:
    assert kind_literals(f"x = 1\n{line}\n") == [2]


def test_the_scan_leaves_trait_names_alone() -> None:
    text = '@traitlets.validate("compare")\nif (model.get("compare").length) model.send({ kind: MSG_X });\n'
    assert kind_literals(text) == []


def test_card_fields_are_the_job_views_traits_and_the_builders_keys() -> None:
    assert list(_cards.CARD_FIELDS) == CONTRACT["card_fields"]
    synced = set(JobView.class_traits(sync=True))
    assert set(_cards.CARD_FIELDS) <= synced
    snap = JobSnapshot(local_id="j1", request=GenerationRequest(prompt="a fox"), state=JobState.QUEUED)
    assert list(_cards.card_data(snap, None)) == list(_cards.CARD_FIELDS)
