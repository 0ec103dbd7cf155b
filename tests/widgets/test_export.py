"""``export_html`` and ``%seedance export``'s parsing, on notebooks written here (no kernel).

The notebooks hold outputs as the widgets write them inside a kernel (a live output with the model's
id and a static twin with an empty id and the HTML; see widgets/_share.py). The browser suite runs
the same exports on notebooks executed by nbclient and JupyterLab and plays them in Chromium.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from IPython.core.error import UsageError

from seedance_widgets import export_html
from seedance_widgets.export import ExportSizeWarning, shareable_copy
from seedance_widgets.magic.parse import parse_call

VIEW = "application/vnd.jupyter.widget-view+json"
STATE = "application/vnd.jupyter.widget-state+json"
#: Enough of an MP4 for the checks here (an ``ftyp`` box first); the browser tests play real ones.
FAKE_MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(range(256)) * 4


def card(src: str, job: str = "j1") -> str:
    return (
        f'<div class="seedance-static" data-id="{job}" data-state="done">'
        f'<video class="seedance-static-video" controls preload="metadata" src="{src}"></video></div>'
    )


def outputs(model_id: str, src: str, job: str = "j1") -> list[Any]:
    """A JobView's two outputs inside a kernel."""
    live = nbformat.v4.new_output(
        "display_data",
        data={
            VIEW: {"version_major": 2, "version_minor": 0, "model_id": model_id},
            "text/plain": "Seedance job",
        },
        metadata={"seedance_widgets_display": "live", "seedance_widgets": {"local_id": job}},
    )
    twin = nbformat.v4.new_output(
        "display_data",
        data={VIEW: {"version_major": 2, "version_minor": 0, "model_id": ""}, "text/html": card(src, job)},
        metadata={"seedance_widgets_display": "static", "seedance_widgets": {"local_id": job}},
    )
    return [live, twin]


def state_entry(anywidget_id: str) -> dict[str, Any]:
    return {
        "model_name": "AnyModel",
        "model_module": "anywidget",
        "model_module_version": "~0.11.*",
        "state": {"_anywidget_id": anywidget_id, "_esm": "export default {}"},
    }


def write(folder: Path, cells: list[list[Any]], state: dict[str, Any] | None = None) -> Path:
    nb = nbformat.v4.new_notebook()
    for outs in cells:
        cell = nbformat.v4.new_code_cell("x")
        cell.outputs = outs
        nb.cells.append(cell)
    if state is not None:
        nb.metadata["widgets"] = {STATE: {"state": state, "version_major": 2, "version_minor": 0}}
    path = folder / "shared.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    videos = tmp_path / "seedance_outputs" / "videos"
    videos.mkdir(parents=True)
    (videos / "ab12-a-heron.mp4").write_bytes(FAKE_MP4)
    (videos / "cd34-a-koi.mp4").write_bytes(FAKE_MP4 + b"koi")
    return tmp_path


def video_sources(page: str) -> list[str]:
    return re.findall(r'<video[^>]*\ssrc="([^"]*)"', page)


def test_plain_nbconvert_would_pick_the_twin_and_the_shared_copy_drops_the_live_outputs(folder: Path) -> None:
    from nbconvert import HTMLExporter

    ours = "seedance_widgets.widgets.job_view.JobView"
    nb_path = write(
        folder,
        [outputs("m1", "seedance_outputs/videos/ab12-a-heron.mp4")],
        {"m1": state_entry(ours), "other": state_entry("someone_else.Slider")},
    )
    nb = nbformat.read(nb_path, as_version=4)
    # nbconvert's own choice, as `jupyter nbconvert --to html` makes it: the live output becomes the
    # (CDN-loaded) widget view, the twin its HTML, with the video.
    page, _ = HTMLExporter().from_notebook_node(
        nb, resources={"metadata": {"path": str(folder), "name": "shared"}}
    )
    assert '"model_id": "m1"' in page
    assert video_sources(page) == ["seedance_outputs/videos/ab12-a-heron.mp4"]

    shared = shareable_copy(nb)
    assert [o["metadata"]["seedance_widgets_display"] for o in shared.cells[0].outputs] == ["static"]
    assert set(shared.metadata["widgets"][STATE]["state"]) == {"other"}  # only our models' state goes
    assert "m1" in nb.metadata["widgets"][STATE]["state"]  # a copy: the notebook read is untouched
    only_ours = shareable_copy(nbformat.read(write(folder, [[]], {"m1": state_entry(ours)}), as_version=4))
    assert "widgets" not in only_ours.metadata  # no state left: the page loads no widget manager


