"""The grid API (``seedance_widgets.grid``) over a real emulator on a loopback socket.

Every test counts what reached the emulator (``emu.stats()``): a grid must validate and budget
the whole sweep before its first create, and a re-run of a finished grid must make no create.
"""

from __future__ import annotations

import base64
import io
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import seedance_widgets
from seedance_widgets.api import SeedanceClient, ValidationError, estimate_cost_usd
from seedance_widgets.emulator import Emulator
from seedance_widgets.engine import BudgetExceededError, DryRun, JobManager
from seedance_widgets.sweeps import Grid, grid
from seedance_widgets.widgets import Gallery

SPEED = 20.0  # the `emulator` fixture's speed
PROMPTS = ["A <b>red</b> kite & a 'blue' one over hills", "A paper boat on a rainy street"]
SEEDS = [11, 22, 33]
SMALL: dict[str, Any] = {"duration": 4, "resolution": "480p"}
CLIP_COST = estimate_cost_usd("480p", False, 4)
TABLE_KEYS = {
    "model",
    "prompt",
    "seed",
    "seed_used",
    "duration",
    "aspect_ratio",
    "resolution",
    "audio",
    "camera_fixed",
    "task_id",
    "status",
    "error",
    "time_s",
    "cost_estimate_usd",
    "usage_tokens",
    "cost_usd",
    "from_cache",
    "file",
    "sha256",
}


def _manager(emulator: Emulator, output_dir: Path, **kwargs: Any) -> JobManager:
    client = SeedanceClient(api_key=emulator.api_key, base_url=emulator.base_url)
    return JobManager(output_dir, client=client, time_scale=SPEED, **kwargs)


@pytest.fixture
def managers(emulator: Emulator, tmp_outputs: Path) -> Iterator[list[JobManager]]:
    """Managers made by a test (on its emulator and output folder); all shut down after it."""
    made: list[JobManager] = []
    yield made
    for manager in made:
        manager.shutdown()


@pytest.fixture
def manager(emulator: Emulator, tmp_outputs: Path, managers: list[JobManager]) -> JobManager:
    managers.append(_manager(emulator, tmp_outputs))
    return managers[-1]


def _rows(table: Any) -> list[dict[str, Any]]:
    """The table's rows as dicts, whether it came as a list or a DataFrame."""
    if isinstance(table, list):
        return table
    frame = table.astype(object)
    return list(frame.where(frame.notna(), None).to_dict("records"))  # NaN back to None


def _intents(output_dir: Path) -> list[dict[str, Any]]:
    ledger = output_dir / "ledger.jsonl"
    if not ledger.exists():
        return []
    records = [json.loads(line) for line in ledger.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in records if r["event"] == "intent"]


def _png(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buf, format="PNG")
    return buf.getvalue()


# ---- the sweep ----------------------------------------------------------------------------------


def test_grid_makes_one_job_per_combination_with_its_parameters(
    emulator: Emulator, manager: JobManager
) -> None:
    g = grid(prompts=PROMPTS, seeds=SEEDS, aspect_ratio="1:1", manager=manager, **SMALL)
    assert isinstance(g, Grid)
    assert len(g) == 6
    assert g.axes == ["prompt", "seed"]
    expected = [(p, s) for p in PROMPTS for s in SEEDS]
    assert [(job.request.prompt, job.request.seed) for job in g.jobs] == expected
    for job in g.jobs:
        body = job.request.to_body()
        assert body["duration"] == 4
        assert body["aspect_ratio"] == "1:1"
        assert body["metadata"]["resolution"] == "480p"
        assert body["metadata"]["seed"] == job.request.seed
    assert [cell.values["seed"] for cell in g.cells] == [s for _ in PROMPTS for s in SEEDS]

    files = g.wait(timeout=120)
    assert emulator.stats()["create"] == 6
    assert len(files) == 6
    assert len({f for f in files if f is not None}) == 6
    for file in files:
        assert file is not None
        assert file.is_file()
        assert file.read_bytes()[4:8] == b"ftyp"
    # The seed each video ran with is the one asked for.
    assert [job.snapshot().seed for job in g.jobs] == [s for _ in PROMPTS for s in SEEDS]
    assert "6 jobs, 6 done" in repr(g)


