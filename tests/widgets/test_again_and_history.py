"""Issue 15: history that survives a restart, and "Generate again (paid)" on every job card.

Driven as the page drives the widgets (custom messages through the comm), against real jobs on the
emulator over loopback. A "restart" is a second JobManager on the same output folder after the first
one shut down: it reads the jobs back from the ledger, as a new kernel does.
"""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from widget_support import SPEED, send, wait_until

from seedance_widgets.api import GenerationRequest, SeedanceClient
from seedance_widgets.emulator import Emulator
from seedance_widgets.engine.manager import JobManager
from seedance_widgets.widgets import Gallery, JobView, SeedanceForm
from seedance_widgets.widgets._again import job_images
from seedance_widgets.widgets.messages import MSG_GENERATE_AGAIN

pytestmark = pytest.mark.usefixtures("comms")


def png_bytes(colour: tuple[int, int, int] = (20, 120, 220)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def new_manager(emulator: Emulator, folder: Path) -> JobManager:
    client = SeedanceClient(api_key=emulator.api_key, base_url=emulator.base_url)
    return JobManager(output_dir=folder, client=client, time_scale=SPEED)


@pytest.fixture
def restarted(emulator: Emulator, tmp_outputs: Path) -> Iterator[tuple[JobManager, list[str]]]:
    """Three finished jobs (one with a local first frame) made by a manager that then shut down, and
    a new manager on the same folder: (the new manager, the jobs' local ids oldest first)."""
    with new_manager(emulator, tmp_outputs) as first:
        ids = []
        for prompt, images in (
            ("a heron lands on a post", ()),
            ("a koi pond at dawn", ()),
            ("the red ball rolls away", (("first_frame", png_bytes()),)),
        ):
            job = first.submit(GenerationRequest(prompt=prompt, duration=4, resolution="480p"), images=images)
            job.wait(60)
            ids.append(job.local_id)
    with new_manager(emulator, tmp_outputs) as second:
        yield second, ids


def creates(emulator: Emulator) -> int:
    return int(emulator.stats()["create"])


# ---- history after a restart --------------------------------------------------------------------------


def test_a_new_form_lists_the_folders_past_jobs_newest_first_and_reuses_their_settings(
    restarted: tuple[JobManager, list[str]],
) -> None:
    manager, ids = restarted
    form = SeedanceForm(manager=manager)
    assert [card["id"] for card in form.history] == ids[::-1]
    assert all(card["state"] == "done" and card["video"] for card in form.history)
    assert form.jobs == []  # the form's own submissions: none yet
    assert [job.local_id for job in form.past_jobs] == ids
    assert form.last_seed is None  # "last seed used" is this form's, not the folder's

    # "Use these settings again" on the oldest card, then on the one with a local image: the image
    # comes back from the output folder's uploads (its bytes, not an expired URL).
    send(form, {"kind": "reuse-settings", "id": ids[0], "seq": 0})
    assert form.prompt == "a heron lands on a post"
    assert (form.duration, form.resolution, form.seed_mode) == (4, "480p", "fixed")
    assert form.images == []
    send(form, {"kind": "reuse-settings", "id": ids[2], "seq": 0})
    assert form.error == ""
    assert form.prompt == "the red ball rolls away"
    assert [(img["role"], img["kind"], img["mime"]) for img in form.images] == [
        ("first_frame", "file", "image/png")
    ]
    assert form.error == ""


def test_a_form_on_a_fresh_folder_creates_no_manager_and_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEEDANCE_OUTPUT_DIR", raising=False)
    form = SeedanceForm()
    assert form.history == []
    assert not (tmp_path / "seedance_outputs").exists()


# ---- generate again ---------------------------------------------------------------------------------------


def test_generate_again_from_a_past_card_makes_one_new_task_with_a_new_seed_and_the_same_image(
    restarted: tuple[JobManager, list[str]], emulator: Emulator
) -> None:
    manager, ids = restarted
    form = SeedanceForm(manager=manager)
    old = manager.get(ids[2])
    assert old is not None
    before = creates(emulator)
    send(form, {"kind": MSG_GENERATE_AGAIN, "id": ids[2]})
    assert form.error == ""
    assert len(form.jobs) == 1
    new = form.jobs[0]
    new.wait(60)
    assert creates(emulator) == before + 1  # one paid task per confirmed click, never more
    assert new.request.prompt == old.request.prompt
    assert (new.request.duration, new.request.resolution) == (old.request.duration, old.request.resolution)
    assert new.snapshot().seed not in (None, old.snapshot().seed)
    assert [role for role, _ in job_images(manager, new)] == ["first_frame"]
    assert job_images(manager, new) == job_images(manager, old)
    assert form.history[0]["id"] == new.local_id  # newest first, above the past jobs


def test_generate_again_of_an_unknown_card_says_so_and_sends_nothing(
    restarted: tuple[JobManager, list[str]], emulator: Emulator
) -> None:
    manager, _ = restarted
    form = SeedanceForm(manager=manager)
    before = creates(emulator)
    send(form, {"kind": MSG_GENERATE_AGAIN, "id": "no-such-job"})
    assert "no-such-job" in form.error
    assert creates(emulator) == before


def test_job_view_generate_again_shows_the_new_job_under_the_card_and_serves_its_video(
    manager: JobManager, emulator: Emulator
) -> None:
    job = manager.submit(
        GenerationRequest(prompt="a lighthouse in a storm", duration=4, resolution="480p", seed=7)
    )
    job.wait(60)
    stranger = JobView(job)  # not told its manager: refuses (and sends nothing), says how
    before = creates(emulator)
    send(stranger, {"kind": MSG_GENERATE_AGAIN, "id": job.local_id})
    assert "JobView(job, manager=...)" in stranger.callback_error
    assert stranger.again == []
    view = JobView(job, manager=manager)
    send(view, {"kind": MSG_GENERATE_AGAIN, "id": job.local_id})
    assert view.callback_error == ""
    (new,) = view.again_jobs
    new.wait(60)
    assert creates(emulator) == before + 1
    wait_until(lambda: bool(view.again) and view.again[0]["state"] == "done")
    assert view.again[0]["id"] == new.local_id
    assert view.again[0]["seed_used"] not in (None, 7)
    replies = list(view.video_messages("r1", new.local_id))
    assert replies
    assert "error" not in replies[0][0]
    assert b"".join(buffers[0] for _, buffers in replies) == Path(new.result).read_bytes()
    assert (view.state, view.local_id) == ("done", job.local_id)  # the card itself is unchanged


def test_gallery_generate_again_adds_the_new_job_to_the_grid(manager: JobManager, emulator: Emulator) -> None:
    jobs = [
        manager.submit(GenerationRequest(prompt="a koi pond", duration=4, resolution="480p", seed=s))
        for s in (1, 2)
    ]
    for job in jobs:
        job.wait(60)
    gallery = Gallery(jobs, cols="seed", manager=manager)
    before = creates(emulator)
    send(gallery, {"kind": MSG_GENERATE_AGAIN, "id": jobs[0].local_id})
    assert gallery.error == ""
    assert len(gallery.jobs) == 3
    gallery.jobs[-1].wait(60)
    assert creates(emulator) == before + 1
    wait_until(lambda: gallery.title == "3 of 3 done")
    assert len(gallery.col_labels) == 3  # a new seed: a new column


# ---- first run: logging stays quiet ----------------------------------------------------------------------


def test_library_warnings_never_reach_stderr_unless_logging_is_configured() -> None:
    code = (
        "import logging, seedance_widgets\n"
        "logging.getLogger('seedance_widgets.engine').warning('quiet-please')\n"
        "logging.basicConfig()\n"
        "logging.getLogger('seedance_widgets.engine').warning('configured')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "quiet-please" not in result.stderr  # Python's last-resort handler is not used
    assert "configured" in result.stderr  # the application's own logging still sees everything


def test_generate_again_is_always_a_new_task_never_the_saved_copy(
    manager: JobManager, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even when the new seed happens to make a request already saved, the click pays for (and
    shows) a new video: the submit is a rerun."""
    from seedance_widgets.widgets import _again

    job = manager.submit(GenerationRequest(prompt="a koi pond", duration=4, resolution="480p", seed=7))
    job.wait(60)
    monkeypatch.setattr(_again, "new_seed", lambda old: 7)  # the seed of the saved video
    before = creates(emulator)
    new = _again.generate_again(job, manager=manager)
    new.wait(60)
    assert new.local_id != job.local_id
    assert not new.snapshot().from_cache
    assert creates(emulator) == before + 1
