"""What the shell shows: one JobView per job per cell, none from the displayhook in the same cell."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from magic_session import Session

import seedance_widgets.engine.job
import seedance_widgets.engine.state
from seedance_widgets.engine import DryRun, Job
from seedance_widgets.magic.display import DRY_RUN_TYPE, JOB_TYPE


def test_magic_shows_one_view_and_its_value_no_second_copy(ip: Session) -> None:
    job = ip.run("%seedance --resolution 480p -d 4 a heron takes off")
    assert isinstance(job, Job)
    assert len(ip.widget_ids()) == 1
    shown = ip.displays[0]
    assert "text/html" in shown["data"]  # the static fallback travels with the widget
    assert "text/plain" in shown["data"]
    assert ip.results == []  # the displayhook wrote no Out[] for the returned Job
    assert ip.shell.user_ns["_"] is job  # ...but still keeps it as the last value


def test_assigned_job_shows_too_and_later_cells_show_it_again(ip: Session) -> None:
    ip.run("job = %seedance --resolution 480p -d 4 a heron takes off")
    first = ip.widget_ids()
    assert len(first) == 1
    ip.clear()
    ip.run("job")  # a later cell: the Job alone shows its view (the same widget model)
    assert ip.widget_ids() == first
    assert ip.results == []
    ip.clear()
    ip.run("display(job)")
    assert ip.widget_ids() == first


def test_sweep_shows_each_job_once_per_cell(ip: Session) -> None:
    runs = ip.run("%seedance --seeds 1,2 --resolution 480p -d 4 a koi pond")
    ids = ip.widget_ids()
    assert len(ids) == len(set(ids)) == 2
    assert ip.results == []
    ip.clear()
    ip.shell.user_ns["runs"] = runs
    ip.run("runs")
    assert ip.widget_ids() == ids


def test_dry_run_is_printed_once_per_cell(ip: Session) -> None:
    dry = ip.run("%seedance --dry-run a lighthouse in a storm")
    assert isinstance(dry, DryRun)
    assert ip.capsys.readouterr().out.count("Dry run: nothing was sent") == 1
    assert ip.results == []
    ip.shell.user_ns["dry"] = dry
    ip.run("dry")
    assert ip.capsys.readouterr().out.count('"prompt": "a lighthouse in a storm"') == 1


def test_formatter_names_match_the_engine_types() -> None:
    assert getattr(seedance_widgets.engine.job, JOB_TYPE[1]) is Job
    assert Job.__module__ == JOB_TYPE[0]
    assert getattr(seedance_widgets.engine.state, DRY_RUN_TYPE[1]) is DryRun
    assert DryRun.__module__ == DRY_RUN_TYPE[0]


def test_help_documents_every_option_with_examples(ip: Session) -> None:
    ip.run("%seedance?")
    text = ip.capsys.readouterr().out
    for option in (
        "--duration",
        "-d",
        "--ratio",
        "-r",
        "--resolution",
        "--audio",
        "--seed",
        "--seeds",
        "--camera-fixed",
        "--first",
        "--last",
        "--ref",
        "--wait",
        "--rerun",
        "--dry-run",
        "--embed",
        "--out",
        "%seedance jobs",
        "%seedance attach TASK_ID",
        "%seedance cancel ID",
        "%seedance config",
        "%seedance form",
        "%%seedance",
        "%config Seedance.duration = 8",
        "TOAPIS_API_KEY",
    ):
        assert option in text, option


def test_form_subcommand_shows_the_form(ip: Session) -> None:
    # ipywidgets' registry of live widgets (Widget.widgets is its deprecated public alias).
    from ipywidgets.widgets.widget import _instances

    from seedance_widgets.widgets import SeedanceForm

    ip.run("%config Seedance.duration = 9")
    assert ip.run("%seedance form") is None
    (model_id,) = ip.widget_ids()
    form = _instances[model_id]
    assert isinstance(form, SeedanceForm)
    assert form.duration == 9


def test_unload_removes_magic_and_formatter(ip: Session) -> None:
    job = ip.run("%seedance --resolution 480p -d 4 a heron")
    ip.run("%unload_ext seedance_widgets")
    with pytest.raises(UsageError, match="not found"):
        ip.run("%seedance jobs")
    ip.clear()
    ip.shell.user_ns["job"] = job
    ip.run("job")
    assert ip.widget_ids() == []  # back to a plain repr
    assert "Job" in ip.results[0]["text/plain"]
    assert all(type(c).__name__ != "Seedance" for c in ip.shell.configurables)
    ip.run("%load_ext seedance_widgets")  # and it loads again cleanly
    ip.clear()
    ip.run("job")
    assert len(ip.widget_ids()) == 1
