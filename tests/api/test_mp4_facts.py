"""mp4_facts reads size, rate, duration and audio from the index, agreeing with PyAV."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from seedance_widgets.api import output_size
from seedance_widgets.api.media import mp4_facts
from seedance_widgets.emulator.mp4 import RenderSpec, render_mp4


@pytest.mark.parametrize(
    ("resolution", "ratio", "duration", "audio"),
    [("480p", "16:9", 4, False), ("720p", "9:16", 5, True), ("480p", "21:9", 4, True)],
)
def test_facts_match_what_pyav_decodes(
    tmp_path: Path, resolution: str, ratio: str, duration: int, audio: bool
) -> None:
    width, height = output_size(resolution, ratio)
    spec = RenderSpec(prompt="facts", width=width, height=height, duration=duration, audio=audio, seed=7)
    path = render_mp4(spec, tmp_path / "clip.mp4")
    facts = mp4_facts(path)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (facts["width"], facts["height"]) == (stream.codec_context.width, stream.codec_context.height)
        assert facts["fps"] == pytest.approx(float(stream.average_rate), abs=0.01)
        assert facts["audio"] is bool(container.streams.audio)
    assert (facts["width"], facts["height"]) == (width, height)
    assert facts["fps"] == pytest.approx(24.0, abs=0.01)
    assert facts["duration"] == pytest.approx(duration, abs=1 / 24 + 0.05)
    assert facts["audio"] is audio


def test_a_file_without_an_index_gives_no_facts(tmp_path: Path) -> None:
    path = tmp_path / "cut.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2")
    assert mp4_facts(path) == {}
