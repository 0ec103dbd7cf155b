"""Every injectable fault, observed from outside over real sockets; determinism under fault_seed."""

from __future__ import annotations

import http.client
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
from emu_support import SMALL_BODY, auth, create, finished_video, pattern_png, poll, save, upload

from seedance_widgets.api.media import mp4_problem
from seedance_widgets.emulator import FAULTS, Emulator, EmulatorConfig


@pytest.mark.parametrize(
    ("fault", "status", "error_type"),
    [
        ("402", 402, "insufficient_quota"),
        ("429", 429, "rate_limit_exceeded"),
        ("500", 500, "internal_error"),
        ("503", 503, "service_unavailable"),
    ],
)
def test_status_faults_answer_in_the_gateway_shape_and_make_no_task(
    emulator: Emulator, fault: str, status: int, error_type: str
) -> None:
    emulator.configure(retry_after=7)
    emulator.fail_next("create", fault)
    reply = create(emulator)
    assert reply.status_code == status
    error = reply.json()["error"]
    assert error["code"] == status
    assert error["type"] == error_type
    assert error["message"]
    if status in (429, 503):
        assert reply.headers["retry-after"] == "7"
    else:
        assert "retry-after" not in reply.headers
    assert emulator.stats()["tasks"] == 0
    assert emulator.stats()["faults"] == {fault: 1}
    assert create(emulator).status_code == 200  # only the next one failed


def test_fractional_retry_after_is_sent_as_given(emulator: Emulator) -> None:
    emulator.configure(retry_after=0.25)
    emulator.fail_next("get", "429")
    assert poll(emulator, "task_vid_x").headers["retry-after"] == "0.25"


def test_reset_after_create_drops_the_connection_but_makes_the_task(emulator: Emulator) -> None:
    emulator.fail_next("create", "reset")
    with pytest.raises(requests.ConnectionError) as info:
        create(emulator)
    assert "reset" in str(info.value).lower() or "aborted" in str(info.value).lower()
    stats = emulator.stats()
    assert stats["tasks"] == 1  # the body was read and acted on before the reset
    assert stats["create"] == 1
    assert stats["faults"] == {"reset": 1}
    assert emulator.task_ids()
    assert poll(emulator, emulator.task_ids()[0]).status_code == 200


def test_reset_is_a_real_tcp_reset(emulator: Emulator) -> None:
    emulator.fail_next("get", "reset")
    host, port = urlparse(emulator.base_url).hostname, urlparse(emulator.base_url).port
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request("GET", "/v1/videos/generations/task_vid_x", headers=auth(emulator))
    with pytest.raises(ConnectionResetError):
        conn.getresponse()
    conn.close()


@pytest.mark.parametrize("kind", ["get", "upload", "download"])
def test_reset_works_for_every_kind(emulator: Emulator, kind: str) -> None:
    task, _ = finished_video(emulator)
    emulator.fail_next(kind, "reset")
    calls = {
        "get": lambda: poll(emulator, task["id"]),
        "upload": lambda: upload(emulator, pattern_png((8, 8), 0)),
        "download": lambda: requests.get(task["result"]["data"][0]["url"], timeout=5),
    }
    with pytest.raises(requests.ConnectionError):
        calls[kind]()
    assert emulator.stats()["faults"] == {"reset": 1}


def test_hang_outlasts_a_client_timeout_and_the_task_exists(emulator: Emulator) -> None:
    emulator.configure(hang_seconds=10.0)
    emulator.fail_next("create", "hang")
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        requests.post(
            f"{emulator.base_url}/v1/videos/generations",
            json=SMALL_BODY,
            headers=auth(emulator),
            timeout=(2, 0.3),
        )
    # Generous bound: it only shows the client gave up long before the 10 s hang ended.
    assert time.monotonic() - started < 8
    assert emulator.stats()["tasks"] == 1
    assert poll(emulator, emulator.task_ids()[0]).status_code == 200  # the server was not blocked


def test_short_hang_delays_the_reply(emulator: Emulator) -> None:
    emulator.configure(hang_seconds=0.3)
    emulator.fail_next("get", "hang")
    started = time.monotonic()
    assert poll(emulator, "task_vid_x").status_code == 404
    assert time.monotonic() - started >= 0.3


