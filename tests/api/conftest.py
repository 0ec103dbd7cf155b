"""Fixtures for the protocol layer's tests: a client on the emulator, with a key that must never leak.

Every test here runs with logging at DEBUG, and afterwards no log record may hold the
key. Errors are caught with the ``raises`` fixture, which also checks that the key is
in no str, repr, argument, attribute, chained error, formatted traceback or (as
IPython's verbose tracebacks would show them) local variable of our frames.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from api_support import FAST_RETRY, SECRET_KEY, SMALL, assert_no_key_in, image_bytes, leaks, wait_until_final
from hostile_server import Handler, Hostile

from seedance_widgets.api import SeedanceClient
from seedance_widgets.emulator import Emulator


@pytest.fixture(autouse=True)
def _no_key_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    for record in caplog.records:
        assert not leaks(record.getMessage()), f"log record from {record.name} holds the key"
        if record.exc_info:
            assert not leaks("".join(traceback.format_exception(*record.exc_info)))


@pytest.fixture
def raises() -> Callable[..., Any]:
    """Like ``pytest.raises``, and then checks the error does not hold the key."""

    @contextlib.contextmanager
    def check(expected: type[BaseException], match: str | None = None) -> Iterator[pytest.ExceptionInfo[Any]]:
        with pytest.raises(expected, match=match) as info:
            yield info
        assert_no_key_in(info.value)

    return check


@pytest.fixture
def gateway(emulator: Emulator) -> Emulator:
    """The test's emulator, accepting only ``SECRET_KEY`` and with short fault waits."""
    emulator.configure(api_key=SECRET_KEY, retry_after=1.0, hang_seconds=5.0)
    emulator.reset_stats()
    return emulator


@pytest.fixture
def sleeps() -> list[float]:
    """The waits the client asked for, in order (it never really sleeps in these tests)."""
    return []


@pytest.fixture
def client(gateway: Emulator, sleeps: list[float]) -> Iterator[SeedanceClient]:
    with SeedanceClient(
        SECRET_KEY, gateway.base_url, timeout=(2.0, 10.0), retry=FAST_RETRY, sleep=sleeps.append
    ) as made:
        yield made


@pytest.fixture
def video_url(client: SeedanceClient, gateway: Emulator) -> str:
    """The URL of one finished emulator video (counters reset afterwards)."""
    task = wait_until_final(client, client.create(SMALL).id)
    assert task.video_url, task
    gateway.reset_stats()
    client.request_counts.update(dict.fromkeys(client.request_counts, 0))
    return task.video_url


@pytest.fixture
def png_bytes() -> bytes:
    return image_bytes("PNG")


@pytest.fixture
def dead_url() -> str:
    """A loopback URL on which nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], Hostile]]:
    """Starts scripted ``hostile_server`` gateways on 127.0.0.1; all are stopped after the test."""
    started: list[Hostile] = []

    def start(handler: Handler) -> Hostile:
        started.append(Hostile(handler))
        return started[-1]

    yield start
    for server in started:
        server.stop()
