"""error_from_response, Retry-After parsing and the backoff policy, without a server.

The same mappings are exercised over real HTTP in test_client_errors_http.py; the
cases here are the ones the emulator does not produce (502, odd bodies, dates).
"""

from __future__ import annotations

import email.utils
import pickle
import statistics
from typing import Any

import pytest

from seedance_widgets.api import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ContentPolicyError,
    DownloadError,
    NotFoundError,
    QuotaError,
    RateLimitError,
    RetryPolicy,
    SeedanceError,
    ServerError,
    TaskMayExistError,
    TransportError,
    URLExpiredError,
    ValidationError,
    error_from_response,
)
from seedance_widgets.api.retry import parse_retry_after

STATUS_CLASSES = [
    (400, BadRequestError, "invalid_request"),
    (401, AuthenticationError, "authentication_error"),
    (402, QuotaError, "insufficient_quota"),
    (404, NotFoundError, "task_not_found"),
    (422, ContentPolicyError, "content_policy_violation"),
    (429, RateLimitError, "rate_limit_exceeded"),
    (500, ServerError, "internal_error"),
    (502, ServerError, "bad_gateway"),
    (503, ServerError, "service_unavailable"),
]


@pytest.mark.parametrize(("status", "cls", "err_type"), STATUS_CLASSES)
def test_error_object_shape_with_numeric_code(status: int, cls: type[APIError], err_type: str) -> None:
    body = {"error": {"code": status, "message": "the gateway's words", "type": err_type}}
    err = error_from_response(status, body)
    assert type(err) is cls
    assert (err.status, err.code, err.type, err.gateway_message) == (
        status,
        status,
        err_type,
        "the gateway's words",
    )
    text = str(err)
    assert "the gateway's words" in text
    assert f"HTTP {status}" in text
    assert text.startswith(cls.summary)


@pytest.mark.parametrize(("status", "cls", "err_type"), STATUS_CLASSES)
def test_error_object_shape_with_string_code(status: int, cls: type[APIError], err_type: str) -> None:
    err = error_from_response(status, {"error": {"code": err_type, "message": "m", "type": err_type}})
    assert type(err) is cls
    assert err.code == err_type


@pytest.mark.parametrize(("status", "cls", "err_type"), STATUS_CLASSES)
def test_success_false_shape(status: int, cls: type[APIError], err_type: str) -> None:
    err = error_from_response(status, {"success": False, "message": "Image too large. Maximum size is 10MB"})
    assert type(err) is cls
    assert err.gateway_message == "Image too large. Maximum size is 10MB"
    assert err.code is None
    assert "Image too large" in str(err)


def test_every_api_error_is_a_seedance_error() -> None:
    for _, cls, _ in STATUS_CLASSES:
        assert issubclass(cls, APIError)
        assert issubclass(cls, SeedanceError)
    assert issubclass(TaskMayExistError, TransportError)
    assert issubclass(URLExpiredError, DownloadError)
    assert issubclass(ValidationError, ValueError)


@pytest.mark.parametrize(
    ("status", "cls"), [(403, APIError), (409, APIError), (418, APIError), (504, ServerError)]
)
def test_other_statuses(status: int, cls: type[APIError]) -> None:
    err = error_from_response(status, {"error": {"message": "m"}})
    assert type(err) is cls
    assert err.status == status


@pytest.mark.parametrize(
    ("body", "text", "expected"),
    [
        (None, "<html><body>502 Bad Gateway</body></html>", "502 Bad Gateway"),
        (None, "", ""),
        (None, "x" * 5000, "x" * 300),
        ({"error": "plain text error"}, "", "plain text error"),
        ({"error": {"message": None, "code": 5}}, "fallback", "fallback"),
        ({"error": {"message": {"nested": "obj"}}}, "fallback", "fallback"),
        ({"message": "top-level message"}, "", "top-level message"),
        (["a", "list"], "the text", "the text"),
        ("a string", "the text", "the text"),
    ],
)
def test_odd_bodies_fall_back_to_the_text(body: Any, text: str, expected: str) -> None:
    err = error_from_response(500, body, fallback_text=text)
    assert isinstance(err, ServerError)
    assert err.gateway_message == expected


@pytest.mark.parametrize(("code", "kept"), [(True, None), ({"a": 1}, None), ([1], None), ("", None), (0, 0)])
def test_codes_other_than_numbers_and_strings_are_dropped(code: Any, kept: Any) -> None:
    assert error_from_response(400, {"error": {"code": code, "message": "m"}}).code == kept


def test_rate_limit_keeps_retry_after_and_says_it() -> None:
    err = error_from_response(429, {"error": {"code": 429, "message": "slow down"}}, retry_after=7.0)
    assert isinstance(err, RateLimitError)
    assert err.retry_after == 7.0
    assert "7 s" in str(err)


@pytest.mark.parametrize(
    "err",
    [
        error_from_response(
            429, {"error": {"code": "rate_limit_exceeded", "message": "m", "type": "t"}}, 3.0
        ),
        error_from_response(500, None, fallback_text="oops"),
        ValidationError("duration", 13, "4 to 12"),
        TransportError("reset", nothing_sent=True),
        TaskMayExistError("may exist"),
        DownloadError("truncated", retryable=False),
        URLExpiredError("gone"),
    ],
)
def test_errors_survive_pickling_with_their_facts(err: Exception) -> None:
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is type(err)
    assert str(again) == str(err)
    assert vars(again) == vars(err)


# ---- Retry-After ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("5", 5.0),
        (" 12 ", 12.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("inf", None),
        ("nan", None),
    ],
)
def test_retry_after_seconds(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_retry_after_http_date() -> None:
    now = 1_768_380_000.0
    header = email.utils.formatdate(now + 30, usegmt=True)  # "Wed, 14 Jan 2026 08:40:30 GMT"
    assert header.endswith("GMT")
    assert parse_retry_after(header, now=now) == pytest.approx(30.0)
    # "-0000" makes Python's parser return a naive datetime: still GMT.
    minus_zero = email.utils.formatdate(now + 30).replace("+0000", "-0000")
    assert parse_retry_after(minus_zero, now=now) == pytest.approx(30.0)
    assert parse_retry_after(email.utils.formatdate(now - 60, usegmt=True), now=now) == 0.0


# ---- backoff ------------------------------------------------------------------------------------


def test_backoff_grows_is_jittered_and_capped() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0, jitter=0.25)
    for attempt, base in [(1, 1.0), (2, 2.0), (3, 4.0)]:
        samples = [policy.delay(attempt) for _ in range(400)]
        assert all(base * 0.75 <= s <= base * 1.25 for s in samples)
        assert len(set(samples)) > 300  # jittered: not one fixed number
        assert statistics.mean(samples) == pytest.approx(base, rel=0.05)
    late = [policy.delay(attempt) for attempt in range(4, 40) for _ in range(20)]
    assert max(late) <= 8.0  # the cap holds with jitter too
    assert min(late) >= 8.0 * 0.75


def test_retry_after_overrides_backoff() -> None:
    assert RetryPolicy(max_delay=1.0).delay(1, retry_after=42.0) == 42.0
    assert RetryPolicy().delay(3, retry_after=0.0) == 0.0


def test_no_jitter_gives_exact_doubling() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=3.0, jitter=0.0)
    assert [policy.delay(a) for a in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