def test_truncated_download_announces_more_than_it_sends(emulator: Emulator) -> None:
    task, data = finished_video(emulator)
    emulator.configure(truncate_fraction=0.25)
    emulator.fail_next("download", "truncate")
    url = urlparse(task["result"]["data"][0]["url"])
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    conn.request("GET", url.path)
    response = conn.getresponse()
    assert response.status == 200
    assert int(response.headers["content-length"]) == len(data)
    with pytest.raises(http.client.IncompleteRead) as info:
        response.read()
    assert len(info.value.partial) == int(len(data) * 0.25)
    assert info.value.partial == data[: len(info.value.partial)]
    conn.close()
    assert requests.get(task["result"]["data"][0]["url"], timeout=5).content == data  # next one whole


def raw_get(url: str) -> tuple[http.client.HTTPResponse, bytes, http.client.HTTPConnection]:
    """GET ``url`` with the standard library (no checks of ours), body read to its clean end."""
    parts = urlparse(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    conn.request("GET", parts.path)
    response = conn.getresponse()
    return response, response.read(), conn


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.75])
def test_chunked_truncate_ends_a_chunked_body_early_and_cleanly(emulator: Emulator, fraction: float) -> None:
    task, data = finished_video(emulator)
    emulator.configure(truncate_fraction=fraction)
    emulator.fail_next("download", "chunked_truncate")
    url = task["result"]["data"][0]["url"]
    response, got, conn = raw_get(url)  # no IncompleteRead: nothing at the HTTP level is wrong
    assert response.status == 200
    assert response.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.headers
    assert got == data[: int(len(data) * fraction)]
    # The connection is still good: the next request on it gets the whole file.
    conn.request("GET", urlparse(url).path)
    assert conn.getresponse().read() == data
    conn.close()
    assert emulator.stats()["faults"] == {"chunked_truncate": 1}


def test_broken_mp4_keeps_the_length_and_spoils_the_box_structure(emulator: Emulator, tmp_path: Path) -> None:
    task, data = finished_video(emulator)
    emulator.fail_next("download", "broken_mp4")
    url = task["result"]["data"][0]["url"]
    response, got, conn = raw_get(url)
    conn.close()
    assert int(response.headers["content-length"]) == len(data) == len(got)
    second_box = int.from_bytes(data[:4], "big")
    differs = [i for i in range(len(data)) if got[i] != data[i]]
    assert differs
    assert second_box <= min(differs) <= max(differs) < second_box + 4
    assert got[second_box : second_box + 4] == b"\0\0\0\x04"
    assert got[4:8] == b"ftyp"  # still starts like an MP4: only the structure check can tell
    assert mp4_problem(save(tmp_path, got)) is not None
    assert mp4_problem(save(tmp_path, data, "whole.mp4")) is None
    assert requests.get(url, timeout=5).content == data  # only the next one was spoiled


def test_chunked_truncate_cuts_api_replies_too_and_broken_mp4_leaves_them_alone(emulator: Emulator) -> None:
    task_id = create(emulator).json()["id"]
    emulator.configure(truncate_fraction=0.5)
    emulator.fail_next("get", "chunked_truncate")
    cut = poll(emulator, task_id)
    assert cut.status_code == 200
    assert "content-length" not in cut.headers
    assert cut.content.startswith(b'{"id"')
    with pytest.raises(ValueError):
        cut.json()
    emulator.fail_next("get", "broken_mp4")
    assert poll(emulator, task_id).json()["id"] == task_id
    assert emulator.stats()["faults"] == {"chunked_truncate": 1, "broken_mp4": 1}


def test_body_faults_leave_a_head_request_alone(emulator: Emulator) -> None:
    task, data = finished_video(emulator)
    for fault in ("chunked_truncate", "broken_mp4"):
        emulator.fail_next("download", fault)
        head = requests.head(task["result"]["data"][0]["url"], timeout=5)
        assert head.status_code == 200
        assert int(head.headers["content-length"]) == len(data)


