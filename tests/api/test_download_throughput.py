"""Downloads read in large chunks (issue 12, benchmark row 3) and keep every promise.

The client reads a video in ``DOWNLOAD_CHUNK_BYTES`` (1 MiB) pieces and starts the disk write of
what it has written while the rest arrives. These tests hold the promises that could slip with
that: a steady transfer earns its time as bytes arrive (not once per chunk), the file is
byte-identical across many chunks and write-back windows, and caps still stop the transfer.
Servers are real sockets on 127.0.0.1 (``hostile_server``), scripted byte by byte.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from api_support import SECRET_KEY
from hostile_server import Handler, Hostile, Piece, head, reply

from seedance_widgets.api import DownloadError, RetryPolicy, SeedanceClient
from seedance_widgets.api.client import DOWNLOAD_CHUNK_BYTES
from seedance_widgets.api.media import mp4_problem


def mp4_shaped(size: int) -> bytes:
    """``size`` bytes the client's MP4 check accepts: ``ftyp``, one ``mdat`` of random bytes, ``moov``."""
    ftyp = (24).to_bytes(4, "big") + b"ftypisom" + (512).to_bytes(4, "big") + b"isomiso2"
    moov = (8).to_bytes(4, "big") + b"moov"
    mdat = size - len(ftyp) - len(moov)
    return ftyp + mdat.to_bytes(4, "big") + b"mdat" + os.urandom(mdat - 8) + moov


def steady(body: bytes, pieces: int, every: float) -> Iterator[Piece]:
    """``body`` with its Content-Length, in ``pieces`` equal parts ``every`` seconds apart."""
    yield head(200, {"Content-Length": str(len(body)), "Content-Type": "video/mp4"})
    step = -(-len(body) // pieces)
    for start in range(0, len(body), step):
        yield body[start : start + step]
        yield every


def test_a_steady_download_earns_time_within_one_chunk(
    serve: Callable[[Handler], Hostile], tmp_path: Path
) -> None:
    # 300 kB in 30 parts over ~1.5 s: one default chunk holds it all, so only time earned per byte
    # received (at the socket) keeps the 0.5 s base allowance from running out half way.
    body = mp4_shaped(300_000)
    assert len(body) < DOWNLOAD_CHUNK_BYTES
    gateway = serve(lambda seen: steady(body, pieces=30, every=0.05))
    with SeedanceClient(
        SECRET_KEY,
        gateway.base_url,
        download_timeout=0.5,
        download_min_rate=len(body) / 3.0,  # half the real rate: a steady transfer
        retry=RetryPolicy(attempts=1),
    ) as client:
        started = time.monotonic()
        dest = client.download(gateway.url("/v.mp4"), tmp_path / "v.mp4")
    assert time.monotonic() - started > 1.0  # longer than the base allowance, and still fine
    assert dest.read_bytes() == body


def test_a_large_download_is_whole_across_chunks_and_write_back_windows(
    serve: Callable[[Handler], Hostile], tmp_path: Path
) -> None:
    body = mp4_shaped(20 * DOWNLOAD_CHUNK_BYTES + 12_345)  # many chunks, a short last one
    gateway = serve(lambda seen: reply(200, body, {"Content-Type": "video/mp4"}))
    seen: list[tuple[int, int | None]] = []
    with SeedanceClient(SECRET_KEY, gateway.base_url, retry=RetryPolicy(attempts=1)) as client:
        dest = client.download(
            gateway.url("/v.mp4"), tmp_path / "v.mp4", progress=lambda got, total: seen.append((got, total))
        )
    assert mp4_problem(dest) is None
    assert hashlib.sha256(dest.read_bytes()).digest() == hashlib.sha256(body).digest()
    assert seen[-1] == (len(body), len(body))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]  # no .part left


def test_the_size_cap_stops_a_large_chunk_before_it_is_written(
    serve: Callable[[Handler], Hostile], tmp_path: Path
) -> None:
    # No Content-Length: the cap is met while streaming, inside the first (1 MiB) chunk.
    body = mp4_shaped(3 * DOWNLOAD_CHUNK_BYTES)
    gateway = serve(lambda seen: [head(200, {"Content-Type": "video/mp4", "Connection": "close"}), body])
    with (
        SeedanceClient(
            SECRET_KEY,
            gateway.base_url,
            max_download_bytes=DOWNLOAD_CHUNK_BYTES // 2,
            retry=RetryPolicy(attempts=1),
        ) as client,
        pytest.raises(DownloadError, match="max_download_bytes=524288"),
    ):
        client.download(gateway.url("/v.mp4"), tmp_path / "v.mp4")
    assert list(tmp_path.iterdir()) == []
