"""SeedanceForm and every model (issue 13): the picker, limits from the catalogue, switching models
keeps what fits and says what changed, "no estimate", reference media slots, and the card's last
frame with "continue from here". Driven through the widget's comm as the page drives it, against
the emulator over loopback."""

from __future__ import annotations

import dataclasses
import inspect
import json
from pathlib import Path

import pytest
import traitlets
from widget_support import comm_of, send, type_in, wait_until

from seedance_widgets.api import catalog
from seedance_widgets.emulator import Emulator
from seedance_widgets.emulator.mp4 import RenderSpec, render_mp4
from seedance_widgets.engine.manager import JobManager
from seedance_widgets.engine.state import JobSnapshot
from seedance_widgets.widgets import SeedanceForm
from seedance_widgets.widgets.form import form_limits

pytestmark = pytest.mark.usefixtures("comms")

ENGINE_TAKES_MEDIA = "media" in inspect.signature(JobManager.submit).parameters
ENGINE_SAVES_LAST_FRAME = "last_frame" in {f.name for f in dataclasses.fields(JobSnapshot)}


def test_the_picker_lists_every_model_and_limits_are_the_catalogues() -> None:
    form = SeedanceForm(prompt="a fox")
    assert [c["id"] for c in form.model_choices] == list(catalog.MODELS)
    assert form.model == catalog.DEFAULT_MODEL
    assert form.limits == form_limits(catalog.MODELS[catalog.DEFAULT_MODEL])
    with pytest.raises(traitlets.TraitError, match="did you mean 'seedance-2'"):
        form.model = "seedanse-2"
    with pytest.raises(traitlets.TraitError, match="did you mean"):
        SeedanceForm(model="seedanse-2")


def test_a_new_form_takes_the_models_own_defaults() -> None:
    form = SeedanceForm(model="doubao-seedance-2-0", prompt="a fox")
    assert (form.aspect_ratio, form.audio, form.duration, form.resolution) == ("adaptive", True, 5, "720p")
    assert form.output_label.startswith("size from the input (adaptive)")


def test_switching_model_keeps_what_fits_and_says_what_changed() -> None:
    form = SeedanceForm(prompt="a glacier", model="seedance-2")
    type_in(form, resolution="1080p", duration=15, aspect_ratio="21:9", web_search=True)
    assert form.invalid_reason == ""
    assert form.estimate_usd == pytest.approx(7.5)
    # The page picks 1.5 Pro: 21:9 still fits, 15 s and 1080p do not, web search is not offered.
    type_in(form, model="doubao-seedance-1-5-pro")
    assert form.limits == form_limits(catalog.MODELS["doubao-seedance-1-5-pro"])
    assert (form.aspect_ratio, form.duration, form.resolution, form.web_search) == ("21:9", 12, "720p", False)
    note = form.model_note
    assert note.startswith("Switched to Seedance 1.5 Pro (doubao-seedance-1-5-pro): ")
    assert "duration 15 s \u2192 12 s" in note
    assert "resolution 1080p \u2192 720p" in note
    assert "web search on \u2192 off" in note
    assert "aspect ratio" not in note  # kept: not mentioned
    assert form.invalid_reason == ""
    # Back to seedance-2: everything fits.
    type_in(form, model="seedance-2")
    assert form.model_note.endswith("every setting still fits.")


def test_auto_length_and_no_price_say_no_estimate() -> None:
    form = SeedanceForm(prompt="a kite", model="seedance-2")
    form.duration = -1  # the model picks the length: no price can be known before
    assert form.invalid_reason == ""
    assert form.estimate_usd is None
    assert "length picked by the model" in form.output_label
    form.duration, form.resolution = 5, "4k"  # no list price for 4k
    assert form.estimate_usd is None
    assert form.get_state()["estimate_usd"] is None  # the page shows "no estimate", never a number


def test_images_the_new_model_does_not_take_are_dropped_and_named() -> None:
    form = SeedanceForm(prompt="a cat", model="doubao-seedance-2-0")
    for i in range(6):
        form.add_image("reference_image", f"https://example.com/ref{i}.png")
    form.add_image("reference_video", "https://example.com/dance.mp4")
    type_in(form, model="doubao-seedance-1-5-pro")  # up to 4 references, no videos
    roles = [img["role"] for img in form.images]
    assert roles == ["reference_image"] * 4
    assert (
        "removed reference image ref4.png, reference image ref5.png, reference video dance.mp4"
        in form.model_note
    )


