"""Downloads over loopback: streamed to a temporary file, checked, renamed; never a half file at dest."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import pytest
import requests
from api_support import FAST_RETRY, SECRET_KEY

from seedance_widgets.api import DownloadError, RetryPolicy, SeedanceClient, URLExpiredError
from seedance_widgets.api.media import mp4_problem
from seedance_widgets.emulator import Emulator

Raises = Callable[..., Any]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_download_streams_a_whole_mp4_into_place(
    client: SeedanceClient, gateway: Emulator, video_url: str, tmp_path: Path
) -> None:
    dest = tmp_path / "new" / "folder" / "clip.mp4"
    seen: list[tuple[int, int | None]] = []
    assert (
        client.download(
            video_url, dest, progress=lambda got, total: seen.append((got, total)), chunk_size=4096
        )
        == dest
    )
    expected = requests.get(video_url, timeout=5).content
    assert dest.read_bytes() == expected
    assert mp4_problem(dest) is None
    assert seen[-1] == (len(expected), len(expected))
    assert len(seen) > 1  # really streamed in chunks
    assert [got for got, _ in seen] == sorted(got for got, _ in seen)
    assert leftovers(dest.parent) == ["clip.mp4"]
    with av.open(str(dest)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (640, 640)
    assert gateway.stats()["download"] == 2  # ours, then the reference copy


def test_a_relative_url_is_the_gateways_own(client: SeedanceClient, video_url: str, tmp_path: Path) -> None:
    path = video_url.removeprefix(client.base_url)
    assert path.startswith("/")
    assert mp4_problem(client.download(path, tmp_path / "c.mp4")) is None


def test_a_truncated_download_is_retried(
    client: SeedanceClient, gateway: Emulator, video_url: str, tmp_path: Path, sleeps: list[float]
) -> None:
    gateway.fail_next("download", "truncate")
    dest = client.download(video_url, tmp_path / "c.mp4")
    assert mp4_problem(dest) is None
    assert gateway.stats()["download"] == 2
    assert gateway.stats()["faults"] == {"truncate": 1}
    assert len(sleeps) == 1
    assert leftovers(tmp_path) == ["c.mp4"]


@pytest.mark.parametrize("fraction", [0.0, 0.5, 0.99])
def test_an_always_truncated_download_fails_leaving_nothing(
    fraction: float, client: SeedanceClient, gateway: Emulator, video_url: str, tmp_path: Path, raises: Raises
) -> None:
    gateway.configure(truncate_fraction=fraction)
    gateway.fail_next("download", "truncate", 10)
    dest = tmp_path / "c.mp4"
    with raises(DownloadError) as info:
        client.download(video_url, dest)
    assert not isinstance(info.value, URLExpiredError)
    assert info.value.retryable
    assert gateway.stats()["download"] == FAST_RETRY.attempts
    assert not dest.exists()
    assert leftovers(tmp_path) == []  # no .part file left behind


def test_a_failed_download_leaves_an_older_file_at_dest_untouched(
    client: SeedanceClient, gateway: Emulator, video_url: str, tmp_path: Path, raises: Raises
) -> None:
    dest = tmp_path / "c.mp4"
    dest.write_bytes(b"the previous, good file")
    gateway.fail_next("download", "truncate", 10)
    with raises(DownloadError):
        client.download(video_url, dest)
    assert dest.read_bytes() == b"the previous, good file"
    assert leftovers(tmp_path) == ["c.mp4"]


def test_download_survives_500_429_and_reset(
    client: SeedanceClient, gateway: Emulator, video_url: str, tmp_path: Path
) -> None:
    for fault in ("500", "429", "reset"):
        gateway.fail_next("download", fault)
    assert mp4_problem(client.download(video_url, tmp_path / "c.mp4")) is None
    assert gateway.stats()["download"] == 4


def test_something_that_is_not_an_mp4_is_refused_at_once(
    client: SeedanceClient, gateway: Emulator, png_bytes: bytes, tmp_path: Path, raises: Raises
) -> None:
    image_url = client.upload_image(png_bytes)
    gateway.reset_stats()
    dest = tmp_path / "c.mp4"
    with raises(DownloadError, match="not an MP4") as info:
        client.download(image_url, dest)
    assert not info.value.retryable
    assert gateway.stats()["download"] == 1
    assert leftovers(tmp_path) == []


def test_an_unknown_video_is_404_url_expired(
    client: SeedanceClient, gateway: Emulator, tmp_path: Path, sleeps: list[float], raises: Raises
) -> None:
    with raises(URLExpiredError, match="HTTP 404") as info:
        client.download(f"{gateway.base_url}/files/videos/task_vid_gone.mp4", tmp_path / "c.mp4")
    assert "new (paid) task" in str(info.value)
    assert gateway.stats()["download"] == 1
    assert sleeps == []
    assert leftovers(tmp_path) == []


def test_an_expired_video_is_410_url_expired(
    client: SeedanceClient,
    gateway: Emulator,
    video_url: str,
    tmp_path: Path,
    sleeps: list[float],
    raises: Raises,
) -> None:
    gateway.configure(expiry_seconds=0.0)
    with raises(URLExpiredError, match="HTTP 410"):
        client.download(video_url, tmp_path / "c.mp4")
    assert gateway.stats()["download"] == 1
    assert sleeps == []
    assert leftovers(tmp_path) == []


def test_a_slow_download_completes(gateway: Emulator, video_url: str, tmp_path: Path) -> None:
    size = len(requests.get(video_url, timeout=5).content)
    # About half a second in all, while the read timeout (1 s) bounds each chunk, not the whole.
    gateway.configure(slow_bytes_per_second=size / 0.5)
    gateway.fail_next("download", "slow")
    with SeedanceClient(
        SECRET_KEY, gateway.base_url, timeout=(2.0, 1.0), retry=RetryPolicy(attempts=1)
    ) as client:
        started = time.monotonic()
        dest = client.download(video_url, tmp_path / "c.mp4")
        elapsed = time.monotonic() - started
    assert mp4_problem(dest) is None
    assert dest.stat().st_size == size
    assert elapsed >= 0.4  # the throttle really applied
    assert gateway.stats()["faults"] == {"slow": 1}


def test_a_stalled_download_times_out_and_is_retried(
    gateway: Emulator, video_url: str, tmp_path: Path
) -> None:
    gateway.fail_next("download", "hang")
    with SeedanceClient(
        SECRET_KEY, gateway.base_url, timeout=(2.0, 0.3), retry=RetryPolicy(attempts=2), sleep=lambda _: None
    ) as client:
        dest = client.download(video_url, tmp_path / "c.mp4")
    assert mp4_problem(dest) is None
    assert gateway.stats()["download"] == 2