def test_slow_fault_and_download_throttle_pace_the_bytes(emulator: Emulator) -> None:
    task, data = finished_video(emulator)
    url = task["result"]["data"][0]["url"]
    rate = len(data) / 1.5  # a second and a half for the whole file
    emulator.configure(slow_bytes_per_second=rate)
    emulator.fail_next("download", "slow")
    started = time.monotonic()
    assert requests.get(url, timeout=10).content == data
    assert time.monotonic() - started >= 1.2
    started = time.monotonic()
    requests.get(url, timeout=10)
    # Only the one request was slow (a margin wide enough for a loaded 2-core machine).
    assert time.monotonic() - started < 1.2
    emulator.configure(download_bytes_per_second=rate)
    started = time.monotonic()
    assert requests.get(url, timeout=10).content == data
    assert time.monotonic() - started >= 1.2


def test_latency_delays_api_requests_only(emulator: Emulator) -> None:
    emulator.configure(latency=1.5)
    started = time.monotonic()
    poll(emulator, "task_vid_x")
    assert time.monotonic() - started >= 1.5
    started = time.monotonic()
    requests.get(f"{emulator.base_url}/_emulator/stats", timeout=5)
    assert time.monotonic() - started < 1.0  # no added latency (wide margin for a loaded machine)


def test_fail_next_is_consumed_in_order(emulator: Emulator) -> None:
    emulator.configure(retry_after=0)
    emulator.configure(fail_next={"get": ["429", "500"]})
    emulator.fail_next("get", "503")
    codes = [poll(emulator, "task_vid_x").status_code for _ in range(4)]
    assert codes == [429, 500, 503, 404]
    assert emulator.config.fail_next == {"get": []}


def _statuses(emu: Emulator, n: int) -> list[int]:
    return [poll(emu, "task_vid_x").status_code for _ in range(n)]


def test_fault_rates_are_deterministic_under_fault_seed() -> None:
    config = {"fault_seed": 5, "retry_after": 0.0, "fault_rates": {"get": {"500": 0.3, "429": 0.2}}}
    with Emulator(EmulatorConfig(**config)) as emu:
        first = _statuses(emu, 60)
        emu.reset_stats()  # restarts the random streams
        again = _statuses(emu, 60)
        # Other kinds have their own stream: interleaving them changes nothing for "get".
        emu.reset_stats()
        emu.configure(fault_rates={**config["fault_rates"], "create": {"500": 0.5}})
        mixed = []
        for _ in range(60):
            create(emu, {"prompt": ""})
            mixed.append(poll(emu, "task_vid_x").status_code)
    with Emulator(EmulatorConfig(**{**config, "fault_seed": 6})) as emu:
        other = _statuses(emu, 60)
    assert first == again == mixed
    assert first != other
    assert 8 <= first.count(500) <= 30
    assert 4 <= first.count(429) <= 22
    assert first.count(404) >= 15


def test_reconfiguring_over_http_sets_faults(emulator: Emulator) -> None:
    reply = requests.post(
        f"{emulator.base_url}/_emulator/config", json={"fail_next": {"create": ["402"]}}, timeout=5
    )
    assert reply.status_code == 200
    assert create(emulator).status_code == 402


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="kind"):
        EmulatorConfig(fault_rates={"delete": {"500": 0.1}})
    with pytest.raises(ValueError, match="fault"):
        EmulatorConfig(fail_next={"get": ["boom"]})
    with pytest.raises(ValueError, match="add up"):
        EmulatorConfig(fault_rates={"get": {"500": 0.7, "429": 0.6}})
    with pytest.raises(ValueError, match="speed"):
        EmulatorConfig(speed=0)
    with pytest.raises(ValueError, match="profile"):
        EmulatorConfig(profile="instant")
    with pytest.raises(ValueError, match="unknown emulator setting"):
        EmulatorConfig().replace(sped=2)
    assert set(FAULTS) == {
        "402",
        "429",
        "500",
        "503",
        "reset",
        "hang",
        "truncate",
        "slow",
        "chunked_truncate",
        "broken_mp4",
    }