def test_local_reference_media_are_checked_in_the_kernel(tmp_path: Path) -> None:
    form = SeedanceForm(prompt="a robot", model="doubao-seedance-2-0")
    clip = render_mp4(RenderSpec("dance", 160, 120, 3, audio=False, seed=1), tmp_path / "dance.mp4")
    data = clip.read_bytes()
    send(form, {"kind": "add-image", "role": "reference_video", "id": "v1", "name": "dance.mp4"}, [data])
    assert form.error == ""
    (entry,) = form.images
    assert (entry["role"], entry["kind"], entry["mime"]) == ("reference_video", "file", "video/mp4")
    assert entry["seconds"] == pytest.approx(3, abs=0.1)
    assert data.hex()[:64] not in json.dumps(form.get_state(), default=str)  # bytes stay in the kernel
    [(reply, _)] = comm_of(form).custom("add-image-response")
    assert reply["ok"] is True
    send(form, {"kind": "add-image", "role": "reference_video", "name": "notes.mp4"}, [b"not a video"])
    assert "notes.mp4 is not a file in MP4 or MOV format" in form.error
    big = 60 * 1024 * 1024
    send(form, {"kind": "add-image", "role": "reference_video", "name": "huge.mp4", "size": big})
    assert "huge.mp4 is larger than 50 MB" in form.error
    assert len(form.images) == 1


def test_generate_sends_the_model_and_its_settings(manager: JobManager) -> None:
    form = SeedanceForm(manager=manager, prompt="a glacier calving", model="seedance-2")
    type_in(form, resolution="1080p", duration=15)
    job = form.generate()
    job.wait(timeout=120)
    request = job.request
    assert (request.model, request.resolution, request.duration) == ("seedance-2", "1080p", 15)
    wait_until(lambda: form.history[0]["state"] == "done")
    card = form.history[0]
    assert card["params"]["model_label"] == "Seedance 2"
    assert card["cost_estimate"] == pytest.approx(7.5)
    # Use these settings again brings the model back too.
    type_in(form, model="doubao-seedance-1-5-pro")
    send(form, {"kind": "reuse-settings", "id": job.local_id, "seq": 99})
    assert (form.model, form.resolution, form.duration) == ("seedance-2", "1080p", 15)


@pytest.mark.skipif(not ENGINE_TAKES_MEDIA, reason="the engine's submit(media=...) is not there yet")
def test_generate_with_a_local_reference_video(
    manager: JobManager, emulator: Emulator, tmp_path: Path
) -> None:
    clip = render_mp4(RenderSpec("dance", 160, 120, 3, audio=False, seed=1), tmp_path / "dance.mp4")
    form = SeedanceForm(
        manager=manager, prompt="a robot dances", model="doubao-seedance-2-0", ref_videos=[clip]
    )
    job = form.generate()
    assert job.wait(timeout=120).is_file()
    assert emulator.stats()["upload"] == 1  # the engine uploaded the local clip
    wait_until(lambda: form.history[0]["state"] == "done")
    assert form.history[0]["params"]["model"] == "doubao-seedance-2-0"


@pytest.mark.skipif(
    not ENGINE_SAVES_LAST_FRAME, reason="the engine's JobSnapshot.last_frame is not there yet"
)
def test_last_frame_on_the_card_and_continue_from_here(manager: JobManager, emulator: Emulator) -> None:
    form = SeedanceForm(manager=manager, prompt="a paper boat drifts", model="seedance-2")
    type_in(form, resolution="480p", duration=4, return_last_frame=True)
    first = form.generate()
    first.wait(timeout=120)
    wait_until(lambda: bool(form.history and form.history[0].get("last_frame")))
    frame = form.history[0]["last_frame"]
    assert frame["can_continue"] is True
    send(form, {"kind": "last-frame-request", "id": "f1", "job": first.local_id})
    [(reply, buffers)] = comm_of(form).custom("last-frame-response")
    assert reply["ok"] is True
    assert buffers[0][:8] == b"\x89PNG\r\n\x1a\n" or buffers[0][:3] == b"\xff\xd8\xff"
    # Confirmed in the page: a new job, same model and settings, first frame = that last frame.
    send(form, {"kind": "continue-from-here", "id": first.local_id})
    assert form.error == ""
    following = form.jobs[-1]
    assert following is not first
    request = following.request
    assert (request.model, request.resolution, request.duration) == ("seedance-2", "480p", 4)
    assert request.return_last_frame is True
    following.wait(timeout=120)
    assert emulator.stats()["upload"] == 1  # the last frame went up as the new job's first frame
    wait_until(lambda: form.history[0]["state"] == "done")
    assert form.history[0]["params"]["images"] == 1
    # "Use these settings again" on the new card brings the frame back as the first frame.
    send(form, {"kind": "reuse-settings", "id": following.local_id, "seq": 99})
    assert [img["role"] for img in form.images] == ["first_frame"]
