"""Issue 13 through the magic: ``--model``, ``-d auto``, reference media, ``--return-last-frame``,
``%seedance models`` and ``%config Seedance.model``, in a real InteractiveShell against the emulator."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from magic_session import Session

from seedance_widgets.api import catalog
from seedance_widgets.api.media import mp4_facts
from seedance_widgets.emulator import Emulator
from seedance_widgets.emulator.mp4 import RenderSpec, render_mp4
from seedance_widgets.engine import Job, JobManager
from seedance_widgets.engine.state import JobSnapshot
from seedance_widgets.magic.tables import ModelTable

ENGINE_TAKES_MEDIA = "media" in inspect.signature(JobManager.submit).parameters
ENGINE_SAVES_LAST_FRAME = "last_frame" in {f.name for f in dataclasses.fields(JobSnapshot)}


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """A real 3 s MP4 (the emulator's renderer): a valid reference video for the 2.0 family."""
    return render_mp4(
        RenderSpec("a reference dance", 320, 240, 3, audio=False, seed=1), tmp_path / "dance.mp4"
    )


def test_models_lists_the_catalogue_with_prices_or_no_estimate(ip: Session) -> None:
    table = ip.run("%seedance models")
    assert isinstance(table, ModelTable)
    assert [row["id"] for row in table.rows] == list(catalog.MODELS)
    rows = {row["id"]: row for row in table.rows}
    pro = rows["doubao-seedance-1-5-pro"]
    assert (pro["seconds"], pro["resolutions"], pro["last frame"]) == ("4-12", "480p, 720p", "no")
    assert pro["price per 5 s (est.)"] == "480p $0.06 (audio $0.12), 720p $0.13 (audio $0.26)"
    two = rows["seedance-2"]
    assert two["seconds"] == "4-15 or auto"
    assert "1080p $2.50" in two["price per 5 s (est.)"]
    assert "4k no estimate" in two["price per 5 s (est.)"]  # no list price: said plainly, no number
    assert rows["doubao-seedance-2-0"]["references"] == "9 images, 3 videos, 3 audio"
    (shown,) = ip.results
    assert "<table>" in shown["text/html"]
    assert "seedance-2-mini" in shown["text/plain"]


def test_1_5_pro_at_1080p_is_refused_naming_the_models_that_allow_it(ip: Session, emu_env: Emulator) -> None:
    with pytest.raises(UsageError) as err:
        ip.run("%seedance --resolution 1080p a glacier")
    text = str(err.value)
    assert "doubao-seedance-1-5-pro" in text
    assert "tops out at 720p" in text
    for model in catalog.models_allowing(resolution="1080p"):
        assert model in text
    assert emu_env.stats()["create"] == 0


def test_unknown_model_and_auto_where_not_allowed_are_usage_errors(ip: Session, emu_env: Emulator) -> None:
    with pytest.raises(UsageError, match=r"did you mean 'seedance-2'\?.*known models are doubao-seedance"):
        ip.run("%seedance --model seedanse-2 a cat")
    with pytest.raises(
        UsageError, match=r"duration 'auto' is not allowed for doubao-seedance-1-5-pro.*auto: "
    ):
        ip.run("%seedance -d auto a cat")
    with pytest.raises(UsageError, match=r"--ref-video was given once; doubao-seedance-1-5-pro .* takes no"):
        ip.run("%seedance --ref-video https://example.com/a.mp4 a cat")
    with pytest.raises(UsageError, match="cannot return its last frame"):
        ip.run("%seedance --return-last-frame a cat")
    with pytest.raises(UsageError, match="audio_with_roles cannot be used alone on doubao-seedance-2-0"):
        ip.run("%seedance --model doubao-seedance-2-0 --ref-audio https://example.com/a.mp3 a cat")
    assert (emu_env.stats()["create"], emu_env.stats()["upload"]) == (0, 0)


def test_seedance_2_at_15_s_and_1080p_renders(ip: Session, emu_env: Emulator) -> None:
    job = ip.run("%seedance --model seedance-2 --resolution 1080p -d 15 --seed 5 a glacier calving at dawn")
    assert isinstance(job, Job)
    path = job.wait(timeout=120)
    facts = mp4_facts(path)
    assert facts["width"] >= 1900, facts
    assert facts["height"] >= 1000, facts
    assert facts["duration"] == pytest.approx(15, abs=0.2)
    request = job.request
    assert request is not None
    assert (request.model, request.resolution, request.duration, request.audio) == (
        "seedance-2",
        "1080p",
        15,
        True,
    )
    assert job.snapshot().cost_estimate == pytest.approx(7.5)  # $0.50 / s list price, an estimate


def test_local_reference_media_is_checked_before_anything_is_sent(
    ip: Session, emu_env: Emulator, tmp_path: Path, clip: Path
) -> None:
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video at all")
    with pytest.raises(UsageError, match=r"--ref-video .*notes.mp4 is not a file in MP4 or MOV format"):
        ip.run(f"%seedance --model doubao-seedance-2-0 --ref-video {notes} a cat")
    long = render_mp4(RenderSpec("too long", 160, 120, 16, audio=False, seed=2), tmp_path / "long.mp4")
    with pytest.raises(UsageError, match=r"long.mp4 is 16 s long; a reference video must be 2 to 15 seconds"):
        ip.run(f"%seedance --model doubao-seedance-2-0 --ref-video {long} a cat")
    with pytest.raises(UsageError, match="no such file"):
        ip.run("%seedance --model doubao-seedance-2-0 --ref-video missing.mp4 a cat")
    nine = render_mp4(RenderSpec("nine seconds", 160, 120, 9, audio=False, seed=3), tmp_path / "nine.mp4")
    with pytest.raises(UsageError, match=r"add up to 18 s; at most 15 s are allowed in all"):
        ip.run(f"%seedance --model doubao-seedance-2-0 --ref-video {nine} --ref-video {nine} a cat")
    assert (emu_env.stats()["create"], emu_env.stats()["upload"]) == (0, 0)


@pytest.mark.skipif(not ENGINE_TAKES_MEDIA, reason="the engine's submit(media=...) is not there yet")
def test_a_local_reference_video_is_uploaded_and_the_job_renders(
    ip: Session, emu_env: Emulator, clip: Path
) -> None:
    job = ip.run(f"%seedance --model doubao-seedance-2-0 --ref-video {clip} the robot dances like this")
    assert isinstance(job, Job)
    assert job.wait(timeout=120).is_file()
    assert emu_env.stats()["upload"] == 1  # the engine uploaded the checked local clip


@pytest.mark.skipif(
    not ENGINE_SAVES_LAST_FRAME, reason="the engine's JobSnapshot.last_frame is not there yet"
)
def test_return_last_frame_saves_the_frame_beside_the_video(ip: Session, emu_env: Emulator) -> None:
    job = ip.run("%seedance --model seedance-2 --return-last-frame -d 4 --resolution 480p a kite over dunes")
    path = job.wait(timeout=120)
    frame = job.snapshot().last_frame
    assert frame is not None
    assert frame.is_file()
    assert frame.parent == path.parent or frame.parent.parent == path.parent.parent


def test_config_model_and_the_defaults_it_checks(
    ip: Session, emu_env: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    magics = ip.shell.magics_manager.registry["SeedanceMagics"]
    ip.run("%config Seedance.model = 'seedanse-2'")  # %config logs the error, it does not raise
    assert magics.settings.model == "doubao-seedance-1-5-pro"
    assert "did you mean 'seedance-2'" in caplog.text
    caplog.clear()
    ip.run("%config Seedance.resolution = '1080p'")
    assert magics.settings.resolution is None
    assert "tops out at 720p" in caplog.text
    assert "seedance-2" in caplog.text
    ip.run("%config Seedance.model = 'seedance-2'")
    ip.run("%config Seedance.resolution = '1080p'")
    dry = ip.run("%seedance --dry-run -d 5 a cat")
    assert (dry.body["model"], dry.body["resolution"]) == ("seedance-2", "1080p")
    caplog.clear()
    ip.run("%config Seedance.model = 'doubao-seedance-1-5-pro'")
    assert magics.settings.model == "seedance-2"  # refused: the 1080p default would not fit
    assert "Seedance.resolution='1080p'" in caplog.text
    # The line's --model wins, and a setting it refuses says where it came from.
    with pytest.raises(UsageError, match=r"%config Seedance.resolution"):
        ip.run("%seedance --model doubao-seedance-1-5-pro a cat")
    assert emu_env.stats()["create"] == 0


def test_the_form_starts_on_the_configured_model(ip: Session) -> None:
    from ipywidgets.widgets.widget import _instances

    from seedance_widgets.widgets import SeedanceForm

    ip.run("%config Seedance.model = 'doubao-seedance-2-0'")
    ip.run("%seedance form")
    (model_id,) = ip.widget_ids()
    form = _instances[model_id]
    assert isinstance(form, SeedanceForm)
    # The model's own defaults where no setting was made: 2.0's adaptive ratio, sound on.
    assert (form.model, form.aspect_ratio, form.audio) == ("doubao-seedance-2-0", "adaptive", True)
    assert form.limits["id"] == "doubao-seedance-2-0"