def test_any_parameter_may_be_a_list_and_single_values_do_not_sweep(
    emulator: Emulator, manager: JobManager
) -> None:
    g = grid(
        prompts="A lighthouse in a storm",
        seeds=7,
        duration=[4, 5],
        aspect_ratio=["16:9", "9:16"],
        resolution="480p",
        manager=manager,
    )
    assert isinstance(g, Grid)
    assert g.axes == ["duration", "aspect_ratio"]
    assert sorted((j.request.duration, j.request.aspect_ratio) for j in g.jobs) == [
        (4, "16:9"),
        (4, "9:16"),
        (5, "16:9"),
        (5, "9:16"),
    ]
    assert all(j.request.seed == 7 for j in g.jobs)
    assert None not in g.wait(timeout=120)
    assert emulator.stats()["create"] == 4


def test_table_has_one_row_per_job_with_params_task_status_time_cost_file(
    manager: JobManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    g = grid(prompts=PROMPTS, seeds=SEEDS, manager=manager, **SMALL)
    assert isinstance(g, Grid)
    g.wait(timeout=120)
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if pandas were not installed
    rows = g.table()
    assert isinstance(rows, list)
    assert len(rows) == 6
    for job, row in zip(g.jobs, rows, strict=True):
        snap = job.snapshot()
        assert isinstance(row, dict)
        assert set(row) == TABLE_KEYS
        assert (row["prompt"], row["seed"]) == (snap.request.prompt, snap.request.seed)
        assert row["seed_used"] == snap.request.seed
        assert (row["duration"], row["resolution"], row["aspect_ratio"]) == (4, "480p", "16:9")
        assert row["audio"] is False
        assert row["camera_fixed"] is False
        assert row["task_id"] == snap.task_id
        assert row["task_id"].startswith("task_")
        assert row["status"] == "done"
        assert row["error"] is None
        assert isinstance(row["time_s"], float)
        assert row["time_s"] > 0
        assert row["cost_estimate_usd"] == pytest.approx(CLIP_COST)
        assert row["from_cache"] is False
        assert Path(row["file"]) == snap.path
        assert Path(row["file"]).is_file()
        assert row["sha256"] == snap.sha256
    # In a notebook the plain list shows as an HTML table, prompts as text.
    page = rows._repr_html_()
    assert page.count("<tr>") == 7
    assert "&lt;b&gt;red&lt;/b&gt;" in page
    assert "<b>" not in page
    json.dumps(rows)  # plain data: it can be saved as it is


def test_table_is_a_dataframe_when_pandas_is_installed(manager: JobManager) -> None:
    pd = pytest.importorskip("pandas")
    g = grid(prompts=PROMPTS[1], seeds=SEEDS[:2], manager=manager, **SMALL)
    assert isinstance(g, Grid)
    g.wait(timeout=120)
    frame = g.table()
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == 2
    assert set(frame.columns) == TABLE_KEYS
    assert list(frame["status"]) == ["done", "done"]


def test_wait_gives_none_for_a_failed_job_and_the_table_says_why(
    emulator: Emulator, manager: JobManager
) -> None:
    g = grid(prompts=["a calm sea", "failme: a storm"], seeds=1, manager=manager, **SMALL)
    assert isinstance(g, Grid)
    files = g.wait(timeout=120)
    assert files[0] is not None
    assert files[1] is None
    rows = _rows(g.table())
    assert [r["status"] for r in rows] == ["done", "failed"]
    assert rows[1]["error"]
    assert rows[1]["file"] is None
    assert "1 done, 1 ended without a video" in repr(g)


# ---- the shareable page -------------------------------------------------------------------------


def test_to_html_writes_a_self_contained_page_with_inline_videos_and_escaped_prompts(
    manager: JobManager, tmp_path: Path
) -> None:
    g = grid(prompts=PROMPTS, seeds=SEEDS[:2], manager=manager, **SMALL)
    assert isinstance(g, Grid)
    files = g.wait(timeout=120)
    out = g.to_html(tmp_path / "share" / "results.html")
    assert out == tmp_path / "share" / "results.html"
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>")
    # Every video is inline: the page needs no other file and no server.
    sources = re.findall(r'<video[^>]*\ssrc="([^"]+)"', page)
    assert len(sources) == 4
    assert all(src.startswith("data:video/mp4;base64,") for src in sources)
    inline = {base64.b64decode(src.split(",", 1)[1]) for src in sources}
    assert inline == {Path(f).read_bytes() for f in files if f is not None}
    assert "<script" not in page
    assert not re.search(r'(?:src|href)="(?!data:)', page), "the page refers to another file"
    # Prompts are text, never markup.
    assert "<b>red</b>" not in page
    assert "&lt;b&gt;red&lt;/b&gt; kite &amp; a &#x27;blue&#x27; one" in page
    for job in g.jobs:
        assert job.task_id in page
    assert "estimate" in page


def test_to_html_names_the_settings_shared_by_every_video(manager: JobManager, tmp_path: Path) -> None:
    g = grid(prompts="A <i>koi</i> pond at dawn", seeds=SEEDS[:2], manager=manager, **SMALL)
    assert isinstance(g, Grid)
    g.wait(timeout=120)
    page = g.to_html(tmp_path / "one_prompt.html").read_text(encoding="utf-8")
    assert "A &lt;i&gt;koi&lt;/i&gt; pond at dawn" in page  # the prompt, though not swept
    assert "<i>koi" not in page
    assert "480p" in page


def test_to_html_without_embed_links_the_files_relative_to_the_page(
    manager: JobManager, tmp_outputs: Path
) -> None:
    g = grid(prompts="A koi pond", seeds=SEEDS[:2], manager=manager, **SMALL)
    assert isinstance(g, Grid)
    files = g.wait(timeout=120)
    page_path = g.to_html(tmp_outputs.parent / "page.html", embed=False)
    sources = re.findall(r'<video[^>]*\ssrc="([^"]+)"', page_path.read_text(encoding="utf-8"))
    assert sources == [f"seedance_outputs/videos/{f.name}" for f in files if f is not None]
    assert all((page_path.parent / src).is_file() for src in sources)


# ---- nothing is sent unless the whole grid is sound ---------------------------------------------


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"duration": [5, 13]}, ValidationError),
        ({"seeds": [1, 2, "3"]}, ValidationError),
        ({"aspect_ratio": ["16:9", "2:1"]}, ValidationError),
        ({"resolution": ["480p", "1080p"]}, ValidationError),
        ({"prompts": ["fine", ""]}, ValidationError),
        ({"prompts": []}, ValidationError),
        ({"first_frame": "no/such/image.png"}, ValueError),
    ],
    ids=["duration", "seed", "ratio", "resolution", "empty-prompt", "no-prompts", "missing-image"],
)
def test_a_bad_value_anywhere_raises_before_any_create(
    emulator: Emulator, manager: JobManager, tmp_outputs: Path, changes: dict[str, Any], error: type
) -> None:
    kwargs: dict[str, Any] = {"prompts": PROMPTS, "seeds": SEEDS, **SMALL, **changes}
    emulator.reset_stats()
    with pytest.raises(error):
        grid(manager=manager, **kwargs)
    stats = emulator.stats()
    assert (stats["create"], stats["upload"]) == (0, 0)
    assert manager.jobs() == []
    assert _intents(tmp_outputs) == []


