"""Issue 13: a job's last frame on its card, and "Continue from here (paid)" (a new job whose first
frame is that image: a story built clip by clip), in the JobView, the gallery and the static card.
Driven through the widgets' comms as the page drives them, against real jobs on the emulator."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from widget_support import comm_of, send, wait_until

from seedance_widgets.api import GenerationRequest, SeedanceError
from seedance_widgets.emulator import Emulator
from seedance_widgets.engine import Job
from seedance_widgets.engine.manager import JobManager
from seedance_widgets.engine.state import JobSnapshot
from seedance_widgets.widgets import Gallery, JobView
from seedance_widgets.widgets._again import continue_from_here
from seedance_widgets.widgets._cards import static_card_html
from seedance_widgets.widgets.messages import MSG_CONTINUE, MSG_LAST_FRAME_REQUEST, MSG_LAST_FRAME_RESPONSE

pytestmark = [
    pytest.mark.usefixtures("comms"),
    pytest.mark.skipif(
        "last_frame" not in {f.name for f in dataclasses.fields(JobSnapshot)},
        reason="the engine's JobSnapshot.last_frame is not there yet",
    ),
]


def _clip(manager: JobManager, prompt: str, **fields: object) -> Job:
    request = GenerationRequest(prompt=prompt, duration=4, resolution="480p", **fields)  # type: ignore[arg-type]
    job = manager.submit(request)
    assert isinstance(job, Job)
    job.wait(timeout=120)
    return job


def test_the_job_views_card_shows_the_last_frame_and_continues(
    manager: JobManager, emulator: Emulator, tmp_outputs: Path
) -> None:
    first = _clip(manager, "a paper boat sets off", model="seedance-2", return_last_frame=True, seed=4)
    view = JobView(first, manager=manager, notebook_dir=tmp_outputs.parent)
    assert view.last_frame is not None
    assert view.last_frame["can_continue"] is True
    assert view.last_frame["file_name"].endswith((".png", ".jpg", ".jpeg"))
    # The image travels only when the page asks (never in a synced trait).
    send(view, {"kind": MSG_LAST_FRAME_REQUEST, "id": "q1"})
    [(reply, buffers)] = comm_of(view).custom(MSG_LAST_FRAME_RESPONSE)
    assert reply["ok"] is True
    assert len(buffers[0]) == view.last_frame["size"]
    # The static card (exports, GitHub) shows it under the player.
    html = static_card_html(first.snapshot(), None, notebook_dir=tmp_outputs.parent)
    assert 'class="seedance-static-last-frame"' in html
    creates = emulator.stats()["create"]
    # Confirmed in the page: a new job, same model and settings, under this card.
    send(view, {"kind": MSG_CONTINUE, "id": first.local_id})
    assert view.callback_error == ""
    (following,) = view.again_jobs
    request = following.request
    assert request is not None
    assert (request.model, request.duration, request.resolution, request.seed) == ("seedance-2", 4, "480p", 4)
    assert request.return_last_frame is True  # so the story can go on
    following.wait(timeout=120)
    wait_until(lambda: view.again[0]["state"] == "done")
    assert emulator.stats()["create"] == creates + 1
    view.close()


def test_a_gallery_cell_continues_into_the_grid(manager: JobManager) -> None:
    first = _clip(manager, "a kite rises", model="doubao-seedance-2-0", return_last_frame=True)
    gallery = Gallery([first], manager=manager)
    assert gallery.cells[0]["card"]["last_frame"]["can_continue"] is True
    send(gallery, {"kind": MSG_CONTINUE, "id": first.local_id})
    assert gallery.error == ""
    assert len(gallery.jobs) == 2
    gallery.jobs[1].wait(timeout=120)
    gallery.close()


def test_no_continue_without_a_last_frame_or_a_first_frame_slot(manager: JobManager) -> None:
    plain = _clip(manager, "a heron lands")
    assert JobView(plain, manager=manager).last_frame is None
    with pytest.raises(SeedanceError, match="no saved last frame"):
        continue_from_here(plain, manager=manager)
    # Seedance 2 Mini returns its last frame but takes reference images only: no continue.
    mini = _clip(manager, "a lantern glows", model="seedance-2-mini", return_last_frame=True)
    view = JobView(mini, manager=manager)
    assert view.last_frame is not None
    assert view.last_frame["can_continue"] is False
    with pytest.raises(SeedanceError, match="takes no first frame"):
        continue_from_here(mini, manager=manager)
