"""Local reference videos and audio are checked from their content before anything is sent:
type, size against the upload's and the model's caps, and length where the header gives it."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import pytest

from seedance_widgets.api import MODELS, ValidationError
from seedance_widgets.api.media import (
    MAX_VIDEO_UPLOAD_BYTES,
    check_total_seconds,
    image_problem,
    read_audio,
    read_video,
    sniff_audio_type,
    sniff_video_type,
    wav_duration,
)
from seedance_widgets.emulator.mp4 import RenderSpec, render_mp4

REFS_20 = MODELS["doubao-seedance-2-0"].video_refs
AUDIO_20 = MODELS["doubao-seedance-2-0"].audio_refs
WEBM_HEAD = (
    b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm"
)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[int, bytes]:
    """Real MP4s of 1 and 3 seconds, from the emulator's writer."""
    folder = tmp_path_factory.mktemp("clips")
    out = {}
    for seconds in (1, 3):
        spec = RenderSpec(prompt="ref", width=160, height=96, duration=seconds, audio=False, seed=seconds)
        out[seconds] = render_mp4(spec, folder / f"{seconds}.mp4").read_bytes()
    return out


def wav(seconds: float, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * int(seconds * rate))
    return out.getvalue()


def test_types_are_known_by_their_bytes(clips: dict[int, bytes]) -> None:
    assert sniff_video_type(clips[1][:64]) == "video/mp4"
    assert sniff_video_type(b"\0\0\0\x14ftypqt  " + b"\0" * 50) == "video/quicktime"
    assert sniff_video_type(WEBM_HEAD) == "video/webm"
    assert sniff_video_type(b"\x1a\x45\xdf\xa3" + b"\0" * 20 + b"matroska") is None  # Matroska is not WebM
    assert sniff_audio_type(wav(1)[:16]) == "audio/wav"
    assert sniff_audio_type(b"ID3\x04\0\0\0\0\0\0") == "audio/mpeg"
    assert sniff_audio_type(b"\xff\xfb\x90\x64") == "audio/mpeg"  # MPEG-1 layer III frame
    assert sniff_audio_type(b"\xff\xd8\xff\xe0") is None  # a JPEG is no MP3
    assert sniff_audio_type(clips[1][:16]) is None


def test_a_real_video_is_read_with_its_length(clips: dict[int, bytes], tmp_path: Path) -> None:
    path = tmp_path / "clip.bin"
    path.write_bytes(clips[3])
    media = read_video(path, refs=REFS_20)
    assert (media.mime, media.format, media.name, media.seconds) == ("video/mp4", "mp4", "clip.bin", 3.0)
    assert media.data == clips[3]
    assert "3 s" in repr(media)
    assert str(len(clips[3])) in repr(media)


def test_a_video_outside_the_models_length_is_refused(clips: dict[int, bytes]) -> None:
    with pytest.raises(ValidationError, match="1 s long; a reference video must be 2 to 15 seconds") as info:
        read_video(clips[1], refs=REFS_20, filename="short.mp4")
    assert info.value.field == "video"
    assert read_video(clips[1]).seconds == 1.0  # the upload alone has no length rule


def test_other_content_is_refused_by_its_bytes() -> None:
    with pytest.raises(ValidationError, match="is not a file in MP4, MOV or WebM format"):
        read_video(b"GIF89a" + b"\0" * 100, filename="x.mp4")
    with pytest.raises(ValidationError, match="not a file in MP4 or MOV format"):
        read_video(
            WEBM_HEAD + b"\0" * 100, refs=REFS_20, filename="x.webm"
        )  # WebM uploads, not a 2.0 reference
    assert read_video(WEBM_HEAD + b"\0" * 100).seconds is None
    with pytest.raises(ValidationError, match="is not a file in WAV or MP3 format"):
        read_audio(b"\0" * 100, filename="x.wav")


def test_sizes_are_checked_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.mp4"
    with big.open("wb") as f:  # sparse: nothing is really written
        f.truncate(MAX_VIDEO_UPLOAD_BYTES + 1)
    with pytest.raises(ValidationError, match="at most 50 MB"):
        read_video(big)
    with pytest.raises(ValidationError, match="at most 15 MB"):
        read_audio(io.BytesIO(b"ID3" + b"\0" * (15 * 2**20)), refs=AUDIO_20)
    with pytest.raises(ValidationError, match="is empty"):
        read_video(b"")


def test_audio_lengths_from_wav_headers() -> None:
    assert wav_duration(wav(3)) == 3.0
    assert read_audio(wav(2.5), refs=AUDIO_20).seconds == 2.5
    with pytest.raises(ValidationError, match="a reference audio must be 2 to 15 seconds"):
        read_audio(wav(1), refs=AUDIO_20)
    assert read_audio(b"ID3\x04" + b"\0" * 200).seconds is None  # MP3: length not read


def test_clips_may_not_add_up_past_the_models_total(clips: dict[int, bytes]) -> None:
    assert REFS_20 is not None
    three = read_video(clips[3])
    check_total_seconds([three] * 5, REFS_20)
    with pytest.raises(ValidationError, match="add up to 18 s; at most 15 s"):
        check_total_seconds([three] * 6, REFS_20)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_a_cut_image_is_not_whole(fmt: str, tmp_path: Path) -> None:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(out, format=fmt)
    whole = tmp_path / "whole"
    whole.write_bytes(out.getvalue())
    assert image_problem(whole) is None
    cut = tmp_path / "cut"
    cut.write_bytes(out.getvalue()[:-20])
    assert image_problem(cut) is not None