def test_a_grid_over_the_budget_is_refused_whole(
    emulator: Emulator, emu_env: Emulator, tmp_outputs: Path, managers: list[JobManager]
) -> None:
    manager = _manager(emulator, tmp_outputs, budget_usd=5 * CLIP_COST)
    managers.append(manager)
    with pytest.raises(BudgetExceededError, match="Nothing was submitted"):
        grid(prompts=PROMPTS, seeds=SEEDS, manager=manager, **SMALL)  # 6 clips > budget of 5
    assert emulator.stats()["create"] == 0
    assert manager.jobs() == []
    assert _intents(tmp_outputs) == []
    assert manager.spent_usd == 0

    g = grid(prompts=PROMPTS, seeds=SEEDS[:2], manager=manager, **SMALL)  # 4 clips fit
    assert isinstance(g, Grid)
    g.wait(timeout=120)
    assert manager.spent_usd == pytest.approx(4 * CLIP_COST)
    with pytest.raises(BudgetExceededError):
        grid(prompts=PROMPTS, seeds=[44, 55], manager=manager, **SMALL)  # 4 more would pass 5
    assert emulator.stats()["create"] == 4


def test_a_cached_grid_fits_any_budget_but_rerun_is_counted(
    emulator: Emulator, tmp_outputs: Path, managers: list[JobManager]
) -> None:
    manager = _manager(emulator, tmp_outputs, budget_usd=6 * CLIP_COST)
    managers.append(manager)
    first = grid(prompts=PROMPTS, seeds=SEEDS, manager=manager, **SMALL)
    assert isinstance(first, Grid)
    first.wait(timeout=120)
    emulator.reset_stats()
    # The budget is spent, but the same grid again costs nothing: it is allowed.
    again = grid(prompts=PROMPTS, seeds=SEEDS, manager=manager, **SMALL)
    assert isinstance(again, Grid)
    assert all(job.snapshot().from_cache for job in again.jobs)
    with pytest.raises(BudgetExceededError):
        grid(prompts=PROMPTS, seeds=SEEDS, manager=manager, rerun=True, **SMALL)
    assert emulator.stats()["create"] == 0


