"""A hostile or broken gateway, over real loopback sockets: every reply shape the client must survive.

Wrong JSON types, progress out of range, video URLs the client must not fetch, redirect loops,
bodies that trickle, never end, declare 10 GB or unpack to gigabytes, task ids that are path
steps, a key echoed back in escaped forms, and download bodies no HTTP library can flag. The
emulator makes what it can (``chunked_truncate``, ``broken_mp4``, ``hang``, ``slow``); a small
raw server in ``hostile_server`` makes the rest.
"""

from __future__ import annotations

import json
import re
import time
import tracemalloc
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from api_support import FAST_RETRY, SECRET_KEY, SMALL, leaks
from hostile_server import (
    LAST_CHUNK,
    Handler,
    Hostile,
    Piece,
    Seen,
    chunk,
    gzip_bomb,
    head,
    reply,
    trickle,
    trickling_forever,
    wait_for,
)
from hostile_support import one_try_client

from seedance_widgets.api import (
    AuthenticationError,
    BadReplyError,
    BadRequestError,
    DownloadError,
    RateLimitError,
    RetryPolicy,
    SeedanceClient,
    ServerError,
    TaskMayExistError,
    TransportError,
    ValidationError,
)
from seedance_widgets.api.media import mp4_problem
from seedance_widgets.api.transport import Call, GuardedAdapter, address_problem
from seedance_widgets.emulator import Emulator

pytestmark = pytest.mark.reliability
Raises = Callable[..., Any]
TASK = {"id": "task_x", "status": "in_progress", "progress": 10}


def always(pieces: Iterable[Piece] | Callable[[], Iterable[Piece]]) -> Handler:
    """A handler giving every request the same reply."""
    return lambda seen: pieces() if callable(pieces) else list(pieces)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---- replies that are not a task ----------------------------------------------------------------

