"""``export_html`` carries each card's last frame (a job asked with ``return_last_frame``) like its video.

The notebooks are saved as a kernel leaves them: real jobs on the emulator, each shown by a JobView
whose live output and static twin are written into the ``.ipynb`` (the bundles widgets/_share.py
sends). The checks read the exported page with an HTML parser, as a browser reads it.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import nbformat
import pytest
from widget_support import SPEED, wait_until

from seedance_widgets.api import GenerationRequest, SeedanceClient
from seedance_widgets.api.media import sniff_image_type
from seedance_widgets.emulator import Emulator
from seedance_widgets.engine import Job
from seedance_widgets.engine.manager import JobManager
from seedance_widgets.engine.state import JobSnapshot
from seedance_widgets.export import ExportMissingFileWarning, ExportSizeWarning, export_html
from seedance_widgets.widgets import JobView, _display, _share
from seedance_widgets.widgets._cards import static_card_html

pytestmark = pytest.mark.usefixtures("comms")

LAST_FRAME_CLASS = "seedance-static-last-frame"
#: Not ours: an image the user put on the page, and a remote one that claims our class.
OTHER_IMAGES = (
    '<img class="user-chart" src="seedance_outputs/videos/{frame}">'
    '<img class="seedance-static-last-frame" src="https://example.com/frame.png">'
)

Output = tuple[dict[str, Any], dict[str, Any]]


class Tags(HTMLParser):
    """Every start tag of a page with its attributes, values unescaped (as a browser sees them)."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    def sources(self, tag: str, cls: str | None = None) -> list[str]:
        return [a["src"] for t, a in self.tags if t == tag and (cls is None or a.get("class") == cls)]


def page_tags(path: Path) -> Tags:
    return Tags(path.read_text(encoding="utf-8"))


@pytest.fixture
def framed(manager: JobManager) -> Job:
    """A finished job that asked for its last frame (saved beside the video by the engine)."""
    request = GenerationRequest(
        prompt="a paper boat at dusk",
        model="seedance-2",
        duration=4,
        resolution="480p",
        return_last_frame=True,
    )
    job = manager.submit(request)
    assert isinstance(job, Job)
    job.wait(timeout=120)
    assert job.snapshot().last_frame is not None
    return job


def view_outputs(job: Job, notebook_dir: Path) -> list[Output]:
    """A JobView's two outputs inside a kernel, once its job is done: the live one, the twin."""
    view = JobView(job, notebook_dir=notebook_dir)
    wait_until(lambda: view.state == "done")
    snap = view._snapshot()
    outputs = [view._live_bundle(snap), _share.twin_bundle(view._twin_html(snap), view._metadata(snap))]
    view.close()
    return outputs


def card_outputs(snap: JobSnapshot, notebook_dir: Path) -> list[Output]:
    """The static twin the card code writes for ``snap`` (for a snapshot whose frame file was moved)."""
    html = static_card_html(snap, None, notebook_dir=notebook_dir)
    return [_share.twin_bundle(html, {_display.PROVENANCE_KEY: _display.provenance(snap)})]


def save_notebook(path: Path, cells: list[list[Output]]) -> Path:
    nb = nbformat.v4.new_notebook()
    for outputs in cells:
        cell = nbformat.v4.new_code_cell("job")
        cell.outputs = [nbformat.v4.new_output("display_data", data=d, metadata=m) for d, m in outputs]
        nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def frame_of(job: Job) -> Path:
    frame = job.snapshot().last_frame
    assert frame is not None
    return frame


def test_without_embed_the_last_frame_is_copied_beside_the_page_and_other_images_are_left(
    framed: Job, tmp_outputs: Path
) -> None:
    folder, frame = tmp_outputs.parent, frame_of(framed)
    others = OTHER_IMAGES.format(frame=frame.name)
    nb_path = save_notebook(
        folder / "shared.ipynb", [view_outputs(framed, folder), [({"text/html": others}, {})]]
    )
    out = export_html(nb_path, folder / "site" / "report.html")
    tags = page_tags(out)
    (src,) = tags.sources("img", LAST_FRAME_CLASS)[:1]
    assert src == f"report_files/{frame.name}"
    assert (out.parent / src).read_bytes() == frame.read_bytes()
    (video,) = tags.sources("video")
    assert video.startswith("report_files/")
    assert video.endswith(".mp4")
    # Not ours, or not local: untouched.
    assert f"seedance_outputs/videos/{frame.name}" in tags.sources("img", "user-chart")
    assert tags.sources("img", LAST_FRAME_CLASS)[1:] == ["https://example.com/frame.png"]
    assert sorted(p.name for p in (out.parent / "report_files").iterdir()) == sorted(
        [frame.name, Path(video).name]
    )