def test_job_manager_offers_a_public_cache_check() -> None:
    """The grid's budget check asks ``JobManager.is_cached(request, images)`` (no private reads)."""
    assert callable(JobManager.is_cached)


def test_the_budget_check_counts_only_combinations_that_are_not_saved_yet(
    emulator: Emulator, tmp_outputs: Path, managers: list[JobManager]
) -> None:
    """Half a grid already made: only the other half is counted against the budget."""
    manager = _manager(emulator, tmp_outputs, budget_usd=4 * CLIP_COST)
    managers.append(manager)
    half = grid(prompts=PROMPTS, seeds=SEEDS[:1], manager=manager, **SMALL)  # 2 clips
    assert isinstance(half, Grid)
    half.wait(timeout=120)
    assert all(manager.is_cached(job.request) for job in half.jobs)  # type: ignore[arg-type]
    # 6 clips in all, 2 of them saved: 4 more would bring the session to 6 > 4.
    with pytest.raises(BudgetExceededError, match=rf"estimated at \${4 * CLIP_COST:.2f}"):
        grid(prompts=PROMPTS, seeds=SEEDS, manager=manager, **SMALL)
    assert emulator.stats()["create"] == 2
    manager.budget_usd = 6 * CLIP_COST  # now the 4 new ones fit exactly
    full = grid(prompts=PROMPTS, seeds=SEEDS, manager=manager, **SMALL)
    assert isinstance(full, Grid)
    assert sum(job.snapshot().from_cache for job in full.jobs) == 2
    full.wait(timeout=120)
    assert emulator.stats()["create"] == 6


# ---- re-runs are free ---------------------------------------------------------------------------


def test_rerunning_the_same_grid_makes_zero_creates(
    emulator: Emulator, manager: JobManager, tmp_outputs: Path, managers: list[JobManager]
) -> None:
    first = grid(prompts=PROMPTS, seeds=SEEDS, manager=manager, **SMALL)
    assert isinstance(first, Grid)
    first_files = first.wait(timeout=120)
    assert emulator.stats()["create"] == 6
    emulator.reset_stats()

    again = grid(prompts=PROMPTS, seeds=SEEDS, manager=manager, **SMALL)
    assert isinstance(again, Grid)
    assert again.wait(timeout=30) == first_files
    assert all(job.snapshot().from_cache for job in again.jobs)
    rows = _rows(again.table())
    assert {r["cost_estimate_usd"] for r in rows} == {0.0}
    assert all(r["from_cache"] for r in rows)
    assert "~$0.00" in again.summary()

    # A new session (new manager, same output folder), as after a kernel restart: still free.
    fresh = _manager(emulator, tmp_outputs)
    managers.append(fresh)
    later = grid(prompts=PROMPTS, seeds=SEEDS, manager=fresh, **SMALL)
    assert isinstance(later, Grid)
    assert later.wait(timeout=30) == first_files
    stats = emulator.stats()
    assert (stats["create"], stats["get"], stats["download"]) == (0, 0, 0)

    # rerun=True pays for new tasks.
    paid = grid(prompts=PROMPTS[1], seeds=SEEDS[0], rerun=True, manager=fresh, **SMALL)
    assert isinstance(paid, Grid)
    paid.wait(timeout=120)
    assert emulator.stats()["create"] == 1