def test_embed_inlines_each_video_once_as_a_data_url(folder: Path) -> None:
    nb_path = write(
        folder,
        [
            outputs("m1", "seedance_outputs/videos/ab12-a-heron.mp4"),
            outputs("m2", "seedance_outputs/videos/cd34-a-koi.mp4", "j2"),
            outputs("m3", "seedance_outputs/videos/ab12-a-heron.mp4", "j3"),
        ],
        {"m1": state_entry("seedance_widgets.widgets.job_view.JobView")},
    )
    page_path = export_html(nb_path, embed=True)
    assert page_path == folder / "shared.html"
    page = page_path.read_text(encoding="utf-8")
    sources = video_sources(page)
    assert len(sources) == 3
    decoded = [base64.b64decode(src.removeprefix("data:video/mp4;base64,")) for src in sources]
    assert decoded[0] == decoded[2] == FAKE_MP4
    assert decoded[1] == (folder / "seedance_outputs/videos/cd34-a-koi.mp4").read_bytes()
    assert "unpkg.com" not in page  # no widget state of ours left: no widget manager from a CDN
    assert not (folder / "shared_files").exists()


def test_embed_warns_above_the_size_limit_and_not_below(folder: Path) -> None:
    nb_path = write(folder, [outputs("m1", "seedance_outputs/videos/ab12-a-heron.mp4")])
    with pytest.warns(ExportSizeWarning, match="embed=False"):
        export_html(nb_path, folder / "big.html", embed=True, warn_above_bytes=len(FAKE_MP4) - 1)
    export_html(nb_path, folder / "small.html", embed=True, warn_above_bytes=len(FAKE_MP4))  # no warning


def test_without_embed_the_videos_are_copied_beside_the_page(folder: Path) -> None:
    nb_path = write(folder, [outputs("m1", "seedance_outputs/videos/ab12-a-heron.mp4")])
    out = folder / "site" / "report.html"
    export_html(nb_path, out)
    (src,) = video_sources(out.read_text(encoding="utf-8"))
    assert src == "report_files/ab12-a-heron.mp4"
    assert (out.parent / src).read_bytes() == FAKE_MP4


def test_only_mp4_files_travel_a_hostile_notebook_cannot_export_other_files(folder: Path) -> None:
    secret = folder.parent / "secret.txt"
    secret.write_text("id_rsa: do not ship", encoding="utf-8")
    nb_path = write(
        folder,
        [
            outputs("m1", "../secret.txt"),
            outputs("m2", str(secret), "j2"),
            outputs("m3", "https://example.com/v.mp4"),
        ],
    )
    page = export_html(nb_path, embed=True).read_text(encoding="utf-8")
    assert video_sources(page) == ["../secret.txt", str(secret), "https://example.com/v.mp4"]
    assert "do not ship" not in page
    assert base64.b64encode(secret.read_bytes()).decode() not in page
    export_html(nb_path, folder / "copied.html")
    assert not (folder / "copied_files").exists()


def test_export_refuses_to_overwrite_the_notebook_and_names_a_missing_one(folder: Path) -> None:
    nb_path = write(folder, [])
    with pytest.raises(ValueError, match="overwrite the notebook"):
        export_html(nb_path, nb_path)
    with pytest.raises(FileNotFoundError, match="no notebook at"):
        export_html(folder / "missing.ipynb")


# ---- %seedance export: parsing -----------------------------------------------------------------------


def parse(line: str) -> Any:
    from seedance_widgets.magic import SeedanceMagics

    parser = SeedanceMagics.seedance.parser  # type: ignore[attr-defined]
    return parse_call(line, None, parser, {}, Path.cwd())


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("export report.ipynb", ("report.ipynb", False, None)),
        ("export report.ipynb --embed", ("report.ipynb", True, None)),
        (
            "export --embed --out 'my page.html' 'my notebook.ipynb'",
            ("my notebook.ipynb", True, "my page.html"),
        ),
        ("export nb.ipynb --out=site/page.html --no-embed", ("nb.ipynb", False, "site/page.html")),
        ("export", (None, False, None)),
    ],
)
def test_export_line_is_parsed_with_its_own_options(line: str, expected: tuple[Any, ...]) -> None:
    call = parse(line)
    assert call.command == "export"
    assert (call.argument, call.embed, call.path) == expected


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("export a.ipynb b.ipynb", "one notebook"),
        ("export a.ipynb --seed 3", "--embed and --out PATH only"),
        ("export a.ipynb --out", "--out needs a path"),
    ],
)
def test_bad_export_lines_say_the_usage(line: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse(line)
