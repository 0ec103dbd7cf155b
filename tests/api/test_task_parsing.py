"""Task.from_json on every reply shape of the contract, and on replies that are missing, extra or garbage."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seedance_widgets.api import COMPLETED, FAILED, IN_PROGRESS, QUEUED, Task

# The contract's examples, verbatim (sections 1 and 2).
CREATE_REPLY = json.loads("""
{"id": "task_vid_xyz789ghi012", "object": "generation.task", "model": "doubao-seedance-1-5-pro",
 "status": "queued", "progress": 0, "created_at": 1703884800, "metadata": {}}
""")
COMPLETED_REPLY = json.loads("""
{"id": "video_7497f4d5-3a88-44c7-923a-967fa7d941a0", "object": "generation.task",
 "model": "doubao-seedance-1-5-pro", "status": "completed", "progress": 100,
 "created_at": 1768380222, "completed_at": 1768380514, "expires_at": 1768466914,
 "result": {"type": "video", "data": [{"url": "https://files.example/7712af45.mp4", "format": "mp4"}]}}
""")
FAILED_ERROR = json.loads("""
{"code": "generation_failed", "message": "Generation failed: Content violates the content policy"}
""")


def test_create_reply_example() -> None:
    task = Task.from_json(CREATE_REPLY)
    assert task.id == "task_vid_xyz789ghi012"
    assert task.status == QUEUED
    assert not task.is_final
    assert task.progress == 0
    assert task.created_at == 1703884800
    assert task.completed_at is None
    assert task.expires_at is None
    assert task.video_url is None
    assert task.model == "doubao-seedance-1-5-pro"
    assert task.error_code is None
    assert task.error_message is None


def test_completed_reply_example() -> None:
    task = Task.from_json(COMPLETED_REPLY)
    assert task.id == "video_7497f4d5-3a88-44c7-923a-967fa7d941a0"
    assert task.status == COMPLETED
    assert task.is_final
    assert task.progress == 100
    assert (task.created_at, task.completed_at, task.expires_at) == (1768380222, 1768380514, 1768466914)
    assert task.video_url == "https://files.example/7712af45.mp4"
    assert task.raw == COMPLETED_REPLY


def test_failed_reply_with_the_contracts_error_object() -> None:
    task = Task.from_json({"id": "t1", "status": "failed", "progress": 37, "error": FAILED_ERROR})
    assert task.status == FAILED
    assert task.is_final
    assert task.error_code == "generation_failed"
    assert task.error_message == "Generation failed: Content violates the content policy"
    assert task.progress == 37
    assert task.video_url is None


def test_in_progress() -> None:
    task = Task.from_json({"id": "t1", "status": "in_progress", "progress": 42})
    assert (task.status, task.progress, task.is_final) == (IN_PROGRESS, 42, False)


@pytest.mark.parametrize("status", ["submitted", "SUBMITTED", " submitted "])
def test_submitted_is_read_as_queued(status: str) -> None:
    task = Task.from_json({"id": "t1", "status": status})
    assert task.status == QUEUED
    assert task.is_known_status
    assert not task.is_final


@pytest.mark.parametrize("status", ["Completed", "FAILED", "In_Progress"])
def test_known_statuses_in_any_case(status: str) -> None:
    assert Task.from_json({"id": "t1", "status": status}).status == status.lower()


@pytest.mark.parametrize("status", ["cancelled", "Moderating", "succeeded", "expired", "done", "42"])
def test_unknown_status_is_kept_verbatim_and_not_final(status: str) -> None:
    task = Task.from_json({"id": "t1", "status": status, "progress": 100})
    assert task.status == status
    assert not task.is_known_status
    assert not task.is_final


def test_result_url_is_preferred_to_top_level_url() -> None:
    reply = {**COMPLETED_REPLY, "url": "https://other.example/top.mp4"}
    assert Task.from_json(reply).video_url == "https://files.example/7712af45.mp4"


def test_top_level_url_is_used_when_there_is_no_result() -> None:
    reply = {
        "id": "t1",
        "status": "completed",
        "url": "https://files.example/top.mp4",
        "thumbnail": "https://files.example/top.jpg",
        "duration": 5,
    }
    task = Task.from_json(reply)
    assert task.video_url == "https://files.example/top.mp4"
    assert task.thumbnail_url == "https://files.example/top.jpg"


@pytest.mark.parametrize(
    "result",
    [
        {"type": "video", "data": []},
        {"type": "video", "data": [{"format": "mp4"}]},
        {"type": "video", "data": [{"url": ""}]},
        {"type": "video", "data": [{"url": 12345}]},
        {"type": "video", "data": "https://files.example/x.mp4"},
        {"type": "video"},
        "https://files.example/x.mp4",
        None,
        [1, 2],
    ],
)
def test_unusable_result_falls_back_to_top_level_url(result: Any) -> None:
    task = Task.from_json(
        {"id": "t1", "status": "completed", "result": result, "url": "https://f.example/top.mp4"}
    )
    assert task.video_url == "https://f.example/top.mp4"
    assert Task.from_json({"id": "t1", "status": "completed", "result": result}).video_url is None


def test_missing_fields_give_none_and_defaults() -> None:
    task = Task.from_json({"id": "t1"})
    assert task.status == "unknown"
    assert not task.is_final
    assert task.progress == 0
    assert (task.created_at, task.completed_at, task.expires_at, task.video_url, task.seed) == (None,) * 5
    assert Task.from_json({"id": "t1", "status": "completed"}).progress == 100


def test_extra_fields_are_kept_in_raw_and_ignored() -> None:
    reply = {**CREATE_REPLY, "queue_position": 3, "billing": {"credits": 12}, "object": "something.new"}
    task = Task.from_json(reply)
    assert task.status == QUEUED
    assert task.raw["queue_position"] == 3


def test_seed_is_read_from_metadata() -> None:
    assert Task.from_json({"id": "t1", "status": "queued", "metadata": {"seed": 123456}}).seed == 123456


def test_wrapped_task_is_unwrapped() -> None:
    task = Task.from_json({"success": True, "data": COMPLETED_REPLY})
    assert task.id == COMPLETED_REPLY["id"]
    assert task.video_url == "https://files.example/7712af45.mp4"


def test_task_id_alias() -> None:
    assert Task.from_json({"task_id": "t9", "status": "queued"}).id == "t9"


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        ({"code": 500, "message": "boom"}, "500", "boom"),
        ({"message": "no code"}, None, "no code"),
        ({"code": "generation_failed"}, "generation_failed", None),
        ("just text", None, "just text"),
        ({}, None, None),
        ([1, 2], None, None),
        (None, None, None),
    ],
)
def test_error_shapes(error: Any, code: str | None, message: str | None) -> None:
    task = Task.from_json({"id": "t1", "status": "failed", "error": error})
    assert (task.error_code, task.error_message) == (code, message)


@pytest.mark.parametrize(
    ("progress", "expected"),
    [(50, 50), ("75", 75), (33.9, 33), (-5, 0), (250, 100), ("half", 0), (None, 0), (True, 0), ([], 0)],
)
def test_progress_is_clamped_and_tolerant(progress: Any, expected: int) -> None:
    assert Task.from_json({"id": "t1", "status": "in_progress", "progress": progress}).progress == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1768380514, 1768380514),
        ("1768380514", 1768380514),
        (1768380514.7, 1768380514),
        ("2026-01-01", None),
        (True, None),
        ({}, None),
        (float("inf"), None),
        (10**400, 10**400),
    ],
)
def test_timestamps_are_tolerant(value: Any, expected: int | None) -> None:
    assert Task.from_json({"id": "t1", "status": "completed", "expires_at": value}).expires_at == expected


@pytest.mark.parametrize("data", [None, [], "queued", 42, b"{}", {"id": {"nested": 1}, "status": ["x"]}])
def test_garbage_never_crashes(data: Any) -> None:
    task = Task.from_json(data)
    assert isinstance(task.id, str)
    assert isinstance(task.status, str)
    assert not task.is_final


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
task_keys = st.sampled_from(
    [
        "id",
        "status",
        "progress",
        "created_at",
        "completed_at",
        "expires_at",
        "result",
        "url",
        "error",
        "metadata",
        "model",
        "thumbnail",
        "data",
        "task_id",
    ]
)


@settings(max_examples=300, database=None, deadline=None)
@given(st.dictionaries(task_keys, json_values, max_size=8))
def test_any_json_object_parses_into_well_typed_fields(data: dict[str, Any]) -> None:
    task = Task.from_json(data)
    assert isinstance(task.id, str)
    assert isinstance(task.status, str)
    assert 0 <= task.progress <= 100
    for value in (task.video_url, task.error_code, task.error_message, task.model, task.thumbnail_url):
        assert value is None or isinstance(value, str)
    for stamp in (task.created_at, task.completed_at, task.expires_at, task.seed):
        assert stamp is None or type(stamp) is int
    assert task.is_final == (task.status in (COMPLETED, FAILED))