def test_embed_inlines_the_last_frame_with_the_type_its_bytes_say(framed: Job, tmp_outputs: Path) -> None:
    folder, frame = tmp_outputs.parent, frame_of(framed)
    # The same real frame under a name claiming JPEG: the type comes from the bytes, not the name.
    renamed = frame.with_name(frame.stem + ".jpg")
    shutil.copyfile(frame, renamed)
    moved = dataclasses.replace(framed.snapshot(), last_frame=renamed)
    nb_path = save_notebook(
        folder / "shared.ipynb", [view_outputs(framed, folder), card_outputs(moved, folder)]
    )
    page = export_html(nb_path, embed=True)
    sources = page_tags(page).sources("img", LAST_FRAME_CLASS)
    mime = sniff_image_type(frame.read_bytes()[:16])
    assert mime == "image/png"
    assert len(sources) == 2
    for src in sources:
        head, _, data = src.partition(",")
        assert head == f"data:{mime};base64"
        assert base64.b64decode(data) == frame.read_bytes()
    assert not (folder / "shared_files").exists()


def test_a_hostile_file_name_reaches_the_page_escaped(framed: Job, tmp_outputs: Path) -> None:
    folder, frame = tmp_outputs.parent, frame_of(framed)
    hostile = frame.with_name('boat "quoted" <b>bold & co.last.png')
    shutil.copyfile(frame, hostile)
    snap = dataclasses.replace(framed.snapshot(), last_frame=hostile)
    nb_path = save_notebook(folder / "shared.ipynb", [card_outputs(snap, folder)])
    out = folder / 'page "one" <i>.html'
    export_html(nb_path, out)
    raw = out.read_text(encoding="utf-8")
    assert "<b>bold" not in raw
    assert "<i>" not in raw
    (src,) = page_tags(out).sources("img", LAST_FRAME_CLASS)
    copied = out.parent / unquote(src)
    assert copied.parent.name == 'page "one" <i>_files'
    assert copied.name == hostile.name
    assert copied.read_bytes() == frame.read_bytes()
    (data_src,) = page_tags(export_html(nb_path, folder / "embedded.html", embed=True)).sources(
        "img", LAST_FRAME_CLASS
    )
    assert base64.b64decode(data_src.partition(",")[2]) == frame.read_bytes()


def test_an_output_folder_with_a_hostile_name_still_sends_the_video_and_the_frame(
    emulator: Emulator, tmp_path: Path
) -> None:
    # nbconvert writes a src holding '"' in single quotes: the video and the frame must both travel.
    client = SeedanceClient(api_key=emulator.api_key, base_url=emulator.base_url)
    with JobManager(output_dir=tmp_path / 'my "clips" <x> & y', client=client, time_scale=SPEED) as manager:
        request = GenerationRequest(
            prompt="a kite", model="seedance-2", duration=4, resolution="480p", return_last_frame=True
        )
        job = manager.submit(request)
        assert isinstance(job, Job)
        video = job.wait(timeout=120)
        nb_path = save_notebook(tmp_path / "shared.ipynb", [view_outputs(job, tmp_path)])
    frame = frame_of(job)
    tags = page_tags(export_html(nb_path))
    (frame_src,) = tags.sources("img", LAST_FRAME_CLASS)
    (video_src,) = tags.sources("video")
    assert (frame_src, video_src) == (f"shared_files/{frame.name}", f"shared_files/{video.name}")
    assert (tmp_path / frame_src).read_bytes() == frame.read_bytes()
    assert (tmp_path / video_src).read_bytes() == video.read_bytes()
    embedded = page_tags(export_html(nb_path, tmp_path / "embedded.html", embed=True))
    (data_src,) = embedded.sources("img", LAST_FRAME_CLASS)
    assert base64.b64decode(data_src.removeprefix("data:image/png;base64,")) == frame.read_bytes()
    assert embedded.sources("video")[0].startswith("data:video/mp4;base64,")


