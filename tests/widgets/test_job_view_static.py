"""The static forms of every job state (pure functions of a JobSnapshot; no network, no threads)."""

from __future__ import annotations

import pytest

from seedance_widgets.api import GenerationRequest
from seedance_widgets.engine.state import JobSnapshot, JobState
from seedance_widgets.widgets import _cards, _display

REQUEST = GenerationRequest(prompt="a fox <script>alert(1)</script> in snow", duration=6, seed=-1)


def snap(**changes: object) -> JobSnapshot:
    base: dict[str, object] = {"local_id": "job-1", "request": REQUEST, "submitted_at": 1000.0}
    return JobSnapshot(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"state": JobState.INTENT}, "Preparing"),
        ({"state": JobState.QUEUED}, "Queued"),
        ({"state": JobState.RUNNING, "progress": 42}, "Generating · 42%"),
        ({"state": JobState.RUNNING, "progress": 0}, "Generating"),  # Ark reports no progress
        ({"state": JobState.DONE, "finished_at": 1161.0}, "Done in 2:41"),
        ({"state": JobState.DONE, "from_cache": True}, "Done · from cache"),
        ({"state": JobState.FAILED, "error_code": "generation_failed"}, "Failed"),
        ({"state": JobState.FAILED, "error_code": "content_policy_violation"}, "Refused"),
        ({"state": JobState.TIMED_OUT}, "Timed out (task kept: attach later)"),
        ({"state": JobState.CANCELLED}, "Stopped watching"),
        ({"state": JobState.EXPIRED}, "Expired"),
        ({"state": JobState.MAY_EXIST}, "May exist (not re-sent)"),
        (
            {"state": JobState.RUNNING, "progress": 5, "gateway_status": "rendering"},
            "Generating · 5% (gateway says 'rendering')",
        ),
    ],
)
def test_status_text(changes: dict[str, object], expected: str) -> None:
    assert _display.status_text(snap(**changes)) == expected


def test_html_escapes_the_prompt_and_error_and_shows_progress_while_running() -> None:
    html = _cards.static_card_html(
        snap(state=JobState.RUNNING, progress=42, error="bad <b>thing</b>", task_id="task_<x>"), None
    )
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "bad &lt;b&gt;thing&lt;/b&gt;" in html
    assert "task_&lt;x&gt;" in html
    assert '<progress max="100" value="42"' in html
    assert "<video" not in html


def test_a_task_attached_by_id_without_a_request() -> None:
    attached = JobSnapshot(local_id="job-2", request=None, task_id="task_abc", state=JobState.QUEUED)
    assert _display.params_of(attached) == {}
    assert "task_abc" in _display.text_line(attached)
    prov = _display.provenance(attached)
    assert prov["request"] is None
    assert prov["model"] == "doubao-seedance-1-5-pro"
    assert "task_abc" in _cards.static_card_html(attached, None)


def test_random_seed_is_named_random() -> None:
    assert ("seed", "random") in _cards.detail_rows(snap(state=JobState.QUEUED), None)
    assert ("seed", "99") in _cards.detail_rows(snap(state=JobState.DONE, seed=99), None)


def test_job_view_refuses_what_it_cannot_show() -> None:
    from seedance_widgets.engine.job import Job
    from seedance_widgets.widgets import JobView

    with pytest.raises(TypeError, match="needs a seedance_widgets Job"):
        JobView("task_abc")  # type: ignore[arg-type]
    job = Job(snap(state=JobState.QUEUED))
    with pytest.raises(TypeError):
        JobView(job, colour="red")  # type: ignore[call-arg]
    view = JobView(job)
    assert view.state == JobState.QUEUED
    assert view.prompt == REQUEST.prompt
    view.close()