def test_images_are_shared_by_every_job(emulator: Emulator, manager: JobManager, tmp_outputs: Path) -> None:
    red, green = _png((200, 40, 40)), _png((40, 200, 40))
    g = grid(
        prompts="The scene comes alive",
        seeds=[1, 2],
        first_frame=red,
        references=[green],
        manager=manager,
        **SMALL,
    )
    assert isinstance(g, Grid)
    assert None not in g.wait(timeout=120)
    stats = emulator.stats()
    assert stats["create"] == 2
    # Two distinct images, each uploaded once: jobs created at the same moment share the upload.
    assert stats["upload"] == 2
    images = [[(i["role"], i["sha256"]) for i in rec["images"]] for rec in _intents(tmp_outputs)]
    assert len(images) == 2
    assert images[0] == images[1]
    assert sorted(role for role, _ in images[0]) == ["first_frame", "reference_image"]


# ---- gallery and dry run ------------------------------------------------------------------------


def test_gallery_lays_out_rows_and_cols_by_the_swept_parameters(manager: JobManager) -> None:
    g = grid(prompts=PROMPTS, seeds=SEEDS, manager=manager, **SMALL)
    assert isinstance(g, Grid)
    g.wait(timeout=120)
    gallery = g.gallery()
    assert isinstance(gallery, Gallery)
    assert (gallery.rows, gallery.cols) == ("prompt", "seed")
    assert gallery.row_labels == PROMPTS
    assert gallery.col_labels == [f"seed {s}" for s in SEEDS]
    assert len(gallery.cells) == 6
    assert {(c["row"], c["col"]) for c in gallery.cells} == {(r, c) for r in range(2) for c in range(3)}
    assert gallery.title.startswith("6 of 6 done")
    assert [job.local_id for job in gallery.jobs] == [job.local_id for job in g.jobs]

    flipped = g.gallery(rows="seed", cols="prompt")
    assert (flipped.rows, flipped.cols) == ("seed", "prompt")
    assert len(flipped.row_labels) == 3
    for widget in (gallery, flipped):
        widget.close()


def test_gallery_of_a_one_axis_grid_has_one_column(manager: JobManager) -> None:
    g = grid(prompts="A koi pond", seeds=3, duration=[4, 5], resolution="480p", manager=manager)
    assert isinstance(g, Grid)
    gallery = g.gallery()
    assert (gallery.rows, gallery.cols) == ("duration", None)
    assert gallery.row_labels == ["4 s", "5 s"]
    gallery.close()
    g.wait(timeout=120)


MODELS = ["doubao-seedance-1-5-pro", "seedance-2", "doubao-seedance-2-0"]


def test_a_model_axis_compares_models_side_by_side(emulator: Emulator, manager: JobManager) -> None:
    g = grid("A lighthouse in a storm", seeds=7, model=MODELS, duration=4, resolution="480p", manager=manager)
    assert isinstance(g, Grid)
    assert g.axes == ["model"]
    requests = [job.request for job in g.jobs]
    assert [r.model for r in requests if r] == MODELS
    # Settings left out take each model's own defaults: 2.0's adaptive ratio, sound on for 2.x.
    assert [(r.aspect_ratio, r.audio) for r in requests if r] == [
        ("16:9", False),
        ("16:9", True),
        ("adaptive", True),
    ]
    gallery = g.gallery()
    assert (gallery.rows, gallery.cols) == (None, "model")  # one column per model
    assert gallery.col_labels == [
        "Seedance 1.5 Pro (doubao-seedance-1-5-pro)",
        "Seedance 2 (seedance-2)",
        "Seedance 2.0 (doubao-seedance-2-0)",
    ]
    g.wait(timeout=120)
    assert [row["model"] for row in g.records()] == MODELS
    assert all(row["status"] == "done" for row in g.records())
    assert emulator.stats()["create"] == 3
    gallery.close()


def test_a_value_one_model_refuses_stops_the_whole_grid(emulator: Emulator, manager: JobManager) -> None:
    with pytest.raises(ValidationError, match=r"doubao-seedance-1-5-pro.*tops out at 720p"):
        grid(
            "A glacier", model=["seedance-2", "doubao-seedance-1-5-pro"], resolution="1080p", manager=manager
        )
    with pytest.raises(ValidationError, match="unknown model 'seedanse-2': did you mean 'seedance-2'"):
        grid("A glacier", model=["seedanse-2"], manager=manager)
    assert emulator.stats()["create"] == 0


