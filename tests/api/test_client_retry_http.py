"""The retry policy over loopback: reads survive faults; a create is re-sent only when no task was made."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from api_support import FAST_RETRY, SECRET_KEY, SMALL

from seedance_widgets.api import (
    RateLimitError,
    RetryPolicy,
    SeedanceClient,
    ServerError,
    TaskMayExistError,
    TransportError,
)
from seedance_widgets.emulator import Emulator

Raises = Callable[..., Any]


def backoff_bounds(attempt: int) -> tuple[float, float]:
    base = min(FAST_RETRY.max_delay, FAST_RETRY.base_delay * 2 ** (attempt - 1))
    return base * (1 - FAST_RETRY.jitter), min(FAST_RETRY.max_delay, base * (1 + FAST_RETRY.jitter))


# ---- reads -------------------------------------------------------------------------------------


def test_get_survives_429_500_503_and_a_reset(
    client: SeedanceClient, gateway: Emulator, sleeps: list[float]
) -> None:
    task_id = client.create(SMALL).id
    gateway.reset_stats()
    for fault in ("429", "500", "reset"):
        gateway.fail_next("get", fault)
    task = client.get(task_id)
    assert task.id == task_id
    assert gateway.stats()["get"] == 4
    assert gateway.stats()["faults"] == {"429": 1, "500": 1, "reset": 1}
    assert client.request_counts["get"] == 4
    # 429 carried Retry-After: 1 (obeyed exactly); the others backed off with jitter.
    assert sleeps[0] == 1.0
    for attempt, wait in ((2, sleeps[1]), (3, sleeps[2])):
        low, high = backoff_bounds(attempt)
        assert low <= wait <= high


@pytest.mark.parametrize("seconds", [0.0, 2.0, 7.0])
def test_retry_after_is_honoured(
    seconds: float, client: SeedanceClient, gateway: Emulator, sleeps: list[float]
) -> None:
    task_id = client.create(SMALL).id
    gateway.configure(retry_after=seconds)
    gateway.fail_next("get", "429", 2)
    gateway.fail_next("get", "503")
    client.get(task_id)
    assert sleeps == [seconds] * 3


def test_a_retry_after_beyond_the_limit_is_raised_not_waited(
    gateway: Emulator, sleeps: list[float], raises: Raises
) -> None:
    gateway.configure(retry_after=600.0)
    gateway.fail_next("get", "429")
    policy = RetryPolicy(max_retry_after=60.0)
    with (
        SeedanceClient(SECRET_KEY, gateway.base_url, retry=policy, sleep=sleeps.append) as client,
        raises(RateLimitError) as info,
    ):
        client.get("task_x")
    assert info.value.retry_after == 600.0
    assert sleeps == []
    assert gateway.stats()["get"] == 1


def test_get_gives_up_after_the_attempts(client: SeedanceClient, gateway: Emulator, raises: Raises) -> None:
    gateway.fail_next("get", "500", 10)
    with raises(ServerError):
        client.get("task_x")
    assert gateway.stats()["get"] == FAST_RETRY.attempts


def test_get_survives_random_faults(gateway: Emulator) -> None:
    patient = RetryPolicy(attempts=8, base_delay=0.01)
    with SeedanceClient(SECRET_KEY, gateway.base_url, retry=patient, sleep=lambda _: None) as client:
        task_id = client.create(SMALL).id
        gateway.reset_stats()
        gateway.configure(fault_seed=11, fault_rates={"get": {"429": 0.1, "500": 0.1, "reset": 0.1}})
        for _ in range(20):
            assert client.get(task_id).id == task_id
    faults = gateway.stats()["faults"]
    assert sum(faults.values()) >= 2, faults  # the rates really bit
    assert gateway.stats()["get"] == 20 + sum(faults.values())


def test_a_refused_connection_is_retried_then_reported(
    dead_url: str, sleeps: list[float], raises: Raises
) -> None:
    with SeedanceClient(SECRET_KEY, dead_url, retry=FAST_RETRY, sleep=sleeps.append) as client:
        with raises(TransportError) as info:
            client.get("task_x")
        assert info.value.nothing_sent
        assert len(sleeps) == FAST_RETRY.attempts - 1
        assert client.request_counts["get"] == FAST_RETRY.attempts


def test_a_read_timeout_is_a_transport_error(gateway: Emulator, raises: Raises) -> None:
    gateway.fail_next("get", "hang", 2)
    started = time.monotonic()
    with (
        SeedanceClient(
            SECRET_KEY,
            gateway.base_url,
            timeout=(2.0, 0.3),
            retry=RetryPolicy(attempts=2),
            sleep=lambda _: None,
        ) as client,
        raises(TransportError, match="Timeout"),
    ):
        client.get("task_x")
    assert time.monotonic() - started < 3.0  # two 0.3 s timeouts, not the 5 s hang


# ---- create ------------------------------------------------------------------------------------


def test_create_is_not_resent_after_a_reset(
    client: SeedanceClient, gateway: Emulator, sleeps: list[float], raises: Raises
) -> None:
    gateway.fail_next("create", "reset")
    with raises(TaskMayExistError) as info:
        client.create(SMALL)
    text = str(info.value)
    assert "may exist" in text
    assert "NOT sent again" in text
    assert not info.value.nothing_sent
    assert gateway.stats()["create"] == 1
    assert gateway.stats()["tasks"] == 1  # the task was made: a re-send would have paid twice
    assert client.request_counts["create"] == 1
    assert sleeps == []


def test_create_is_not_resent_after_a_read_timeout(gateway: Emulator, raises: Raises) -> None:
    gateway.fail_next("create", "hang")
    with SeedanceClient(SECRET_KEY, gateway.base_url, timeout=(2.0, 0.3), sleep=lambda _: None) as client:
        with raises(TaskMayExistError):
            client.create(SMALL)
        assert client.request_counts["create"] == 1
    assert gateway.stats()["create"] == 1


@pytest.mark.parametrize("fault", ["429", "503"])
def test_create_is_resent_when_the_reply_proves_no_task_was_made(
    fault: str, client: SeedanceClient, gateway: Emulator, sleeps: list[float]
) -> None:
    gateway.configure(retry_after=4.0)
    gateway.fail_next("create", fault, 2)
    task = client.create(SMALL)
    assert task.id
    assert gateway.stats()["create"] == 3
    assert gateway.stats()["tasks"] == 1
    assert gateway.task_ids() == [task.id]
    assert sleeps == [4.0, 4.0]


@pytest.mark.parametrize("fault", ["500", "402"])
def test_create_is_not_resent_after_other_errors(
    fault: str, client: SeedanceClient, gateway: Emulator, sleeps: list[float], raises: Raises
) -> None:
    gateway.fail_next("create", fault)
    with raises(Exception) as info:
        client.create(SMALL)
    assert info.value.status == int(fault)
    assert gateway.stats()["create"] == 1
    assert sleeps == []


def test_create_gives_up_after_the_attempts_on_429(
    client: SeedanceClient, gateway: Emulator, sleeps: list[float], raises: Raises
) -> None:
    gateway.fail_next("create", "429", 10)
    with raises(RateLimitError):
        client.create(SMALL)
    assert gateway.stats()["create"] == FAST_RETRY.attempts
    assert gateway.stats()["tasks"] == 0
    assert len(sleeps) == FAST_RETRY.attempts - 1


def test_create_to_a_dead_port_is_retried_because_nothing_was_sent(
    dead_url: str, sleeps: list[float], raises: Raises
) -> None:
    with SeedanceClient(SECRET_KEY, dead_url, retry=FAST_RETRY, sleep=sleeps.append) as client:
        with raises(TransportError, match="nothing was sent") as info:
            client.create(SMALL)
        assert not isinstance(info.value, TaskMayExistError)
        assert info.value.nothing_sent
        assert client.request_counts["create"] == FAST_RETRY.attempts
        assert len(sleeps) == FAST_RETRY.attempts - 1
