"""The emulator's MP4s, decoded with PyAV: size, rate, length, audio, determinism, given frames."""

from __future__ import annotations

import concurrent.futures
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from emu_support import (
    body,
    create,
    finished_video,
    fitted,
    frames_rgb,
    mean_abs_diff,
    pattern_png,
    poll,
    probe,
    upload,
    wait_final,
)

from seedance_widgets.api import OUTPUT_SIZES
from seedance_widgets.emulator import Emulator, EmulatorConfig
from seedance_widgets.emulator.mp4 import RenderSpec, render_mp4

ALL_SIZES = [(res, ratio) for res, ratios in OUTPUT_SIZES.items() for ratio in ratios]


@pytest.fixture(scope="module")
def fast_emulator() -> Iterator[Emulator]:
    """One emulator for the module's read-only checks (renders are cached across tests)."""
    with Emulator(EmulatorConfig(speed=1000.0)) as emu:
        yield emu


@pytest.fixture(scope="module")
def every_size(fast_emulator: Emulator) -> dict[tuple[str, str], bytes]:
    """One 4 s clip for each (resolution, ratio) of the contract, made concurrently."""
    emu = fast_emulator
    ids = {
        key: create(emu, body(aspect_ratio=key[1], metadata={"resolution": key[0], "seed": 11})).json()["id"]
        for key in ALL_SIZES
    }

    def fetch(task_id: str) -> bytes:
        task = wait_final(emu, task_id)
        return requests.get(task["result"]["data"][0]["url"], timeout=30).content

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        return dict(zip(ids, pool.map(fetch, ids.values()), strict=True))


@pytest.mark.parametrize(("resolution", "ratio"), ALL_SIZES)
def test_size_rate_and_length_for_every_resolution_and_ratio(
    every_size: dict[tuple[str, str], bytes], resolution: str, ratio: str
) -> None:
    info = probe(every_size[(resolution, ratio)])
    assert (info.width, info.height) == OUTPUT_SIZES[resolution][ratio]
    assert info.codec == "h264"
    assert info.pix_fmt == "yuv420p"
    assert info.fps == 24.0
    assert info.frames == 4 * 24
    assert abs(info.duration - 4.0) < 1 / 24
    assert not info.audio


def test_contract_example_5s_720p_with_audio(fast_emulator: Emulator) -> None:
    payload = {
        "model": "doubao-seedance-1-5-pro",
        "prompt": "Sunset at the beach, golden sunlight on the sea, waves gently hitting the sand",
        "duration": 5,
        "aspect_ratio": "16:9",
        "metadata": {"resolution": "720p", "audio": True},
    }
    _, data = finished_video(fast_emulator, payload)
    assert data[4:8] == b"ftyp"
    info = probe(data)
    assert (info.width, info.height) == (1280, 720)
    assert info.frames == 120
    assert abs(info.duration - 5.0) < 1 / 24
    assert info.audio
    assert info.audio_codec == "aac"
    assert info.audio_duration is not None
    assert abs(info.audio_duration - 5.0) < 0.1


def test_same_request_and_seed_give_identical_bytes_across_emulators() -> None:
    payload = body(meta_audio=True, meta_seed=1234)
    outputs = []
    for _ in range(2):
        with Emulator(EmulatorConfig(speed=1000.0)) as emu:  # separate runs: no shared cache
            outputs.append(finished_video(emu, payload)[1])
    assert outputs[0] == outputs[1]


def test_identical_requests_render_once(emulator: Emulator) -> None:
    emulator.configure(speed=1000.0)
    ids = [create(emulator, body(meta_seed=99)).json()["id"] for _ in range(3)]
    urls = [wait_final(emulator, task_id)["result"]["data"][0]["url"] for task_id in ids]
    assert len(set(urls)) == 3  # one URL per task (each expires on its own)
    datas = {requests.get(url, timeout=10).content for url in urls}
    assert len(datas) == 1
    stats = emulator.stats()
    assert stats["renders"] == 1
    assert stats["render_cache_hits"] == 2


def test_another_seed_gives_other_bytes_and_other_pictures(fast_emulator: Emulator) -> None:
    _, a = finished_video(fast_emulator, body(meta_seed=1))
    _, b = finished_video(fast_emulator, body(meta_seed=2))
    assert a != b
    fa, fb = frames_rgb(a, [30])[30], frames_rgb(b, [30])[30]
    assert mean_abs_diff(fa, fb) > 5


def test_frames_move(fast_emulator: Emulator) -> None:
    _, data = finished_video(fast_emulator, body(meta_seed=5))
    frames = frames_rgb(data, [0, 24, 48])
    assert mean_abs_diff(frames[0], frames[24]) > 0.5
    assert mean_abs_diff(frames[24], frames[48]) > 0.5


