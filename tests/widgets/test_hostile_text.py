"""Issue 11, static half: hostile text stays text in every HTML the package writes.

Prompts, gateway errors and codes, task ids, gateway status words and file names come from people
and from the gateway. Each static output (JobView's and Gallery's text/html, the magic's JobTable and
SettingsTable, the grid's tables and shareable page) is rendered with the hostile strings the JS tests
use (js/__tests__/hostile_strings.json), parsed back with the standard library's HTML parser, and
must hold no element or handler made from the data, and the exact strings as text or attribute values.
"""

from __future__ import annotations

import dataclasses
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from helpers import REPO_ROOT
from widget_support import RecordingComm

from seedance_widgets.api import GenerationRequest
from seedance_widgets.engine.job import Job
from seedance_widgets.engine.state import JobSnapshot, JobState
from seedance_widgets.magic.tables import JobTable, SettingsTable
from seedance_widgets.sweeps import Cell, Grid, Table
from seedance_widgets.widgets import Gallery, JobView

pytestmark = pytest.mark.reliability

HOSTILE: list[str] = json.loads((REPO_ROOT / "js" / "__tests__" / "hostile_strings.json").read_text("utf-8"))[
    "strings"
]
#: Elements that run code or load something when markup is made from data.
ACTIVE_TAGS = {"img", "script", "svg", "iframe", "object", "embed", "math", "style", "link", "meta", "base"}


@dataclasses.dataclass
class Parsed:
    tags: list[str] = dataclasses.field(default_factory=list)
    #: (tag, attribute, value) with entities decoded, as a browser reads them.
    attrs: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)
    #: Every text node, entities decoded.
    texts: list[str] = dataclasses.field(default_factory=list)

    def values(self, attribute: str) -> list[str]:
        return [value for _, name, value in self.attrs if name == attribute]


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parsed = Parsed()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.parsed.tags.append(tag)
        self.parsed.attrs.extend((tag, name, value or "") for name, value in attrs)

    def handle_data(self, data: str) -> None:
        self.parsed.texts.append(data)


def parse(page: str) -> Parsed:
    collector = _Collector()
    collector.feed(page)
    collector.close()
    return collector.parsed


def assert_inert(page: str, own: tuple[str, ...] = ()) -> Parsed:
    """No active element (but the page's ``own`` ones, once each) and no event handler attribute;
    returns the parse for exact checks."""
    parsed = parse(page)
    active = [tag for tag in parsed.tags if tag in ACTIVE_TAGS]
    assert sorted(active) == sorted(own)
    handlers = [(tag, name) for tag, name, _ in parsed.attrs if name.startswith("on")]
    assert handlers == []
    return parsed


def after(texts: list[str], label: str) -> str:
    """The text that follows ``label`` (a details row's value)."""
    return texts[texts.index(label) + 1]


def file_name(s: str) -> str:
    """``s`` as a file name (a name cannot hold a slash)."""
    return s.replace("/", "\u2215") + ".mp4"


@dataclasses.dataclass
class Jobs:
    done: JobSnapshot
    running: JobSnapshot
    attached: JobSnapshot
    folder: Path


@pytest.fixture(params=HOSTILE, ids=[f"hostile{i}" for i in range(len(HOSTILE))])
def hostile(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Jobs]:
    """A hostile string, and three jobs whose every free text is that string."""
    s: str = request.param
    video = tmp_path / file_name(s)
    video.write_bytes(b"\0" * 64)  # no MP4 index: the facts come from the request
    req = GenerationRequest(prompt=s, duration=5, seed=7)
    base = JobSnapshot(
        local_id=s, request=req, task_id=s, error=s, error_code=s, submitted_at=1000.0, state=JobState.DONE
    )
    jobs = Jobs(
        done=dataclasses.replace(base, path=video, sha256=s, finished_at=1100.0),
        running=dataclasses.replace(
            base, local_id=s + "r", state=JobState.RUNNING, progress=40, gateway_status=s
        ),
        # attached by id only: the prompt shown is made from the task id
        attached=dataclasses.replace(base, local_id=s + "a", request=None, state=JobState.FAILED),
        folder=tmp_path,
    )
    return s, jobs


def test_job_view_static_html(hostile: tuple[str, Jobs], comms: list[RecordingComm]) -> None:
    s, jobs = hostile
    for snap in (jobs.done, jobs.running, jobs.attached):
        view = JobView(Job(snap), notebook_dir=jobs.folder)
        data, _ = view._repr_mimebundle_()
        view.close()
        parsed = assert_inert(data["text/html"])
        assert s in parsed.texts  # the error, alone in its block
        assert f"“{snap.prompt}”" in parsed.texts
        assert parsed.values("data-state") == [snap.state]
        if snap is jobs.done:
            assert after(parsed.texts, "task id") == s
            assert after(parsed.texts, "sha256") == s
            (src,) = parsed.values("src")
            assert src == file_name(s)
        if snap is jobs.running:
            assert any(f"(gateway says {s!r})" in t for t in parsed.texts)


def test_gallery_static_html(hostile: tuple[str, Jobs], comms: list[RecordingComm]) -> None:
    s, jobs = hostile
    gallery = Gallery(
        [Job(jobs.done), Job(jobs.running), Job(jobs.attached)],
        rows="prompt",
        cols="seed",
        notebook_dir=jobs.folder,
    )
    data, _ = gallery._repr_mimebundle_()
    gallery.close()
    parsed = assert_inert(data["text/html"])
    assert s in parsed.texts  # row header
    assert parsed.values("data-id") == [jobs.done.local_id, jobs.running.local_id, jobs.attached.local_id]
    assert parsed.texts.count(s) >= 3  # each job's error
    titles = parsed.values("title")
    assert titles[:2] == [s, s]  # the full prompt of the two jobs with a request
    assert f"“{s}”" in parsed.texts
    (src,) = parsed.values("src")
    assert src == file_name(s)


def test_magic_tables(hostile: tuple[str, Jobs]) -> None:
    s, jobs = hostile
    table = JobTable.build([(jobs.done, True), (jobs.running, False), (jobs.attached, True)])
    parsed = assert_inert(table._repr_html_())
    assert parsed.texts.count(s) >= 3  # id and task id
    assert file_name(s) in parsed.texts
    shown_prompt = s if len(s) <= 40 else s[:39] + "…"
    assert shown_prompt in parsed.texts

    settings = SettingsTable(("setting", "value", "help"), [{"setting": s, "value": s, "help": s}], note=s)
    parsed = assert_inert(settings._repr_html_())
    assert parsed.texts.count(s) == 4


def test_grid_tables_and_page(hostile: tuple[str, Jobs]) -> None:
    s, jobs = hostile
    cells = [
        Cell({"prompt": s, "seed": 7}, Job(jobs.done)),
        Cell({"prompt": s + "2", "seed": 7}, Job(jobs.running)),
        Cell({"prompt": s + "3", "seed": 7}, Job(jobs.attached)),
    ]
    grid = Grid(cells, ["prompt"])
    shared = grid.to_html(jobs.folder / "page.html", embed=False).read_text("utf-8")
    for page, own in ((grid._repr_html_(), ()), (shared, ("meta", "style"))):
        parsed = assert_inert(page, own)
        assert s in parsed.texts  # the axis value and the task ids
        assert f"failed: {s}" in parsed.texts
        (src,) = parsed.values("src")
        assert src.endswith(file_name(s))

    parsed = assert_inert(Table(grid.records())._repr_html_())
    assert parsed.texts.count(s) >= 9  # prompt, task id, error and sha256 of the jobs that have them
