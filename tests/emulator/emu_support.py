"""Helpers of the emulator's tests: raw HTTP calls (no client in between) and MP4 probing."""

from __future__ import annotations

import dataclasses
import io
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import requests
from PIL import Image

from seedance_widgets.emulator import Emulator

#: Cheapest clip the emulator renders: 4 s, 480p, 1:1, no audio.
SMALL_BODY: dict[str, Any] = {
    "model": "doubao-seedance-1-5-pro",
    "prompt": "a small red ball bounces",
    "duration": 4,
    "aspect_ratio": "1:1",
    "metadata": {"resolution": "480p", "audio": False, "seed": 7},
}


def body(**changes: Any) -> dict[str, Any]:
    """SMALL_BODY with top-level fields changed and ``meta_*`` keys put into metadata."""
    out = {**SMALL_BODY, "metadata": dict(SMALL_BODY["metadata"])}
    for key, value in changes.items():
        if key.startswith("meta_"):
            out["metadata"][key[5:]] = value
        else:
            out[key] = value
    return out


def auth(emu: Emulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {emu.api_key}"}


def create(emu: Emulator, payload: dict[str, Any] | None = None, **kw: Any) -> requests.Response:
    return requests.post(
        f"{emu.base_url}/v1/videos/generations",
        json=payload or SMALL_BODY,
        headers=auth(emu),
        timeout=10,
        **kw,
    )


def poll(emu: Emulator, task_id: str) -> requests.Response:
    return requests.get(f"{emu.base_url}/v1/videos/generations/{task_id}", headers=auth(emu), timeout=10)


def wait_final(emu: Emulator, task_id: str, limit: float = 60.0, every: float = 0.02) -> dict[str, Any]:
    deadline = time.monotonic() + limit
    while True:
        reply = poll(emu, task_id)
        assert reply.status_code == 200, reply.text
        task = reply.json()
        if task["status"] in ("completed", "failed"):
            return task
        assert time.monotonic() < deadline, f"task still {task['status']} after {limit} s"
        time.sleep(every)


def finished_video(emu: Emulator, payload: dict[str, Any] | None = None) -> tuple[dict[str, Any], bytes]:
    """Create, wait, download: the final task and the MP4 bytes."""
    reply = create(emu, payload)
    assert reply.status_code == 200, reply.text
    task = wait_final(emu, reply.json()["id"])
    assert task["status"] == "completed", task
    video = requests.get(task["result"]["data"][0]["url"], timeout=30)
    assert video.status_code == 200
    return task, video.content


def upload(emu: Emulator, data: bytes, name: str = "image.png") -> requests.Response:
    return requests.post(
        f"{emu.base_url}/v1/uploads/images",
        files={"file": (name, data, "application/octet-stream")},
        data={"purpose": "generation"},
        headers=auth(emu),
        timeout=30,
    )


def pattern_png(size: tuple[int, int], variant: int) -> bytes:
    """A PNG with large, distinct shapes (survives H.264 and scaling)."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    if variant == 0:
        rgb = np.stack([xx * 255 // w, np.full_like(xx, 40), 255 - xx * 255 // w], axis=2)
    else:
        rgb = np.stack([np.full_like(yy, 230), yy * 255 // h, ((xx // (w // 4)) % 2) * 200], axis=2)
    out = io.BytesIO()
    Image.fromarray(rgb.astype(np.uint8), "RGB").save(out, format="PNG")
    return out.getvalue()


@dataclasses.dataclass
class Probe:
    width: int
    height: int
    fps: float
    frames: int
    duration: float
    codec: str
    pix_fmt: str
    audio: bool
    audio_codec: str | None
    audio_duration: float | None


def probe(data: bytes) -> Probe:
    """Facts about an MP4, read with PyAV (frames counted by decoding)."""
    with av.open(io.BytesIO(data)) as container:
        v = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video=0))
        audio = container.streams.audio[0] if container.streams.audio else None
        return Probe(
            width=v.codec_context.width,
            height=v.codec_context.height,
            fps=float(v.average_rate),
            frames=frames,
            duration=float(v.duration * v.time_base),
            codec=v.codec_context.name,
            pix_fmt=v.codec_context.pix_fmt,
            audio=audio is not None,
            audio_codec=audio.codec_context.name if audio else None,
            audio_duration=float(audio.duration * audio.time_base) if audio and audio.duration else None,
        )


def frames_rgb(data: bytes, indices: list[int]) -> dict[int, np.ndarray]:
    """Decoded frames (RGB arrays) at the given indices; -1 means the last frame."""
    out: dict[int, np.ndarray] = {}
    last = None
    with av.open(io.BytesIO(data)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in indices:
                out[i] = frame.to_ndarray(format="rgb24")
            last = frame
    if -1 in indices and last is not None:
        out[-1] = last.to_ndarray(format="rgb24")
    return out


def fitted(png: bytes, size: tuple[int, int]) -> np.ndarray:
    """The image scaled to cover ``size`` and centre-cropped, as the emulator does."""
    w, h = size
    img = Image.open(io.BytesIO(png)).convert("RGB")
    scale = max(w / img.width, h / img.height)
    sw, sh = max(w, round(img.width * scale)), max(h, round(img.height * scale))
    img = img.resize((sw, sh), Image.Resampling.BICUBIC)
    left, top = (sw - w) // 2, (sh - h) // 2
    return np.asarray(img.crop((left, top, left + w, top + h)))


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def save(tmp: Path, data: bytes, name: str = "v.mp4") -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path