def test_a_last_frame_outside_the_notebooks_folder_is_not_copied_or_inlined(
    framed: Job, tmp_outputs: Path
) -> None:
    # The notebook in a sub-folder: its card's frame is ../seedance_outputs/videos/...
    notebook_dir = tmp_outputs.parent / "notebooks"
    notebook_dir.mkdir()
    frame = frame_of(framed)
    relative = os.path.relpath(frame, notebook_dir).replace(os.sep, "/")
    assert relative.startswith("../")
    # And a card edited (a notebook from someone else) to name a link in the folder that leads out.
    os.symlink(frame, notebook_dir / "frame-link.png")
    ((data, metadata),) = card_outputs(framed.snapshot(), notebook_dir)
    data["text/html"] = data["text/html"].replace(f'src="{relative}"', 'src="frame-link.png"')
    nb_path = save_notebook(
        notebook_dir / "shared.ipynb", [view_outputs(framed, notebook_dir), [(data, metadata)]]
    )
    out = export_html(nb_path)
    tags = page_tags(out)
    assert tags.sources("img", LAST_FRAME_CLASS) == [relative, "frame-link.png"]
    copied = [p.name for p in (notebook_dir / "shared_files").iterdir()]
    assert copied == [Path(tags.sources("video")[0]).name]  # the video travels, as it always did
    embedded = page_tags(export_html(nb_path, notebook_dir / "embedded.html", embed=True))
    assert embedded.sources("img", LAST_FRAME_CLASS) == [relative, "frame-link.png"]


def test_a_missing_last_frame_keeps_the_card_and_warns_like_a_missing_video(
    emulator: Emulator, framed: Job, tmp_outputs: Path
) -> None:
    folder, frame = tmp_outputs.parent, frame_of(framed)
    first = view_outputs(framed, folder)
    # A second job whose video is then lost, in the same notebook.
    client = SeedanceClient(api_key=emulator.api_key, base_url=emulator.base_url)
    with JobManager(output_dir=folder / "other_outputs", client=client, time_scale=SPEED) as other:
        lost = other.submit(GenerationRequest(prompt="a lost heron", duration=4, resolution="480p"))
        assert isinstance(lost, Job)
        lost_video = lost.wait(timeout=120)
        second = view_outputs(lost, folder)
    nb_path = save_notebook(folder / "shared.ipynb", [first, second])
    frame.unlink()
    lost_video.unlink()
    frame_src = os.path.relpath(frame, folder).replace(os.sep, "/")
    video_src = os.path.relpath(lost_video, folder).replace(os.sep, "/")
    for embed in (False, True):
        with pytest.warns(ExportMissingFileWarning) as caught:
            out = export_html(nb_path, folder / f"page-{embed}.html", embed=embed)
        (message,) = [str(w.message) for w in caught]
        assert "2 file(s)" in message
        assert frame_src in message
        assert video_src in message
        tags = page_tags(out)
        assert tags.sources("img", LAST_FRAME_CLASS) == [frame_src]  # the card stays, as it was
        kept_video, gone_video = tags.sources("video")
        assert gone_video == video_src
        assert kept_video.startswith("data:video/mp4;base64," if embed else "page-False_files/")


def test_the_size_warning_counts_the_last_frames(framed: Job, tmp_outputs: Path) -> None:
    folder = tmp_outputs.parent
    nb_path = save_notebook(folder / "shared.ipynb", [view_outputs(framed, folder)])
    video = framed.snapshot().path
    assert video is not None
    total = video.stat().st_size + frame_of(framed).stat().st_size
    with pytest.warns(ExportSizeWarning, match="videos and images"):
        export_html(nb_path, folder / "big.html", embed=True, warn_above_bytes=total - 1)
    export_html(nb_path, folder / "small.html", embed=True, warn_above_bytes=total)  # no warning
