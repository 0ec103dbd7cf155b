"""The job card in Ark mode (issue 14): the estimate and the real bill side by side, what a cancel
did, the form's flex switch; and every gateway string stays text in the static HTML.

The card's data and its static HTML come from one builder (``widgets/_cards.py``); the live view
(JobView) and the form run against the real emulator's Ark side.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from widget_support import SPEED, RecordingComm, send

from seedance_widgets.api import GenerationRequest, SeedanceClient, ValidationError
from seedance_widgets.emulator import Emulator
from seedance_widgets.engine import Job, JobManager, JobSnapshot, JobState
from seedance_widgets.widgets import JobView, SeedanceForm, _cards, _display
from seedance_widgets.widgets.messages import MSG_CANCEL

BILLED_TEXT = "est. ~$0.52 · billed 108,900 tokens ($0.44)"


def snapshot(**changes: Any) -> JobSnapshot:
    base: dict[str, Any] = {
        "local_id": "job-1",
        "request": GenerationRequest("a harbour at noon", duration=5, resolution="720p"),
        "state": JobState.RUNNING,
        "task_id": "cgt-20250101-abc",
        "cost_estimate": 0.52,
    }
    return JobSnapshot(**{**base, **changes})


# ---- the estimate and the bill ---------------------------------------------------------------------


def test_card_shows_the_estimate_then_the_bill_beside_it() -> None:
    running = _cards.card_data(snapshot(), None)
    assert running["cost_text"] == "est. ~$0.52"
    assert running["usage_tokens"] is None
    assert running["cost_usd"] is None
    done = _cards.card_data(snapshot(state=JobState.DONE, usage_tokens=108_900, cost_usd=0.44), None)
    assert done["cost_text"] == BILLED_TEXT
    assert done["usage_tokens"] == 108_900
    assert done["cost_usd"] == 0.44
    # Tokens known, no token price: the tokens alone, never a made-up dollar figure.
    unpriced = _cards.card_data(snapshot(state=JobState.DONE, usage_tokens=5_000), None)
    assert unpriced["cost_text"] == "est. ~$0.52 · billed 5,000 tokens"
    no_price = _cards.card_data(snapshot(cost_estimate=None), None)
    assert no_price["cost_text"] == "no estimate"


def test_static_card_shows_the_estimate_and_the_bill() -> None:
    snap = snapshot(state=JobState.DONE, usage_tokens=108_900, cost_usd=0.44)
    full = parse(_cards.static_card_html(snap, None))
    assert BILLED_TEXT in full.text()
    compact = parse(_cards.static_card_html(snap, None, compact=True))
    assert BILLED_TEXT in compact.text()


def test_card_fields_are_the_contracts_and_the_job_views_traits() -> None:
    for name in ("usage_tokens", "cost_usd", "cost_text", "cancel_outcome", "cancel_text"):
        assert name in _cards.CARD_FIELDS
        assert JobView.class_traits()[name].metadata.get("sync") is True


# ---- what a cancel did --------------------------------------------------------------------------


def test_card_says_which_cancel_outcome_happened() -> None:
    cancelled = snapshot(state=JobState.CANCELLED, cancel_outcome="cancelled", usage_tokens=0, cost_usd=0.0)
    card = _cards.card_data(cancelled, None)
    assert card["status_text"] == "Cancelled · not billed"
    assert card["cancel_text"] == "cancelled before it ran: not billed"
    assert card["cancel_outcome"] == "cancelled"
    running = _cards.card_data(snapshot(cancel_outcome="not_cancellable"), None)
    assert running["cancel_outcome"] == "not_cancellable"
    assert "cannot be cancelled once running, still watching" in running["cancel_text"]
    stopped = _cards.card_data(snapshot(state=JobState.CANCELLED, cancel_outcome="stopped_watching"), None)
    assert stopped["cancel_text"] == "stopped watching: the task may still finish and be billed"
    assert stopped["status_text"] == "Stopped watching"


# ---- gateway strings stay text ---------------------------------------------------------------------

HOSTILE = '<img src=x onerror="alert(1)">&amp;<script>alert(2)</script>'


@dataclasses.dataclass
class Parsed:
    tags: list[str] = dataclasses.field(default_factory=list)
    texts: list[str] = dataclasses.field(default_factory=list)
    attrs: list[str] = dataclasses.field(default_factory=list)

    def text(self) -> str:
        return " ".join(" ".join(self.texts).split())


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parsed = Parsed()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.parsed.tags.append(tag)
        self.parsed.attrs += [f"{name}={value}" for name, value in attrs]

    def handle_data(self, data: str) -> None:
        self.parsed.texts.append(data)


def parse(markup: str) -> Parsed:
    collector = _Collector()
    collector.feed(markup)
    collector.close()
    return collector.parsed


def test_gateway_strings_in_the_static_card_stay_text() -> None:
    snap = snapshot(
        state=JobState.FAILED,
        error=HOSTILE,
        error_code=HOSTILE,
        gateway_status=HOSTILE,
        task_id="cgt-" + HOSTILE,
        cancel_outcome=HOSTILE,  # an unknown outcome word is never shown
        usage_tokens=108_900,
        cost_usd=0.44,
    )
    for compact in (False, True):
        parsed = parse(_cards.static_card_html(snap, None, compact=compact))
        assert not {"img", "script"} & set(parsed.tags)
        assert not any(a.startswith("onerror") for a in parsed.attrs)
        assert HOSTILE in " ".join(parsed.texts)
        assert BILLED_TEXT in parsed.text()
    card = _cards.card_data(snap, None)
    assert card["cancel_text"] == ""
    assert card["cancel_outcome"] is None


# ---- live, against the emulator's Ark side -------------------------------------------------------------


@pytest.fixture
def ark_manager(emulator: Emulator, tmp_outputs: Path) -> Iterator[JobManager]:
    client = SeedanceClient(api_key=emulator.api_key, base_url=emulator.base_url + "/api/v3", provider="ark")
    with JobManager(output_dir=tmp_outputs, client=client, time_scale=SPEED) as mgr:
        yield mgr


def wait_for(job: Job, test: Any, timeout: float = 60.0) -> JobSnapshot:
    seen = threading.Event()
    unsubscribe = job.subscribe(lambda snap: seen.set() if test(snap) else None)
    try:
        if not test(job.snapshot()):
            assert seen.wait(timeout), job.snapshot()
    finally:
        unsubscribe()
    return job.snapshot()


def test_a_finished_ark_job_shows_estimate_and_bill_on_its_view(
    ark_manager: JobManager, emulator: Emulator, comms: list[RecordingComm]
) -> None:
    job = ark_manager.submit(GenerationRequest("a harbour at noon", duration=4, resolution="480p"))
    assert isinstance(job, Job)
    view = JobView(job)
    job.wait(timeout=60)
    snap = job.snapshot()
    assert snap.usage_tokens == emulator.stats()["ark_billed_tokens"] > 0
    expected = _display.cost_text(snap)
    assert f"billed {snap.usage_tokens:,} tokens" in expected
    wait_for(job, lambda s: s.is_final)
    assert view.cost_text == expected
    assert view.usage_tokens == snap.usage_tokens
    data, _ = view._repr_mimebundle_()
    assert expected in parse(data["text/html"]).text()


def test_cancelling_a_queued_ark_job_from_the_card_says_not_billed(
    ark_manager: JobManager, emulator: Emulator, comms: list[RecordingComm]
) -> None:
    emulator.configure(ark_queue_seconds=10_000.0)
    job = ark_manager.submit(GenerationRequest("a queue that never moves", duration=4, resolution="480p"))
    assert isinstance(job, Job)
    view = JobView(job)
    wait_for(job, lambda s: s.task_id is not None and s.state == JobState.QUEUED)
    send(view, {"kind": MSG_CANCEL, "id": job.local_id})
    wait_for(job, lambda s: s.is_final)
    assert view.status_text == "Cancelled · not billed"
    assert view.cancel_outcome == "cancelled"
    assert emulator.stats()["ark_billed_tokens"] == 0


# ---- the form's flex switch --------------------------------------------------------------------------


def test_form_offers_flex_on_ark_with_the_flex_price(
    ark_manager: JobManager, comms: list[RecordingComm]
) -> None:
    form = SeedanceForm(manager=ark_manager, prompt="a night train", duration=5, resolution="720p")
    assert form.provider == "ark"
    full = form.estimate_usd
    form.flex = True
    assert form.invalid_reason == ""
    assert form.request.service_tier == "flex"
    assert full is not None
    assert form.estimate_usd is not None
    assert form.estimate_usd < full


def test_form_refuses_flex_on_toapis_before_any_create(
    manager: JobManager, emulator: Emulator, comms: list[RecordingComm]
) -> None:
    form = SeedanceForm(manager=manager, prompt="a night train", duration=5, resolution="480p", flex=True)
    assert form.provider == "toapis"
    assert "flex" in form.invalid_reason
    assert "Ark" in form.invalid_reason
    with pytest.raises(ValidationError):
        form.generate()
    assert emulator.stats().get("create", 0) == 0


# ---- a grid's table ------------------------------------------------------------------------------------


def test_grid_table_shows_the_bill_beside_the_estimate(ark_manager: JobManager, emulator: Emulator) -> None:
    from seedance_widgets.sweeps import Grid, grid

    made = grid(["a koi pond"], seeds=[1, 2], duration=4, resolution="480p", manager=ark_manager)
    assert isinstance(made, Grid)
    made.wait(timeout=60)
    records = made.records()
    assert sum(r["usage_tokens"] for r in records) == emulator.stats()["ark_billed_tokens"] > 0
    for record in records:
        assert record["cost_estimate_usd"] is not None
        assert "cost_usd" in record
    table = made.table()
    columns = list(table.columns) if hasattr(table, "columns") else list(table[0])  # pandas or not
    assert {"cost_estimate_usd", "usage_tokens", "cost_usd"} <= set(columns)
    page = parse(made._repr_html_())
    assert "billed" in page.text()
    assert f"{records[0]['usage_tokens']:,} tokens" in page.text()