def test_dry_run_returns_the_bodies_and_sends_nothing(
    emulator: Emulator, manager: JobManager, tmp_outputs: Path
) -> None:
    dry = grid(prompts=PROMPTS, seeds=SEEDS, audio=[False, True], manager=manager, dry_run=True, **SMALL)
    assert isinstance(dry, list)
    assert len(dry) == 12
    assert all(isinstance(d, DryRun) for d in dry)
    bodies = [d.body for d in dry]
    assert {(b["prompt"], b["metadata"]["seed"], b["metadata"]["audio"]) for b in bodies} == {
        (p, s, a) for p in PROMPTS for s in SEEDS for a in (False, True)
    }
    assert all(b["model"] == "doubao-seedance-1-5-pro" and b["duration"] == 4 for b in bodies)
    assert sum(d.estimate_usd for d in dry) == pytest.approx(
        6 * CLIP_COST + 6 * estimate_cost_usd("480p", True, 4)
    )
    assert len({d.request_hash for d in dry}) == 12
    stats = emulator.stats()
    assert sum(stats[k] for k in ("create", "get", "upload", "download")) == 0
    assert manager.jobs() == []
    assert _intents(tmp_outputs) == []


def test_package_exports_grid_and_grid_class(manager: JobManager) -> None:
    assert seedance_widgets.Grid is Grid
    assert "grid" in seedance_widgets.__all__
    assert "Grid" in seedance_widgets.__all__
    # `seedance_widgets.grid` is the submodule, which is callable: it runs grid().
    dry = seedance_widgets.grid(prompts="a fox", seeds=[1, 2], manager=manager, dry_run=True)
    assert isinstance(dry, list)
    assert [d.body["metadata"]["seed"] for d in dry] == [1, 2]


def test_default_manager_is_used_without_one(
    emu_env: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seedance_widgets.engine import default_manager, set_default_manager

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEEDANCE_OUTPUT_DIR", raising=False)
    set_default_manager(None)
    default_manager().time_scale = SPEED
    try:
        g = seedance_widgets.grid(prompts="a fox", seeds=[1, 2], **SMALL)
        assert isinstance(g, Grid)
        files = g.wait(timeout=120)
        assert all(f is not None and tmp_path in f.parents for f in files)
        assert emu_env.stats()["create"] == 2
    finally:
        default_manager().shutdown()
        set_default_manager(None)


# ---- the Python front door and every model (issue 13) ------------------------------------------------

TWO_0 = "doubao-seedance-2-0"


def test_generate_takes_a_model_and_its_own_limits(emulator: Emulator, manager: JobManager) -> None:
    generate = seedance_widgets.generate
    job = generate("A glacier calving", model="seedance-2", resolution="1080p", duration=15, manager=manager)
    assert not isinstance(job, DryRun)
    assert job.wait(timeout=120).is_file()
    request = job.request
    assert request is not None
    assert (request.model, request.resolution, request.duration) == ("seedance-2", "1080p", 15)
    assert request.audio is True  # the model's own default
    with pytest.raises(ValidationError) as err:
        generate("A glacier", model=MODELS[0], resolution="1080p", manager=manager)
    assert "tops out at 720p" in str(err.value)
    assert "seedance-2" in str(err.value)  # names the models that allow 1080p
    assert emulator.stats()["create"] == 1


def test_generate_checks_local_reference_media_before_anything_is_sent(
    emulator: Emulator, manager: JobManager, tmp_path: Path
) -> None:
    generate = seedance_widgets.generate
    fake = tmp_path / "dance.mp4"
    fake.write_bytes(b"this is not a video")
    with pytest.raises(ValidationError, match=r"dance\.mp4 is not a file in MP4 or MOV format"):
        generate("A robot dances", model=TWO_0, ref_videos=fake, manager=manager)
    with pytest.raises(ValidationError, match="takes none"):
        generate("A robot dances", ref_videos="https://example.com/a.mp4", manager=manager)
    with pytest.raises(ValidationError, match="cannot be used alone"):
        generate("A robot dances", model=TWO_0, ref_audios="https://example.com/a.mp3", manager=manager)
    stats = emulator.stats()
    assert (stats["create"], stats["upload"]) == (0, 0)