def test_random_seed_is_chosen_reported_and_reproducible(tmp_path: Path) -> None:
    with Emulator(EmulatorConfig(speed=1000.0)) as emu:
        created = create(emu, body(meta_seed=-1)).json()
        seed = created["metadata"]["seed"]
        assert isinstance(seed, int)
        assert 0 <= seed <= 2**32 - 1
        task = wait_final(emu, created["id"])
        assert task["metadata"]["seed"] == seed
        data = requests.get(task["result"]["data"][0]["url"], timeout=10).content
        no_seed = body()
        del no_seed["metadata"]["seed"]
        other = create(emu, no_seed).json()["metadata"]["seed"]
        assert 0 <= other <= 2**32 - 1
        assert other != seed
    with Emulator(EmulatorConfig(speed=1000.0)) as emu:
        _, again = finished_video(emu, body(meta_seed=seed))
    assert again == data


def test_first_and_last_frame_are_the_uploaded_images(emulator: Emulator) -> None:
    emulator.configure(speed=1000.0)
    size = OUTPUT_SIZES["480p"]["16:9"]
    first_png, last_png = pattern_png((400, 300), 0), pattern_png((300, 400), 1)
    first_url = upload(emulator, first_png).json()["data"]["url"]
    last_url = upload(emulator, last_png).json()["data"]["url"]
    roles = [{"url": first_url, "role": "first_frame"}, {"url": last_url, "role": "last_frame"}]
    _, data = finished_video(emulator, body(aspect_ratio="16:9", image_with_roles=roles))
    frames = frames_rgb(data, [0, 48, -1])
    want_first, want_last = fitted(first_png, size), fitted(last_png, size)
    assert mean_abs_diff(frames[0], want_first) < 6
    assert mean_abs_diff(frames[-1], want_last) < 6
    # The comparison can fail: the other image, and the middle of the clip, do not match.
    assert mean_abs_diff(frames[0], want_last) > 30
    assert mean_abs_diff(frames[48], want_first) > 20
    # image_urls with two URLs means first + last as well: the same clip.
    _, by_count = finished_video(emulator, body(aspect_ratio="16:9", image_urls=[first_url, last_url]))
    assert by_count == data


class Listener:
    """A loopback port that records every connection attempt, in the order they were made."""

    def __init__(self, server: socket.socket) -> None:
        self.address = server.getsockname()
        self.url = f"http://127.0.0.1:{self.address[1]}/picture.png"
        self.hits: list[str] = []
        self.changed = threading.Condition()

    def record(self, peer: object) -> None:
        with self.changed:
            self.hits.append(str(peer))
            self.changed.notify_all()

    def sentinel(self) -> str:
        """Connect once ourselves and wait until that connection is recorded. The kernel hands
        out queued connections first in, first out, so every attempt made before ours (by the
        emulator, say) is in ``hits`` by then: no waiting and hoping."""
        with socket.create_connection(self.address, timeout=5) as sock:
            me = str(sock.getsockname())
            with self.changed:
                assert self.changed.wait_for(lambda: me in self.hits, timeout=10)
        return me


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.1)
    found = Listener(server)
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                conn, addr = server.accept()
            except OSError:
                continue
            found.record(addr)
            conn.close()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    yield found
    stop.set()
    thread.join()
    server.close()


def test_foreign_image_urls_get_a_placeholder_and_are_never_fetched(
    emulator: Emulator, listener: Listener
) -> None:
    emulator.configure(speed=1000.0)
    url = listener.url
    refs = [{"url": url, "role": "reference_image"}]
    _, with_ref = finished_video(
        emulator, body(image_with_roles=[{"url": url, "role": "first_frame"}, *refs])
    )
    # The render is finished: any fetch of the image would have connected before this.
    assert listener.hits == [listener.sentinel()]
    _, plain = finished_video(emulator, body())
    first_placeholder, first_plain = frames_rgb(with_ref, [0])[0], frames_rgb(plain, [0])[0]
    assert mean_abs_diff(first_placeholder, first_plain) > 10


def test_server_answers_while_rendering(emulator: Emulator) -> None:
    emulator.configure(speed=1000.0)
    slow = body(duration=12, aspect_ratio="16:9", metadata={"resolution": "720p", "audio": True, "seed": 3})
    task_id = create(emulator, slow).json()["id"]
    worst = 0.0
    while poll(emulator, task_id).json()["status"] != "completed":
        assert emulator.stats()["active_renders"] <= 1
        started = time.perf_counter()
        assert poll(emulator, "task_vid_none").status_code == 404
        worst = max(worst, time.perf_counter() - started)
    # The event loop is never blocked for a whole render (several seconds at 12 s 720p + audio).
    assert worst < 1.5


def test_render_is_deterministic_when_called_twice(tmp_path: Path) -> None:
    spec = RenderSpec(
        prompt="two renders, one result", width=496, height=864, duration=4, audio=True, seed=77
    )
    a = render_mp4(spec, tmp_path / "a.mp4").read_bytes()
    b = render_mp4(spec, tmp_path / "b.mp4").read_bytes()
    assert a == b
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4", "b.mp4"]  # no temporary files left
