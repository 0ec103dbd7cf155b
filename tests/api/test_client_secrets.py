"""The API key appears in no repr, message, log line or pickle, and goes only to the gateway."""

from __future__ import annotations

import copy
import logging
import os
import pickle
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from api_support import SECRET_KEY, SMALL, assert_no_key_in, leaks, wait_until_final

import seedance_widgets
from seedance_widgets import __version__
from seedance_widgets.api import (
    ContentPolicyError,
    InvalidKeyError,
    MissingKeyError,
    RetryPolicy,
    SeedanceClient,
)
from seedance_widgets.emulator import Emulator

Raises = Callable[..., Any]


class RecordingSession(requests.Session):
    """A real session that notes what each request carried (headers and timeout) on its way out."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[dict[str, Any]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append(
            {
                "url": request.url,
                "method": request.method,
                "authorization": request.headers.get("Authorization"),
                "user_agent": request.headers.get("User-Agent"),
                "timeout": kwargs.get("timeout"),
            }
        )
        return super().send(request, **kwargs)


def test_the_key_is_not_in_the_clients_repr_str_or_attributes(gateway: Emulator) -> None:
    with SeedanceClient(f"  {SECRET_KEY}\n", gateway.base_url) as client:
        assert client.create(SMALL).id  # the stripped key works...
        for shown in (repr(client), str(client), repr(vars(client)), f"{client!r:>10}"):
            assert not leaks(shown)  # ...and never shows
        assert "hidden" in repr(client)


def test_pickling_or_copying_a_client_fails_without_revealing_the_key(gateway: Emulator) -> None:
    with SeedanceClient(SECRET_KEY, gateway.base_url) as client:
        for attempt in (
            lambda: pickle.dumps(client),
            lambda: copy.deepcopy(client),
            lambda: copy.copy(client),
        ):
            with pytest.raises(TypeError, match="cannot be pickled") as info:
                attempt()
            assert_no_key_in(info.value)


def test_no_log_record_holds_the_key_through_a_whole_faulty_session(
    gateway: Emulator, caplog: pytest.LogCaptureFixture, png_bytes: bytes, tmp_path: Path, raises: Raises
) -> None:
    caplog.set_level(logging.DEBUG)
    for kind in ("create", "get", "upload", "download"):
        gateway.fail_next(kind, "429")
    gateway.fail_next("get", "reset")
    with SeedanceClient(
        SECRET_KEY, gateway.base_url, retry=RetryPolicy(attempts=3), sleep=lambda _: None
    ) as client:
        client.upload_image(png_bytes)
        task = wait_until_final(client, client.create(SMALL).id)
        client.download(task.video_url or "", tmp_path / "v.mp4")
        with raises(ContentPolicyError):
            client.create(SMALL.replace(prompt="forbidden"))
    names = {record.name for record in caplog.records}
    # The check means something only if the libraries really logged at DEBUG.
    assert "seedance_widgets.api" in names
    assert "urllib3.connectionpool" in names
    texts = [record.getMessage() for record in caplog.records]
    assert any("retry" in text for text in texts)
    assert not any(leaks(text) for text in texts)
    assert not leaks(caplog.text)


def test_the_leak_check_itself_can_fail() -> None:
    with pytest.raises(AssertionError):
        assert_no_key_in(ValueError(f"oops {SECRET_KEY}"))
    hidden_cause = RuntimeError("innocent message")
    hidden_cause.__cause__ = OSError(f"header: Bearer {SECRET_KEY}")
    with pytest.raises(AssertionError):
        assert_no_key_in(hidden_cause)


def test_every_request_carries_user_agent_timeout_and_the_key_only_to_the_gateway(
    gateway: Emulator, png_bytes: bytes, tmp_path: Path
) -> None:
    session = RecordingSession()
    with SeedanceClient(SECRET_KEY, gateway.base_url, timeout=(3.0, 7.0), session=session) as client:
        client.upload_image(png_bytes)
        task = wait_until_final(client, client.create(SMALL).id)
        url = task.video_url or ""
        client.download(url, tmp_path / "same-origin.mp4")
        # The same server under another name is another origin: it must not get the key.
        elsewhere = url.replace("127.0.0.1", "localhost")
        assert elsewhere != url
        client.download(elsewhere, tmp_path / "other-origin.mp4")
    methods = {(entry["method"], entry["url"].split("/")[3]) for entry in session.sent}
    assert {("POST", "v1"), ("GET", "v1"), ("GET", "files")} <= methods
    for entry in session.sent:
        assert entry["user_agent"].startswith(f"seedance_widgets/{__version__}")
        assert entry["timeout"] == (3.0, 7.0)
    by_url = {entry["url"]: entry["authorization"] for entry in session.sent}
    assert by_url[url] == f"Bearer {SECRET_KEY}"
    assert by_url[elsewhere] is None
    assert all(auth == f"Bearer {SECRET_KEY}" for u, auth in by_url.items() if "/v1/" in u)


def test_default_timeout_is_set(gateway: Emulator) -> None:
    session = RecordingSession()
    with SeedanceClient(SECRET_KEY, gateway.base_url, session=session) as client:
        client.get(client.create(SMALL).id)
    assert all(entry["timeout"] is not None for entry in session.sent)
    assert len(session.sent) == 2


def test_a_hanging_upload_times_out_and_is_retried(gateway: Emulator, png_bytes: bytes) -> None:
    gateway.fail_next("upload", "hang")
    with SeedanceClient(
        SECRET_KEY, gateway.base_url, timeout=(2.0, 0.3), retry=RetryPolicy(attempts=2), sleep=lambda _: None
    ) as client:
        assert client.upload_image(png_bytes).startswith("http")
    assert gateway.stats()["upload"] == 2


# ---- keys that cannot be sent, refused when the client is made -----------------------------------

BAD_KEYS = {
    "inner-newline": (SECRET_KEY[:14] + "\n" + SECRET_KEY[14:], "a line break at character 15 of"),
    "inner-cr": (SECRET_KEY[:14] + "\r" + SECRET_KEY[14:], "a line break at character 15"),
    "tab": (SECRET_KEY[:9] + "\t" + SECRET_KEY[9:], "a tab at character 10"),
    "nul": (SECRET_KEY + "\0" + "x", "a control character (U+0000)"),
    "inner-space": (SECRET_KEY[:20] + " " + SECRET_KEY[20:], "a space at character 21"),
    "typographic-quote": (
        "\u201c" + SECRET_KEY + "\u201d",
        "U+201C (LEFT DOUBLE QUOTATION MARK) at character 1",
    ),
    "non-latin-1": (SECRET_KEY + "\u2014", "U+2014 (EM DASH)"),
    "latin-1-accent": (SECRET_KEY + "\u00e9", "U+00E9"),
    "too-short": ("sk-abc1", "only 7 characters long"),
}


@pytest.mark.parametrize(("key", "problem"), BAD_KEYS.values(), ids=BAD_KEYS.keys())
def test_a_key_that_cannot_be_sent_is_refused_when_the_client_is_made(
    key: str, problem: str, gateway: Emulator, raises: Raises
) -> None:
    with raises(InvalidKeyError, match=re.escape(problem)) as info:
        SeedanceClient(key, gateway.base_url)
    err = info.value
    assert isinstance(err, MissingKeyError)  # callers that handle "no usable key" catch it too
    assert "passed as api_key" in str(err)
    for piece in (key.strip(), SECRET_KEY[:14], SECRET_KEY[14:]):
        assert piece not in str(err)
        assert piece not in repr(err)
    assert pickle.loads(pickle.dumps(err)).args == err.args
    assert gateway.stats()["get"] + gateway.stats()["create"] == 0


def test_a_bad_key_from_the_environment_says_where_it_came_from(
    gateway: Emulator, monkeypatch: pytest.MonkeyPatch, raises: Raises
) -> None:
    monkeypatch.setenv("TOAPIS_API_KEY", SECRET_KEY[:14] + "\n" + SECRET_KEY[14:])
    with raises(InvalidKeyError, match="from TOAPIS_API_KEY") as info:
        SeedanceClient(base_url=gateway.base_url)
    assert info.value.position == 15


def test_surrounding_whitespace_is_not_a_problem(gateway: Emulator) -> None:
    with SeedanceClient(f"\t {SECRET_KEY} \r\n", gateway.base_url) as client:
        assert client.create(SMALL).id


def test_set_api_key_refuses_a_bad_key_and_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOAPIS_API_KEY", "sk-before-" + "0" * 20)
    with pytest.raises(InvalidKeyError, match="given to set_api_key") as info:
        seedance_widgets.set_api_key(SECRET_KEY + "\u2019")
    assert SECRET_KEY not in str(info.value)
    assert os.environ["TOAPIS_API_KEY"] == "sk-before-" + "0" * 20