NOT_A_TASK = {
    "empty": b"",
    "spaces": b"   \n",
    "not-json": b"<html>gateway error</html>",
    "array": b"[]",
    "string": b'"task_x"',
    "number": b"42",
    "null": b"null",
    "id-float": json.dumps({"id": 1.5, "status": "queued"}).encode(),
    "id-list": json.dumps({"id": ["task_x"], "status": "queued"}).encode(),
    "id-bool": json.dumps({"id": True, "status": "queued"}).encode(),
    "no-id": json.dumps({"status": "queued"}).encode(),
    "status-number": json.dumps({"id": "task_x", "status": 3}).encode(),
    "status-missing": json.dumps({"id": "task_x", "progress": 5}).encode(),
    "status-object": json.dumps({"id": "task_x", "status": {"state": "queued"}}).encode(),
    "progress-list": json.dumps({"id": "task_x", "status": "queued", "progress": [50]}).encode(),
    "too-deep": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("body", NOT_A_TASK.values(), ids=NOT_A_TASK.keys())
def test_an_unusable_poll_reply_is_a_bad_reply_error(
    body: bytes, serve: Callable[[Handler], Hostile], raises: Raises
) -> None:
    gateway = serve(always(reply(200, body, {"Content-Type": "application/json"})))
    with one_try_client(gateway.base_url) as client, raises(BadReplyError, match="cannot be used") as info:
        client.get("task_x")
    assert isinstance(info.value, TransportError)  # the engine treats it as "poll again later"
    assert gateway.connections_before_mine() == 1


def test_a_poll_reply_about_another_task_is_a_bad_reply_error(
    serve: Callable[[Handler], Hostile], raises: Raises
) -> None:
    gateway = serve(always(reply(200, {**TASK, "id": "task_someone_else"})))
    with one_try_client(gateway.base_url) as client, raises(BadReplyError, match="task_someone_else"):
        client.get("task_x")


def test_a_bad_poll_reply_is_retried_like_a_network_fault(serve: Callable[[Handler], Hostile]) -> None:
    def handler(seen: Seen) -> list[Piece]:
        return reply(200, b"garbage") if len(gateway.seen) == 1 else reply(200, TASK)

    gateway = serve(handler)
    with one_try_client(gateway.base_url, retry=FAST_RETRY) as client:
        assert client.get("task_x").progress == 10
    assert gateway.connections_before_mine() == 2


NO_USABLE_TASK = {
    **NOT_A_TASK,
    "id-with-slash": json.dumps({"id": "../task_x", "status": "queued"}).encode(),
    "id-dotdot": json.dumps({"id": "..", "status": "queued"}).encode(),
}


@pytest.mark.parametrize("body", NO_USABLE_TASK.values(), ids=NO_USABLE_TASK.keys())
def test_a_create_answered_2xx_without_a_usable_task_means_the_task_may_exist(
    body: bytes, serve: Callable[[Handler], Hostile], raises: Raises
) -> None:
    gateway = serve(always(reply(200, body)))
    with (
        one_try_client(gateway.base_url, retry=FAST_RETRY) as client,
        raises(TaskMayExistError, match="NOT sent"),
    ):
        client.create(SMALL)
    assert gateway.connections_before_mine() == 1  # never re-sent


@pytest.mark.parametrize("status", [201, 202])
def test_a_create_answered_201_or_202_with_a_task_is_fine(
    status: int, serve: Callable[[Handler], Hostile]
) -> None:
    gateway = serve(always(reply(status, {**TASK, "status": "queued"})))
    with one_try_client(gateway.base_url) as client:
        assert client.create(SMALL).id == "task_x"


@pytest.mark.parametrize("status", [204, 301, 302, 307])
def test_a_create_answered_without_a_body_or_with_a_redirect_may_exist(
    status: int, serve: Callable[[Handler], Hostile], raises: Raises
) -> None:
    gateway = serve(always(reply(status, b"", {"Location": "/elsewhere"})))
    with one_try_client(gateway.base_url, retry=FAST_RETRY) as client, raises(TaskMayExistError):
        client.create(SMALL)
    assert [seen.path for seen in gateway.seen] == ["/v1/videos/generations"]  # the redirect not followed


@pytest.mark.parametrize(
    ("progress", "expected"), [(250, 100), (-7, 0), (100.0, 100), ("55", 55), ("abc", 0), (None, 0)]
)
def test_progress_out_of_range_is_clamped_not_fatal(
    progress: Any, expected: int, serve: Callable[[Handler], Hostile]
) -> None:
    gateway = serve(always(reply(200, {**TASK, "progress": progress})))
    with one_try_client(gateway.base_url) as client:
        assert client.get("task_x").progress == expected


# ---- video URLs the client must not fetch -------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("file:///etc/passwd", "only http and https"),
        ("ftp://127.0.0.1/v.mp4", "only http and https"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://169.254.1.2/v.mp4", "link-local"),
        ("http://[fe80::1]/v.mp4", "link-local"),
        ("http://[::ffff:169.254.169.254]/v.mp4", "metadata"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
        ("http://0.0.0.0:80/v.mp4", "not an ordinary host"),
        ("http://224.0.0.1/v.mp4", "not an ordinary host"),
        ("http://user:pass@127.0.0.1/v.mp4", "user name or password"),
    ],
)
def test_video_urls_outside_the_policy_are_refused_before_any_request(
    url: str, why: str, serve: Callable[[Handler], Hostile], tmp_path: Path, raises: Raises
) -> None:
    gateway = serve(always(reply(500, "should never be asked")))
    started = time.monotonic()
    with (
        one_try_client(gateway.base_url, retry=FAST_RETRY) as client,
        raises(DownloadError, match=why) as info,
    ):
        client.download(url, tmp_path / "v.mp4")
    assert not info.value.retryable
    assert time.monotonic() - started < 2.0
    assert client.request_counts["download"] == 0
    assert leftovers(tmp_path) == []


def test_internal_video_urls_are_refused_when_the_gateway_is_public(
    serve: Callable[[Handler], Hostile], tmp_path: Path, raises: Raises
) -> None:
    server = serve(always(reply(200, b"\0" * 100)))
    port = server.base_url.rsplit(":", 1)[1]
    with one_try_client("https://1.1.1.1") as client:  # a public gateway (never contacted here)
        for url in (server.url("/v.mp4"), f"http://localhost:{port}/v.mp4", f"http://[::1]:{port}/v.mp4"):
            with raises(DownloadError, match="loopback or private") as info:
                client.download(url, tmp_path / "v.mp4")
            assert not info.value.retryable
    assert server.connections_before_mine() == 0
    assert leftovers(tmp_path) == []


def test_the_address_really_connected_to_is_checked_too(serve: Callable[[Handler], Hostile]) -> None:
    """The URL check resolves names itself; the connection resolves again (a name may answer
    differently the second time), so the connected address is checked once more, before a
    byte is sent."""
    server = serve(always(reply(200, b"x")))
    session = requests.Session()
    session.mount("http://", GuardedAdapter())
    call = Call(check_peer=lambda ip: address_problem(ip, internal_ok=False))
    with call, pytest.raises(requests.ConnectionError):
        session.get(server.url("/v.mp4"), timeout=5)
    assert call.refused == "127.0.0.1 is a loopback or private address, and the gateway is not on one"
    wait_for(lambda: server.finished == 1)  # the server is done with that connection...
    assert server.seen == []  # ...which was opened, refused, and never sent a byte
    session.close()


def test_a_redirect_to_a_metadata_address_is_refused(
    serve: Callable[[Handler], Hostile], tmp_path: Path, raises: Raises
) -> None:
    gateway = serve(always(reply(302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"})))
    with (
        one_try_client(gateway.base_url, retry=FAST_RETRY) as client,
        raises(DownloadError, match="metadata"),
    ):
        client.download(gateway.url("/files/videos/v.mp4"), tmp_path / "v.mp4")
    assert gateway.connections_before_mine() == 1
    assert leftovers(tmp_path) == []


def test_a_redirect_loop_is_refused_at_once(
    serve: Callable[[Handler], Hostile], tmp_path: Path, raises: Raises
) -> None:
    def handler(seen: Seen) -> list[Piece]:
        return reply(302, b"", {"Location": "/b" if seen.path == "/a" else "/a"})

    gateway = serve(handler)
    started = time.monotonic()
    with (
        one_try_client(gateway.base_url, retry=FAST_RETRY) as client,
        raises(DownloadError, match="loop") as info,
    ):
        client.download(gateway.url("/a"), tmp_path / "v.mp4")
    assert not info.value.retryable
    assert [seen.path for seen in gateway.seen] == ["/a", "/b"]
    assert time.monotonic() - started < 2.0


def test_an_endless_redirect_chain_stops_at_the_cap(
    serve: Callable[[Handler], Hostile], tmp_path: Path, raises: Raises
) -> None:
    gateway = serve(lambda seen: reply(307, b"", {"Location": f"/hop/{len(gateway.seen)}"}))
    with (
        one_try_client(gateway.base_url, retry=FAST_RETRY) as client,
        raises(DownloadError, match="more than 5"),
    ):
        client.download(gateway.url("/start"), tmp_path / "v.mp4")
    assert gateway.connections_before_mine() == 6


def test_a_redirect_holding_the_key_is_not_followed(
    serve: Callable[[Handler], Hostile], tmp_path: Path, raises: Raises
) -> None:
    echo = urllib.parse.quote(SECRET_KEY, safe="")
    gateway = serve(always(reply(302, b"", {"Location": f"http://127.0.0.1:9/v.mp4?token={echo}"})))
    with one_try_client(gateway.base_url) as client, raises(DownloadError, match="holding the API key"):
        client.download(gateway.url("/v.mp4"), tmp_path / "v.mp4")


def test_a_redirect_to_the_gateways_video_is_followed_and_the_key_stays_home(
    client: SeedanceClient, video_url: str, serve: Callable[[Handler], Hostile], tmp_path: Path
) -> None:
    cdn = serve(always(reply(302, b"", {"Location": video_url})))
    dest = client.download(cdn.url("/signed/v.mp4"), tmp_path / "v.mp4")
    assert mp4_problem(dest) is None
    assert "authorization" not in cdn.seen[0].headers  # another origin never gets the key


# ---- bodies that never end, trickle, or claim to be huge ---------------------------------------


def test_an_endless_poll_reply_stops_at_the_size_cap(
    serve: Callable[[Handler], Hostile], raises: Raises
) -> None:
    def endless() -> Iterator[Piece]:
        yield head(200, {"Transfer-Encoding": "chunked", "Content-Type": "application/json"})
        while True:
            yield chunk(b" " * 65536)  # JSON whitespace, for ever

    gateway = serve(always(endless))
    started = time.monotonic()
    with one_try_client(gateway.base_url) as client, raises(BadReplyError, match="larger than 4194304 bytes"):
        client.get("task_x")
    assert time.monotonic() - started < 10.0


@pytest.mark.parametrize("phase", ["status-line", "headers", "body"])
def test_a_trickled_poll_reply_stops_at_the_total_deadline(
    phase: str, serve: Callable[[Handler], Hostile], raises: Raises
) -> None:
    body = json.dumps(TASK).encode()
    whole = head(200, {"Content-Length": str(len(body) + 10_000)}) + body
    cut = {"status-line": 0, "headers": 20, "body": len(whole)}[phase]

    def pieces() -> Iterator[Piece]:
        yield whole[:cut]
        yield from trickle(whole[cut:] + b" " * 10_000, 0.02)

    gateway = serve(always(pieces))
    started = time.monotonic()
    # Each byte comes well within the 5 s read timeout: only the total deadline can stop this.
    with (
        one_try_client(gateway.base_url, total_timeout=1.0) as client,
        raises(TransportError, match="total_timeout=1 s"),
    ):
        client.get("task_x")
    assert 0.9 < time.monotonic() - started < 5.0


def test_a_create_whose_reply_trickles_past_the_deadline_may_exist(
    serve: Callable[[Handler], Hostile], raises: Raises
) -> None:
    gateway = serve(always(lambda: trickling_forever(0.02, head(200, {"Content-Length": "100000"}))))
    started = time.monotonic()
    with (
        one_try_client(gateway.base_url, total_timeout=1.0, retry=FAST_RETRY) as client,
        raises(TaskMayExistError),
    ):
        client.create(SMALL)
    assert 0.9 < time.monotonic() - started < 5.0
    assert gateway.connections_before_mine() == 1


def test_a_create_the_gateway_holds_past_the_deadline_may_exist(gateway: Emulator, raises: Raises) -> None:
    gateway.configure(hang_seconds=30.0)
    gateway.fail_next("create", "hang")
    started = time.monotonic()
    with (
        SeedanceClient(SECRET_KEY, gateway.base_url, timeout=(2.0, 30.0), total_timeout=1.0) as client,
        raises(TaskMayExistError, match="total_timeout=1 s"),
    ):
        client.create(SMALL)
    assert time.monotonic() - started < 5.0
    assert gateway.stats()["tasks"] == 1  # it was made: "may exist" was the truth


def test_a_trickled_upload_reply_stops_at_the_deadline(
    serve: Callable[[Handler], Hostile], png_bytes: bytes, raises: Raises
) -> None:
    gateway = serve(always(lambda: trickling_forever(0.02, head(200, {"Content-Length": "100000"}))))
    started = time.monotonic()
    with (
        one_try_client(gateway.base_url, total_timeout=1.0) as client,
        raises(TransportError, match="total_timeout"),
    ):
        client.upload_image(png_bytes)
    assert time.monotonic() - started < 5.0


def test_a_trickled_download_stops_at_its_time_limit(
    serve: Callable[[Handler], Hostile], tmp_path: Path, raises: Raises
) -> None:
    gateway = serve(always(lambda: trickling_forever(0.02, head(200, {"Content-Length": "1000000"}))))
    started = time.monotonic()
    with (
        one_try_client(gateway.base_url, download_timeout=1.0, download_min_rate=1e9) as client,
        raises(DownloadError, match="did not finish within") as info,
    ):
        client.download(gateway.url("/v.mp4"), tmp_path / "v.mp4")
    assert info.value.retryable
    assert 0.9 < time.monotonic() - started < 5.0
    assert leftovers(tmp_path) == []


def test_a_steady_download_earns_time_beyond_its_base_allowance(
    gateway: Emulator, video_url: str, tmp_path: Path
) -> None:
    size = len(requests.get(video_url, timeout=5).content)
    gateway.configure(slow_bytes_per_second=size / 1.5)  # about 1.5 s in all
    gateway.fail_next("download", "slow")
    with SeedanceClient(
        SECRET_KEY,
        gateway.base_url,
        download_timeout=0.5,
        download_min_rate=size / 3.0,
        retry=RetryPolicy(attempts=1),
    ) as client:
        started = time.monotonic()
        # Small chunks: the allowance grows as each chunk is handed over.
        assert mp4_problem(client.download(video_url, tmp_path / "v.mp4", chunk_size=4096)) is None
    assert time.monotonic() - started > 1.0  # longer than the base allowance, and still fine


def test_a_video_declaring_10_gb_is_refused_before_anything_is_written(
    serve: Callable[[Handler], Hostile], tmp_path: Path, raises: Raises
) -> None:
    declared = str(10 * 1024**3)
    gateway = serve(always(lambda: trickling_forever(0.05, head(200, {"Content-Length": declared}))))
    started = time.monotonic()
    with (
        one_try_client(gateway.base_url, retry=FAST_RETRY) as client,
        raises(DownloadError, match=declared) as info,
    ):
        client.download(gateway.url("/v.mp4"), tmp_path / "v.mp4")
    assert not info.value.retryable
    assert time.monotonic() - started < 2.0
    assert gateway.connections_before_mine() == 1
    assert leftovers(tmp_path) == []


def test_an_endless_video_stops_at_max_download_bytes(
    serve: Callable[[Handler], Hostile], tmp_path: Path, raises: Raises
) -> None:
    def endless() -> Iterator[Piece]:
        yield head(200, {"Transfer-Encoding": "chunked"})
        yield chunk(b"\0\0\0\x20ftypisom" + b"\0" * 20)
        while True:
            yield chunk(b"\0" * 65536)

    gateway = serve(always(endless))
    with (
        one_try_client(gateway.base_url, retry=FAST_RETRY, max_download_bytes=1 << 20) as client,
        raises(DownloadError, match="max_download_bytes=1048576") as info,
    ):
        client.download(gateway.url("/v.mp4"), tmp_path / "v.mp4")
    assert not info.value.retryable
    assert gateway.connections_before_mine() == 1
    assert leftovers(tmp_path) == []


# ---- compressed bombs -------------------------------------------------------------------------------

BOMB = gzip_bomb(members=8, member_bytes=32 << 20)  # 256 MiB of spaces in about 250 KB


def peak_memory(run: Callable[[], None]) -> int:
    tracemalloc.start()
    try:
        run()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def bomb_reply(status: int) -> list[Piece]:
    return reply(status, BOMB, {"Content-Encoding": "gzip", "Content-Type": "application/json"})


def test_a_gzip_bomb_poll_reply_is_refused_without_unpacking_it(
    serve: Callable[[Handler], Hostile], raises: Raises
) -> None:
    gateway = serve(always(bomb_reply(200)))

    def run() -> None:
        with one_try_client(gateway.base_url) as client, raises(BadReplyError, match="larger than"):
            client.get("task_x")

    assert peak_memory(run) < 32 << 20  # the reply cap is 4 MiB; unpacked, the reply is 256 MiB


def test_a_gzip_bomb_create_reply_means_the_task_may_exist(
    serve: Callable[[Handler], Hostile], raises: Raises
) -> None:
    gateway = serve(always(bomb_reply(200)))

    def run() -> None:
        with one_try_client(gateway.base_url) as client, raises(TaskMayExistError, match="larger than"):
            client.create(SMALL)

    assert peak_memory(run) < 32 << 20


def test_a_gzip_bomb_error_page_is_read_only_in_part(
    serve: Callable[[Handler], Hostile], raises: Raises
) -> None:
    gateway = serve(always(bomb_reply(500)))

    def run() -> None:
        with one_try_client(gateway.base_url) as client, raises(ServerError):
            client.get("task_x")

    assert peak_memory(run) < 16 << 20


def test_a_compressed_video_is_refused_and_never_kept(
    serve: Callable[[Handler], Hostile], tmp_path: Path, raises: Raises
) -> None:
    gateway = serve(always(reply(200, BOMB, {"Content-Encoding": "gzip", "Content-Type": "video/mp4"})))
    with (
        one_try_client(gateway.base_url, retry=FAST_RETRY) as client,
        raises(DownloadError, match="compressed") as info,
    ):
        client.download(gateway.url("/v.mp4"), tmp_path / "v.mp4")
    assert not info.value.retryable
    assert gateway.seen[0].headers["accept-encoding"] == "identity"  # it was asked for plain bytes
    assert gateway.connections_before_mine() == 1
    assert leftovers(tmp_path) == []


# ---- Retry-After ---------------------------------------------------------------------------------


def test_a_retry_after_past_the_calls_deadline_is_raised_not_waited(
    serve: Callable[[Handler], Hostile], raises: Raises
) -> None:
    gateway = serve(always(reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "30"})))
    sleeps: list[float] = []
    with (
        one_try_client(gateway.base_url, retry=FAST_RETRY, total_timeout=5.0, sleep=sleeps.append) as client,
        raises(RateLimitError),
    ):
        client.get("task_x")  # 30 s is within max_retry_after (300 s), but not within this call's 5 s
    assert sleeps == []
    assert gateway.connections_before_mine() == 1


@pytest.mark.parametrize("header", ["86400", "1e308", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_an_enormous_retry_after_is_never_waited(
    header: str, serve: Callable[[Handler], Hostile], raises: Raises
) -> None:
    gateway = serve(always(reply(503, {"error": {"message": "later"}}, {"Retry-After": header})))
    sleeps: list[float] = []
    policy = RetryPolicy(attempts=5, max_retry_after=60.0)
    with (
        one_try_client(gateway.base_url, retry=policy, total_timeout=1e6, sleep=sleeps.append) as client,
        raises(ServerError),
    ):
        client.get("task_x")
    assert sleeps == []
    assert policy.delay(1, 1e308) == 60.0  # and the policy itself never hands out more


# ---- task ids ------------------------------------------------------------------------------------


@pytest.mark.parametrize("task_id", ["a/b", "../task", "..", ".", "a\\b", "task x", "x\ny", "t" * 300])
def test_task_ids_that_are_not_one_path_segment_are_refused_at_once(
    task_id: str, serve: Callable[[Handler], Hostile], raises: Raises
) -> None:
    gateway = serve(always(reply(200, TASK)))
    started = time.monotonic()
    with one_try_client(gateway.base_url) as client, raises(ValidationError) as info:
        client.get(task_id)
    assert info.value.field == "task_id"
    assert time.monotonic() - started < 1.0
    assert gateway.connections_before_mine() == 0


@pytest.mark.parametrize(
    ("task_id", "path"),
    [("a..b", "a..b"), ("task?x=1#f", "task%3Fx%3D1%23f"), ("tâche", "t%C3%A2che"), ("%2F", "%252F")],
)
def test_other_task_ids_are_quoted_into_one_path_segment(
    task_id: str, path: str, serve: Callable[[Handler], Hostile]
) -> None:
    gateway = serve(lambda seen: reply(200, {**TASK, "id": task_id}))
    with one_try_client(gateway.base_url) as client:
        assert client.get(task_id).id == task_id
    assert gateway.seen[0].path == f"/v1/videos/generations/{path}"


# ---- a key echoed back ---------------------------------------------------------------------------


def encodings(key: str) -> dict[str, str]:
    """The key as a gateway might echo it: JSON escapes, URL encodings, HTML references, mixes."""
    return {
        "json-u-escapes": "".join(f"\\u{ord(c):04x}" for c in key),
        "json-u-upper": "".join(f"\\u{ord(c):04X}" for c in key),
        "json-some-escaped": "".join(f"\\u{ord(c):04x}" if i % 3 == 0 else c for i, c in enumerate(key)),
        "url-encoded": "".join(f"%{ord(c):02X}" for c in key),
        "url-mixed": urllib.parse.quote(key[:10], safe="") + "".join(f"%{ord(c):02x}" for c in key[10:]),
        "url-double": "".join(f"%25{ord(c):02X}" for c in key),
        "html-refs": "".join(f"&#{ord(c)};" for c in key),
        "bearer-header": "Bearer " + key,
    }


ECHOES = encodings(SECRET_KEY)


@pytest.mark.parametrize("echo", ECHOES.values(), ids=ECHOES.keys())
def test_a_key_echoed_in_an_error_reply_is_masked(
    echo: str, serve: Callable[[Handler], Hostile], raises: Raises
) -> None:
    # Written into the JSON text by hand, so the escapes reach the client as sent.
    body = '{"error": {"message": "invalid key: ' + echo.replace('"', '\\"') + '", "type": "bad_key"}}'
    gateway = serve(always(reply(400, body, {"Content-Type": "application/json"})))
    with one_try_client(gateway.base_url) as client, raises(BadRequestError) as info:
        client.get("task_x")
    assert "<hidden>" in info.value.gateway_message
    assert "invalid key" in info.value.gateway_message


@pytest.mark.parametrize("echo", ECHOES.values(), ids=ECHOES.keys())
def test_a_key_echoed_in_a_cut_off_json_error_is_masked_in_the_raw_text(
    echo: str, serve: Callable[[Handler], Hostile], raises: Raises
) -> None:
    # Not JSON (cut off), so the error shows the raw text: the escapes are never decoded for us.
    body = '{"error": {"message": "invalid key: ' + echo + '", "type": "bad_k'
    gateway = serve(always(reply(503, body, {"Content-Type": "application/json"})))
    with one_try_client(gateway.base_url) as client, raises(ServerError) as info:
        client.get("task_x")
    assert re.search(r"invalid key: (Bearer )?<hidden>", info.value.gateway_message)


@pytest.mark.parametrize("echo", ECHOES.values(), ids=ECHOES.keys())
def test_a_key_echoed_in_a_task_reply_is_masked_before_it_reaches_the_ledger(
    echo: str, serve: Callable[[Handler], Hostile]
) -> None:
    body = (
        '{"id": "task_x", "status": "failed", "progress": 40, "error": {"code": "bad", "message": "key '
        + echo.replace('"', '\\"')
        + ' refused"}, "echo": {"'
        + echo.replace('"', '\\"')
        + '": 1}}'
    )
    gateway = serve(always(reply(200, body, {"Content-Type": "application/json"})))
    with one_try_client(gateway.base_url) as client:
        task = client.get("task_x")
    assert task.error_message is not None
    assert task.error_message.startswith("key ")
    assert task.error_message.endswith("<hidden> refused")
    for shown in (repr(task), json.dumps(dict(task.raw)), str(task.error_message)):
        assert not leaks(shown)
        assert not leaks(urllib.parse.unquote(shown))


def test_a_key_with_a_slash_echoed_with_json_short_escapes_is_masked(
    serve: Callable[[Handler], Hostile], raises: Raises
) -> None:
    key = "sk-with/slash/" + SECRET_KEY[-12:]
    echoed = key.replace("/", "\\/")
    gateway = serve(always(reply(401, '{"error": {"message": "no such key ' + echoed + '"}}')))
    with (
        SeedanceClient(key, gateway.base_url, retry=RetryPolicy(attempts=1)) as client,
        pytest.raises(AuthenticationError) as info,
    ):
        client.get("task_x")
    assert key not in str(info.value)
    assert "no such key <hidden>" in str(info.value)


def test_a_key_echoed_in_an_html_error_page_is_masked(
    serve: Callable[[Handler], Hostile], raises: Raises
) -> None:
    encoded = "".join(f"%{ord(c):02X}" for c in SECRET_KEY)
    page = f"<html><body><h1>502</h1><p>upstream said: {encoded} (Bearer {SECRET_KEY})</p>"
    gateway = serve(always(reply(502, page, {"Content-Type": "text/html"})))
    with one_try_client(gateway.base_url) as client, raises(ServerError) as info:
        client.get("task_x")
    # Masked before the page is reduced to its words, and the mark survives that.
    assert "upstream said: <hidden> (Bearer <hidden>)" in str(info.value)


# ---- download bodies that no HTTP library flags: only our checks can -----------------------------


@pytest.mark.parametrize("fraction", [0.5, 0.95])
def test_a_chunked_body_that_ends_early_is_never_kept(
    fraction: float, client: SeedanceClient, gateway: Emulator, video_url: str, tmp_path: Path, raises: Raises
) -> None:
    gateway.configure(truncate_fraction=fraction)
    gateway.fail_next("download", "chunked_truncate", 10)
    with raises(DownloadError, match="not a whole MP4") as info:
        client.download(video_url, tmp_path / "v.mp4")
    assert info.value.retryable
    assert gateway.stats()["faults"] == {"chunked_truncate": FAST_RETRY.attempts}
    assert leftovers(tmp_path) == []  # neither the final name nor a .part


def test_one_early_end_is_retried_into_a_whole_file(
    client: SeedanceClient, gateway: Emulator, video_url: str, tmp_path: Path
) -> None:
    gateway.fail_next("download", "chunked_truncate")
    dest = client.download(video_url, tmp_path / "v.mp4")
    assert dest.read_bytes() == requests.get(video_url, timeout=5).content
    assert leftovers(tmp_path) == ["v.mp4"]


def test_a_well_sized_broken_mp4_is_never_kept(
    client: SeedanceClient, gateway: Emulator, video_url: str, tmp_path: Path, raises: Raises
) -> None:
    gateway.fail_next("download", "broken_mp4", 10)
    with raises(DownloadError, match="impossible size"):
        client.download(video_url, tmp_path / "v.mp4")
    assert gateway.stats()["faults"] == {"broken_mp4": FAST_RETRY.attempts}
    assert leftovers(tmp_path) == []


def test_a_chunked_body_shorter_than_its_content_length_is_never_kept(
    video_url: str, serve: Callable[[Handler], Hostile], tmp_path: Path, raises: Raises
) -> None:
    """Both framing headers (a sloppy proxy): HTTP says chunked wins, so urllib3 ignores the
    Content-Length, and the body is a whole, valid MP4: only our byte count can tell."""
    data = requests.get(video_url, timeout=5).content
    assert mp4_problem_of(data, tmp_path) is None
    sloppy = [
        head(200, {"Transfer-Encoding": "chunked", "Content-Length": str(len(data) + 100)}),
        chunk(data),
        LAST_CHUNK,
    ]
    cdn = serve(always(sloppy))
    with (
        one_try_client(cdn.base_url) as client,
        raises(DownloadError, match=f"{len(data)} of {len(data) + 100}"),
    ):
        client.download(cdn.url("/v.mp4"), tmp_path / "v.mp4")
    assert leftovers(tmp_path) == []


def mp4_problem_of(data: bytes, folder: Path) -> str | None:
    path = folder / "probe.mp4"
    path.write_bytes(data)
    try:
        return mp4_problem(path)
    finally:
        path.unlink()
