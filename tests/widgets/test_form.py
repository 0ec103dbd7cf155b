"""SeedanceForm driven exactly as the front-end drives it: trait updates and custom messages through
the widget's comm (``comm.handle_msg``, the entry point the kernel's comm manager calls), against
real jobs on the emulator over loopback. The comm records what it would put on IOPub instead of
writing to a zmq socket; the browser suite runs the same form in JupyterLab and Notebook 7.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
import traitlets
from PIL import Image
from widget_support import comm_of, send, type_in, wait_until

from seedance_widgets.api import MAX_PROMPT_CHARS, GenerationRequest, ValidationError
from seedance_widgets.emulator import Emulator
from seedance_widgets.engine.manager import JobManager
from seedance_widgets.widgets import SeedanceForm

pytestmark = pytest.mark.usefixtures("comms")


def png_bytes(size: tuple[int, int] = (64, 48), colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def request_message(**fields: Any) -> str:
    with pytest.raises(ValidationError) as err:
        GenerationRequest(**fields)
    return str(err.value)


# ---- parameters and validation ----------------------------------------------------------------


def test_unknown_keyword_is_an_error_that_lists_the_accepted_ones() -> None:
    with pytest.raises(TypeError, match=r"'ratio'.*aspect_ratio"):
        SeedanceForm(ratio="16:9")


def test_constructor_seed_means_fixed_and_invalid_values_get_the_request_words() -> None:
    form = SeedanceForm(prompt="a fox", seed=42, duration=8)
    assert (form.seed_mode, form.seed, form.duration) == ("fixed", 42, 8)
    assert SeedanceForm(seed=None).seed_mode == "random"
    with pytest.raises(traitlets.TraitError) as err:
        form.duration = 13
    assert str(err.value) == request_message(prompt="x", duration=13)
    with pytest.raises(traitlets.TraitError, match="tops out at 720p"):
        form.resolution = "1080p"
    with pytest.raises(traitlets.TraitError, match="one of 16:9"):
        form.aspect_ratio = "2:1"
    with pytest.raises(traitlets.TraitError, match="seed_mode='random'"):
        form.seed = -5
    with pytest.raises(traitlets.TraitError, match="'random' or 'fixed'"):
        form.seed_mode = "lucky"
    assert form.duration == 8


def test_invalid_reason_is_generation_requests_own_message() -> None:
    form = SeedanceForm()
    assert form.invalid_reason == request_message(prompt="")
    form.prompt = "x" * (MAX_PROMPT_CHARS + 1)
    assert form.invalid_reason == request_message(prompt="x" * (MAX_PROMPT_CHARS + 1))
    form.prompt = "a lighthouse in a storm"
    assert form.invalid_reason == ""
    assert form.output_label == "1280\u00d7720 · 24 fps · 5 s"
    assert form.estimate_usd == pytest.approx(0.13)
    form.resolution, form.audio, form.duration = "480p", True, 10
    assert form.estimate_usd == pytest.approx(0.24)


def test_typing_in_the_page_sets_the_traits_and_validity_follows() -> None:
    form = SeedanceForm()
    type_in(form, prompt="waves on a rocky shore", duration=7, aspect_ratio="9:16", audio=True)
    assert (form.prompt, form.duration, form.aspect_ratio, form.audio) == (
        "waves on a rocky shore",
        7,
        "9:16",
        True,
    )
    assert form.invalid_reason == ""
    assert form.output_label.startswith("720\u00d71280")


# ---- images ----------------------------------------------------------------------------------------


def test_a_png_sent_as_a_buffer_is_checked_kept_and_served_back_for_its_thumbnail() -> None:
    form = SeedanceForm(prompt="a boat")
    png = png_bytes()
    send(
        form,
        {"kind": "add-image", "role": "first_frame", "id": "p1abc", "name": "boat.png", "size": len(png)},
        [png],
    )
    assert form.error == ""
    assert form.images == [
        {
            "id": "p1abc",
            "role": "first_frame",
            "kind": "file",
            "url": None,
            "name": "boat.png",
            "size": len(png),
            "mime": "image/png",
        }
    ]
    # The bytes are not in the synced state; the page asks for them.
    assert png.hex() not in json.dumps(form.get_state(), default=str)
    send(form, {"kind": "image-request", "id": "p1abc"})
    [(reply, buffers)] = comm_of(form).custom("image-response")
    assert reply == {"kind": "image-response", "id": "p1abc", "ok": True, "mime": "image/png"}
    assert buffers == [png]
    # A new first frame replaces the old one; remove-image empties the slot.
    send(form, {"kind": "add-image", "role": "first_frame", "name": "b.png"}, [png_bytes(colour=(1, 2, 3))])
    assert len(form.images) == 1
    assert form.images[0]["id"] != "p1abc"
    send(form, {"kind": "remove-image", "id": form.images[0]["id"]})
    assert form.images == []


def test_image_checks_happen_in_the_kernel_with_fix_it_messages() -> None:
    form = SeedanceForm(prompt="a boat")
    send(form, {"kind": "add-image", "role": "first_frame", "name": "notes.txt"}, [b"just some text"])
    assert form.error == "notes.txt is not a JPEG, PNG, WebP or GIF image"
    send(form, {"kind": "add-image", "role": "last_frame", "name": "huge.png", "size": 11 * 1024 * 1024})
    assert form.error == "huge.png is larger than 10 MB; at most 10 MB (the gateway's upload limit)"
    send(
        form,
        {"kind": "add-image", "role": "last_frame", "name": "big.png"},
        [b"\x89PNG\r\n\x1a\n" + bytes(10 * 1024 * 1024)],
    )
    assert "larger than 10 MB" in form.error
    assert form.images == []


def test_role_rules_give_the_same_messages_as_generation_request() -> None:
    form = SeedanceForm(prompt="a boat")
    refs = [f"https://example.com/ref{i}.png" for i in range(5)]
    for url in refs[:4]:
        send(form, {"kind": "add-image", "role": "reference_image", "url": url})
    assert form.error == ""
    assert [i["role"] for i in form.images] == ["reference_image"] * 4
    send(form, {"kind": "add-image", "role": "reference_image", "url": refs[4]})
    expected = request_message(
        prompt="x", image_with_roles=tuple({"url": u, "role": "reference_image"} for u in refs)
    )
    assert form.error == expected
    assert len(form.images) == 4
    with pytest.raises(ValidationError) as err:
        form.add_image("reference_image", refs[4])
    assert str(err.value) == expected

    send(form, {"kind": "add-image", "role": "first_frame", "url": "ftp://example.com/a.png"})
    assert form.error == request_message(
        prompt="x", image_with_roles=({"url": "ftp://example.com/a.png", "role": "first_frame"},)
    )
    send(form, {"kind": "add-image", "role": "first_frame", "url": "example.com/a.png"})
    assert form.error == request_message(
        prompt="x", image_with_roles=({"url": "example.com/a.png", "role": "first_frame"},)
    )
    with pytest.raises(ValidationError, match=r"Seedance 1\.0 name"):
        form.add_image("reference", refs[0])


# ---- generate, history, video, reuse, compare --------------------------------------------------------


def test_generate_uploads_the_png_runs_on_the_emulator_and_fills_the_history(
    manager: JobManager, emulator: Emulator, tmp_outputs: Path
) -> None:
    form = SeedanceForm(manager=manager, prompt="a red square drifting over a blue sea", duration=4)
    type_in(form, resolution="480p", aspect_ratio="1:1", seed_mode="fixed", seed=1234)
    png = png_bytes((640, 640))
    send(form, {"kind": "add-image", "role": "first_frame", "name": "first.png"}, [png])
    send(form, {"kind": "generate"})
    assert form.error == ""
    [job] = form.jobs
    assert [card["id"] for card in form.history] == [job.local_id]
    path = job.wait(timeout=60)
    wait_until(lambda: form.history[0]["state"] == "done")

    stats = emulator.stats()
    assert stats["upload"] == 1
    assert stats["create"] == 1
    intent = next(
        json.loads(line)
        for line in (tmp_outputs / "ledger.jsonl").read_text().splitlines()
        if json.loads(line)["event"] == "intent"
    )
    assert intent["images"] == [
        {"role": "first_frame", "url": None, "sha256": hashlib.sha256(png).hexdigest()}
    ]
    card = form.history[0]
    assert card["params"]["aspect_ratio"] == "1:1"
    assert card["params"]["images"] == 1
    assert card["seed_used"] == 1234 == form.last_seed
    assert card["video"]["file_name"] == path.name
    assert card["task_id"] == job.task_id

    # The video travels on request, in chunks, as the JobView's do; never in the state.
    send(form, {"kind": "video-request", "id": "req-1", "job": job.local_id})
    replies = comm_of(form).custom("video-response")
    assert {r["id"] for r, _ in replies} == {"req-1"}
    assert b"".join(b[0] for _, b in sorted(replies, key=lambda r: r[0]["chunk"])) == path.read_bytes()
    state_text = json.dumps(form.get_state(), default=str)
    assert path.read_bytes()[:64].hex() not in state_text
    send(form, {"kind": "video-request", "id": "req-2", "job": "nope"})
    assert "no video" in comm_of(form).custom("video-response")[-1][0]["error"]


def test_generate_while_invalid_shows_the_reason_and_sends_nothing(
    manager: JobManager, emulator: Emulator
) -> None:
    form = SeedanceForm(manager=manager)
    send(form, {"kind": "generate"})
    assert form.error == request_message(prompt="")
    assert form.jobs == []
    assert emulator.stats()["create"] == 0


def test_reuse_settings_and_compare_two_cards(manager: JobManager) -> None:
    form = SeedanceForm(manager=manager, prompt="a kite over dunes", duration=4, resolution="480p")
    send(form, {"kind": "add-image", "role": "reference_image", "url": "https://example.com/kite.png"})
    send(form, {"kind": "generate"})
    first = form.jobs[0]
    type_in(form, prompt="a kite over the sea", aspect_ratio="21:9", seed_mode="fixed", seed=7)
    form.clear_images()
    send(form, {"kind": "generate"})
    second = form.jobs[1]
    assert [c["id"] for c in form.history] == [second.local_id, first.local_id]
    for job in form.jobs:
        job.wait(timeout=60)

    send(form, {"kind": "reuse-settings", "id": first.local_id})
    assert (form.prompt, form.aspect_ratio, form.duration, form.resolution) == (
        "a kite over dunes",
        "16:9",
        4,
        "480p",
    )
    seed = form.history[1]["seed_used"]
    assert (form.seed_mode, form.seed) == (("fixed", seed) if seed is not None else ("random", 7))
    assert [i["url"] for i in form.images] == ["https://example.com/kite.png"]

    send(form, {"kind": "compare", "ids": [second.local_id, first.local_id]})
    assert form.compare == [second.local_id, first.local_id]
    send(form, {"kind": "compare", "ids": [first.local_id, "j-unknown"]})
    assert "two different ids" in form.error
    assert form.compare == [second.local_id, first.local_id]
    send(form, {"kind": "compare-close"})
    assert form.compare == []


def test_unknown_kinds_are_ignored_and_the_key_never_reaches_the_page(
    manager: JobManager, emulator: Emulator
) -> None:
    form = SeedanceForm(manager=manager, prompt="a quiet street at night", duration=4, resolution="480p")
    send(form, {"kind": "make-coffee"})
    send(form, {"nokind": True})
    assert form.error == ""
    send(form, {"kind": "generate"})
    form.jobs[0].wait(timeout=60)
    wait_until(lambda: form.history[0]["state"] == "done")
    published = json.dumps([data for _, data, _ in comm_of(form).published], default=str)
    assert emulator.api_key not in published
    assert emulator.api_key not in repr(form)
    assert emulator.api_key not in json.dumps(form.get_state(), default=str)


def test_page_edits_held_back_by_the_throttle_cannot_undo_an_action(manager: JobManager) -> None:
    # ipywidgets sends custom messages at once but holds an edit while an earlier one is
    # unacknowledged: the kernel may see "generate" before the last keystrokes.
    form = SeedanceForm(manager=manager, duration=4, resolution="480p")
    type_in(form, prompt="a fox", edit_seq=1)
    shown = {"prompt": "a fox in the snow", "duration": 4, "aspect_ratio": "4:3", "resolution": "480p"}
    send(form, {"kind": "generate", "seq": 3, "params": shown})
    [job] = form.jobs
    assert (job.request.prompt, job.request.aspect_ratio) == ("a fox in the snow", "4:3")
    type_in(form, prompt="a fox in the sn", edit_seq=3)  # the held-back edit, now stale
    assert form.prompt == "a fox in the snow"
    type_in(form, prompt="a hare", aspect_ratio="16:9", edit_seq=4)  # a newer edit applies
    assert (form.prompt, form.aspect_ratio) == ("a hare", "16:9")

    send(form, {"kind": "reuse-settings", "id": job.local_id, "seq": 5})
    type_in(form, aspect_ratio="21:9", edit_seq=5)  # clicked before "reuse", arrived after it
    assert (form.prompt, form.aspect_ratio) == ("a fox in the snow", "4:3")
    job.wait(timeout=60)


def test_backend_and_session_say_where_jobs_go_and_what_they_cost(
    manager: JobManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOAPIS_API_KEY", raising=False)
    assert "built-in emulator" in SeedanceForm().backend
    monkeypatch.setenv("TOAPIS_API_KEY", "sk-test-not-shown")
    assert "billed" in SeedanceForm().backend
    assert "sk-test-not-shown" not in json.dumps(SeedanceForm().get_state(), default=str)
    manager.budget_usd = 5.0
    form = SeedanceForm(manager=manager, prompt="rain on a window", duration=5, resolution="480p")
    assert form.backend == f"an emulator at {manager.client.base_url}: synthetic clips, nothing billed"
    form.generate()
    assert "session ≈ $0.06 (estimate) of $5.00 budget" in form.session
    form.jobs[0].wait(timeout=60)
    wait_until(lambda: form.session == "session ≈ $0.06 (estimate) of $5.00 budget")


def test_each_page_image_gets_an_answer_and_images_cannot_be_forged() -> None:
    form = SeedanceForm(prompt="a boat")
    send(form, {"kind": "add-image", "role": "first_frame", "id": "pa1", "name": "a.png"}, [png_bytes()])
    send(form, {"kind": "add-image", "role": "last_frame", "id": "pa2", "name": "a.txt"}, [b"text"])
    answers = [reply for reply, _ in comm_of(form).custom("add-image-response")]
    assert answers[0] == {"kind": "add-image-response", "id": "pa1", "ok": True}
    assert answers[1]["ok"] is False
    assert answers[1]["id"] == "pa2"
    assert "not a JPEG" in answers[1]["error"]
    with pytest.raises(traitlets.TraitError, match=r"add_image\(role"):
        form.images = [{"id": "x", "role": "first_frame", "kind": "file", "url": None}]
    with pytest.raises(traitlets.TraitError) as err:
        form.images = [
            {"id": f"r{i}", "role": "reference_image", "kind": "url", "url": "https://e.com/a.png"}
            for i in range(5)
        ]
    assert "at most 4 are allowed" in str(err.value)


def test_a_fixed_seed_pressed_twice_comes_back_from_the_output_folder(
    manager: JobManager, emulator: Emulator
) -> None:
    form = SeedanceForm(manager=manager, prompt="snow on pines", duration=4, resolution="480p", seed=99)
    first = form.generate()
    path = first.wait(timeout=60)
    again = form.generate()
    assert again.wait(timeout=10) == path
    assert [c["id"] for c in form.history] == [again.local_id, first.local_id]
    wait_until(lambda: form.history[0]["from_cache"] and form.history[0]["state"] == "done")
    assert emulator.stats()["create"] == 1  # no second paid task
