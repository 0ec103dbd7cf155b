"""Row 6: the emulator's render of a 5 s 720p clip with audio vs ``ffmpeg -f lavfi`` on the same spec.

Same spec on both sides: 1280x720, 24 fps, 5 s, H.264 yuv420p + stereo AAC 48 kHz, with
the x264 preset, CRF and thread count the emulator uses (ffmpeg's default preset would be
slower and an unfair baseline). Each emulator repeat is a fresh interpreter timing only
``render_mp4`` (imports excluded, first-call costs included); each ffmpeg repeat is the
wall time of one ffmpeg process. The two alternate. Seeds differ per repeat.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from ._env import NotMeasured, run_python, tool

W, H, SECONDS, FPS = 1280, 720, 5, 24

_OURS = """
import json, time
from pathlib import Path
from seedance_widgets.emulator.mp4 import RenderSpec, render_mp4
spec = RenderSpec(prompt="Sunset at the beach, golden light on the sea, waves on the sand",
                  width={w}, height={h}, duration={sec}, audio=True, seed={seed}, preset={preset!r})
t0 = time.perf_counter()
render_mp4(spec, Path({dest!r}))
print(json.dumps({{"s": time.perf_counter() - t0}}))
"""


def _emulator_settings() -> tuple[str, str, int]:
    try:
        from seedance_widgets.emulator import mp4 as render
        from seedance_widgets.emulator.config import EmulatorConfig
    except ImportError as exc:
        raise NotMeasured(f"the emulator's renderer is not there yet ({exc})") from exc
    return EmulatorConfig().x264_preset, str(render.CRF), int(render.X264_THREADS)


def _ffmpeg_cmd(ffmpeg: str, preset: str, crf: str, threads: int, dest: Path) -> list[str]:
    return [
        ffmpeg, "-nostdin", "-y", "-loglevel", "error",
        "-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate={FPS}:duration={SECONDS}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={SECONDS}",
        "-c:v", "libx264", "-preset", preset, "-crf", crf, "-threads", str(threads), "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-ac", "2",
        "-movflags", "+faststart", "-shortest", str(dest),
    ]  # fmt: skip


def _check(path: Path, audio: bool = True) -> None:
    """Both outputs must really be the spec (else the comparison is void)."""
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        if (v.codec_context.width, v.codec_context.height) != (W, H) or v.codec_context.pix_fmt != "yuv420p":
            raise NotMeasured(f"{path.name}: not {W}x{H} yuv420p")
        if audio and not c.streams.audio:
            raise NotMeasured(f"{path.name}: no audio track")


def run(quick: bool = False) -> dict[str, Any]:
    repeats = 1 if quick else 7
    ffmpeg = tool("ffmpeg")
    preset, crf, threads = _emulator_settings()
    ours: list[float] = []
    base: list[float] = []
    with tempfile.TemporaryDirectory(prefix="seedance-bench-") as tmp:
        for i in range(repeats):
            dest = Path(tmp, f"emu{i}.mp4")
            code = _OURS.format(w=W, h=H, sec=SECONDS, seed=1000 + i, preset=preset, dest=str(dest))
            ours.append(run_python(code)["s"])
            ref = Path(tmp, f"ffmpeg{i}.mp4")
            t0 = time.perf_counter()
            subprocess.run(_ffmpeg_cmd(ffmpeg, preset, crf, threads, ref), check=True)
            base.append(time.perf_counter() - t0)
            if i == 0:
                _check(dest)
                _check(ref)
    return {
        "rows": [
            {
                "id": "6",
                "value": ours,
                "baseline_value": base,
                "extra": {"note": f"x264 preset {preset}, crf {crf}, {threads} threads on both sides"},
            }
        ]
    }
