"""Each HTTP error the emulator can produce, over real loopback HTTP, to its exception."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from api_support import SECRET_KEY, SMALL, leaks

from seedance_widgets.api import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ContentPolicyError,
    MissingKeyError,
    NotFoundError,
    QuotaError,
    RateLimitError,
    RetryPolicy,
    SeedanceClient,
    ServerError,
    ValidationError,
)
from seedance_widgets.emulator import Emulator

Raises = Callable[..., Any]


def test_create_and_get_work(client: SeedanceClient, gateway: Emulator) -> None:
    task = client.create(SMALL)
    assert task.id
    assert task.status in ("queued", "in_progress")
    assert client.get(task.id).id == task.id
    assert gateway.stats()["create"] == 1
    assert client.request_counts["create"] == 1


def test_wrong_key_is_401_authentication_error(gateway: Emulator, raises: Raises) -> None:
    wrong = "sk-wrong-" + SECRET_KEY[-8:]
    with (
        SeedanceClient(wrong, gateway.base_url, retry=RetryPolicy(attempts=1)) as client,
        raises(AuthenticationError) as info,
    ):
        client.get("task_x")
    err = info.value
    assert (err.status, err.code, err.type) == (401, 401, "authentication_error")
    assert "check your API key" in str(err)
    assert wrong not in str(err)
    assert "TOAPIS_API_KEY" in str(err)


def test_create_with_wrong_key_is_not_retried(gateway: Emulator, raises: Raises) -> None:
    with SeedanceClient("sk-nope-wrong", gateway.base_url) as client, raises(AuthenticationError):
        client.create(SMALL)
    assert gateway.stats()["create"] == 1
    assert gateway.stats()["tasks"] == 0


def test_missing_key_is_refused_before_any_request(
    gateway: Emulator, monkeypatch: pytest.MonkeyPatch, raises: Raises
) -> None:
    monkeypatch.delenv("TOAPIS_API_KEY", raising=False)
    for key in (None, "", "   "):
        with raises(MissingKeyError, match="TOAPIS_API_KEY"):
            SeedanceClient(key, gateway.base_url)
    assert gateway.stats()["other"] + gateway.stats()["get"] == 0


def test_key_and_base_url_come_from_the_environment(
    gateway: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOAPIS_API_KEY", SECRET_KEY)
    monkeypatch.setenv("SEEDANCE_BASE_URL", gateway.base_url + "/")
    with SeedanceClient() as client:
        assert client.base_url == gateway.base_url
        assert client.create(SMALL).id
    monkeypatch.delenv("SEEDANCE_BASE_URL")
    with SeedanceClient() as client:
        assert client.base_url == "https://toapis.com"


def test_unknown_task_is_404_not_found(client: SeedanceClient, raises: Raises) -> None:
    with raises(NotFoundError) as info:
        client.get("task_vid_does_not_exist")
    assert (info.value.status, info.value.code, info.value.type) == (404, 404, "task_not_found")
    assert "Task not found" in str(info.value)


def test_banned_word_is_422_content_policy(client: SeedanceClient, gateway: Emulator, raises: Raises) -> None:
    with raises(ContentPolicyError) as info:
        client.create(SMALL.replace(prompt="a forbidden scene"))
    assert info.value.status == 422
    assert info.value.type == "content_policy_violation"
    assert "nothing was charged" in str(info.value)
    assert gateway.stats()["create"] == 1  # a refusal is final: not sent again
    assert gateway.stats()["tasks"] == 0


@pytest.mark.parametrize("kind", ["create", "get"])
def test_402_is_quota_error_and_not_retried(
    kind: str, client: SeedanceClient, gateway: Emulator, raises: Raises, sleeps: list[float]
) -> None:
    gateway.fail_next(kind, "402")
    with raises(QuotaError) as info:
        client.create(SMALL) if kind == "create" else client.get("task_x")
    assert (info.value.status, info.value.code, info.value.type) == (402, 402, "insufficient_quota")
    assert gateway.stats()[kind] == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("fault", "cls", "err_type", "retry_after"),
    [
        ("429", RateLimitError, "rate_limit_exceeded", 3.0),
        ("500", ServerError, "internal_error", None),
        ("503", ServerError, "service_unavailable", 3.0),
    ],
)
def test_retryable_statuses_surface_once_retries_run_out(
    fault: str,
    cls: type[APIError],
    err_type: str,
    retry_after: float | None,
    gateway: Emulator,
    raises: Raises,
) -> None:
    gateway.configure(retry_after=3.0)
    gateway.fail_next("get", fault, 2)
    with (
        SeedanceClient(
            SECRET_KEY, gateway.base_url, retry=RetryPolicy(attempts=2), sleep=lambda _: None
        ) as client,
        raises(cls) as info,
    ):
        client.get("task_x")
    err = info.value
    assert (err.status, err.code, err.type, err.retry_after) == (
        int(fault),
        int(fault),
        err_type,
        retry_after,
    )
    assert gateway.stats()["get"] == 2


def test_upload_refused_by_the_gateway_is_400_in_the_success_false_shape(
    client: SeedanceClient, gateway: Emulator, raises: Raises, png_bytes: bytes
) -> None:
    gateway.configure(max_upload_bytes=len(png_bytes) // 2)
    with raises(BadRequestError) as info:
        client.upload_image(png_bytes)
    err = info.value
    assert err.status == 400
    assert err.code is None
    assert err.gateway_message.startswith("Image too large")
    assert gateway.stats()["upload"] == 1


def test_non_json_error_body_is_read_as_text(gateway: Emulator, raises: Raises) -> None:
    # Starlette answers an unknown path with a plain-text "Not Found".
    with (
        SeedanceClient(SECRET_KEY, gateway.base_url + "/no/such/prefix") as client,
        raises(NotFoundError) as info,
    ):
        client.get("task_x")
    assert info.value.gateway_message == "Not Found"
    assert info.value.code is None


def test_no_error_text_holds_the_key_even_for_a_refused_connection(dead_url: str, raises: Raises) -> None:
    with SeedanceClient(SECRET_KEY, dead_url, retry=RetryPolicy(attempts=1)) as client:
        with raises(Exception) as info:
            client.get("task_x")
        assert not leaks(str(info.value))


@pytest.mark.parametrize("task_id", ["", "   ", "a/b", None, 42])
def test_bad_task_ids_are_refused_before_sending(
    task_id: Any, client: SeedanceClient, gateway: Emulator, raises: Raises
) -> None:
    with raises(ValidationError) as info:
        client.get(task_id)
    assert info.value.field == "task_id"
    assert gateway.stats()["get"] == 0


def test_odd_characters_in_a_task_id_are_escaped(client: SeedanceClient, raises: Raises) -> None:
    with raises(NotFoundError):
        client.get("task?x=1#frag")  # must reach the task route, not become a query string


def test_create_wants_a_generation_request(client: SeedanceClient, gateway: Emulator, raises: Raises) -> None:
    with raises(ValidationError):
        client.create({"prompt": "p"})  # type: ignore[arg-type]
    assert gateway.stats()["create"] == 0


def test_a_base_url_that_is_not_http_is_refused(raises: Raises) -> None:
    with raises(ValidationError, match="base_url"):
        SeedanceClient(SECRET_KEY, "toapis.com")


def test_a_key_of_the_wrong_type_is_refused_without_showing_it(gateway: Emulator, raises: Raises) -> None:
    with raises(MissingKeyError):
        SeedanceClient(SECRET_KEY.encode(), gateway.base_url)  # type: ignore[arg-type]
