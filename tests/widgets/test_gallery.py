"""Gallery over real jobs on the emulator: grid layout by parameter, live progress per cell, video
bytes on request (through the widget's comm, as the page asks for them)."""

from __future__ import annotations

import contextlib
import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
import traitlets
from widget_support import SPEED, comm_of, send, wait_until

from seedance_widgets.api import GenerationRequest, SeedanceClient
from seedance_widgets.emulator import Emulator
from seedance_widgets.engine import JobFailedError
from seedance_widgets.engine.manager import JobManager
from seedance_widgets.widgets import Gallery

pytestmark = pytest.mark.usefixtures("comms")


def submit_grid(manager: JobManager, prompts: list[str], seeds: list[int]) -> list[Any]:
    return [
        manager.submit(GenerationRequest(prompt=p, seed=s, duration=4, resolution="480p"))
        for p in prompts
        for s in seeds
    ]


#: Emulator speed for following progress: its "realistic" tasks (1-5 emulated minutes, queue waits,
#: uneven progress) then take 1-5 s, so every job is polled several times while it runs. The quick
#: profile at x20 lasts about one poll interval, and the first poll may already find it finished.
FOLLOW_SPEED = 60.0


def test_cells_are_laid_out_by_parameter_and_follow_their_jobs(emulator: Emulator, tmp_outputs: Path) -> None:
    emulator.configure(profile="realistic", speed=FOLLOW_SPEED)
    client = SeedanceClient(api_key=emulator.api_key, base_url=emulator.base_url)
    with JobManager(output_dir=tmp_outputs, client=client, time_scale=FOLLOW_SPEED) as manager:
        _lay_out_and_follow(manager)


def _lay_out_and_follow(manager: JobManager) -> None:
    prompts = ["a fox in the snow", "a boat at dawn"]
    jobs = submit_grid(manager, prompts, [1, 2, 3])
    gallery = Gallery(jobs, rows="prompt", cols="seed")
    assert gallery.row_labels == prompts
    assert gallery.col_labels == ["seed 1", "seed 2", "seed 3"]
    positions = [(c["row"], c["col"], c["card"]["id"]) for c in gallery.cells]
    assert positions == [(r, c, jobs[r * 3 + c].local_id) for r in range(2) for c in range(3)]

    # Every publish of the cells (the observer runs on each assignment), not a sample of them.
    progress_seen: dict[str, set[int]] = {job.local_id: set() for job in jobs}

    def record(change: dict[str, Any]) -> None:
        for cell in change["new"]:
            progress_seen[cell["card"]["id"]].add(cell["card"]["progress"])

    gallery.observe(record, names="cells")
    for job in jobs:
        job.wait(timeout=60)
    wait_until(lambda: gallery.title == "6 of 6 done")
    assert all(c["card"]["state"] == "done" and c["card"]["video"] for c in gallery.cells)
    # Progress showed in every cell while its job ran, not only the start and the end.
    assert all(any(0 < p < 100 for p in seen) for seen in progress_seen.values()), progress_seen
    assert [c["card"]["seed_used"] for c in gallery.cells] == [1, 2, 3, 1, 2, 3]

    # Re-laid out live; a name that is not a parameter is refused with the list of good ones.
    gallery.rows, gallery.cols = "seed", None
    assert gallery.row_labels == ["seed 1", "seed 2", "seed 3"]
    assert gallery.col_labels == [""]
    assert sorted({(c["row"], c["col"]) for c in gallery.cells}) == [(0, 0), (1, 0), (2, 0)]
    with pytest.raises(traitlets.TraitError, match="aspect_ratio"):
        gallery.cols = "ratio"
    with pytest.raises(traitlets.TraitError, match="not a parameter"):
        Gallery(jobs, rows="colour")


def test_videos_travel_on_request_never_in_state(manager: JobManager) -> None:
    [job] = submit_grid(manager, ["a lighthouse in a storm"], [5])
    gallery = Gallery([job], cols="seed")
    path = job.wait(timeout=60)
    wait_until(lambda: gallery.cells[0]["card"]["state"] == "done")
    send(gallery, {"kind": "video-request", "id": "r1", "job": job.local_id})
    replies = comm_of(gallery).custom()
    assert replies
    assert all(r["kind"] == "video-response" and r["id"] == "r1" for r, _ in replies)
    assert b"".join(b[0] for _, b in replies) == path.read_bytes()
    assert path.read_bytes()[:64].hex() not in json.dumps(gallery.get_state(), default=str)
    assert "1 of 1 done" in repr(gallery)
    gallery.close()


def test_static_fallback_is_a_table_of_cells_with_status_params_and_videos(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Where the widget cannot render (nbconvert, GitHub), the bundle's text/html shows the grid."""
    out = tmp_path / 'runs & "takes"'  # a folder name that must be escaped inside src="..."
    client = SeedanceClient(api_key=emulator.api_key, base_url=emulator.base_url)
    with JobManager(output_dir=out, client=client, time_scale=SPEED) as mgr:
        jobs = submit_grid(mgr, ["a <b>bold</b> fox", "failme: a boat"], [1, 2])
        for job in jobs:
            with contextlib.suppress(JobFailedError):
                job.wait(timeout=60)
        gallery = Gallery(jobs, rows="prompt", cols="seed", notebook_dir=tmp_path)
        wait_until(lambda: gallery.title == "2 of 4 done")
        data, _metadata = gallery._repr_mimebundle_()
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == gallery.model_id
    plain = data["text/plain"]
    assert plain.splitlines()[0] == "Seedance gallery: 2 of 4 done"
    assert all(job.local_id in plain for job in jobs)

    page = data["text/html"]
    assert "<b>bold</b>" not in page
    assert "a &lt;b&gt;bold&lt;/b&gt; fox" in page  # row header and cells, escaped
    assert "seed 1" in page
    assert "seed 2" in page
    cells = re.findall(r'<td class="seedance-gallery-static-cell" data-row="(\d)" data-col="(\d)"', page)
    assert cells == [("0", "0"), ("0", "1"), ("1", "0"), ("1", "1")]
    srcs = re.findall(r'<video class="seedance-static-video"[^>]* src="([^"]*)"', page)
    assert len(srcs) == 2  # the two finished jobs; the failed ones show their error instead
    for job, src in zip(jobs[:2], srcs, strict=True):
        relative = job.snapshot().path.relative_to(tmp_path).as_posix()
        assert relative.startswith('runs & "takes"/videos/')
        assert src == html.escape(relative, quote=True)
    assert page.count('data-state="failed"') == 2
    assert html.escape(jobs[2].snapshot().error or "x") in page
    assert "480p · 16:9 · 4 s · seed 1" in page
    gallery.close()
