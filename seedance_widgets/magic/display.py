"""How the magic's results show: once per cell, as live JobViews.

The magic displays a JobView itself (so ``job = %seedance ...`` shows progress too) and
returns the Job. When the call is the cell's last expression, IPython's displayhook then
formats that same Job: ``DisplayFormatter.format`` asks the ``ipython_display_formatter``
first and, when a printer is registered for the type, uses only it and returns an empty
bundle, so the displayhook writes no ``Out[]`` at all (it still stores the value in
``_`` / ``Out``). Our printer therefore skips an object the magic already showed during
the current cell, and shows a JobView for it in any later cell (``job`` alone).

"The current cell" is counted with the ``pre_run_cell`` event, not ``execution_count``:
the count does not move when a cell runs with ``store_history=False`` (as in tests and
some front-ends' silent cells).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from seedance_widgets.engine import DryRun, Job
    from seedance_widgets.widgets import JobView


#: Where the engine defines the types we show (module, class name); a test checks they match.
JOB_TYPE = ("seedance_widgets.engine.job", "Job")
DRY_RUN_TYPE = ("seedance_widgets.engine.state", "DryRun")


class SweepList(list):  # type: ignore[type-arg]
    """The jobs (or dry runs) of a ``--seeds`` sweep: a plain list, one item per seed.

    As a cell's value it shows each job's JobView (unless the magic already did in that cell).
    """


def say(text: str) -> None:
    """A line for the person at the notebook (main thread only: never from the engine's threads)."""
    sys.stdout.write(text.rstrip("\n") + "\n")
    sys.stdout.flush()


def dry_run_text(dry: DryRun, base_url: str) -> str:
    body = json.dumps(dry.body, indent=2, ensure_ascii=False)
    return (
        f"Dry run: nothing was sent. This is the exact request:\n"
        f"POST {base_url.rstrip('/')}{dry.path}\n{body}\n"
        f"Estimated cost: {_estimate(dry.estimate_usd)}"
    )


def _estimate(usd: float | None) -> str:
    if usd is None:
        return "no estimate (the catalogue has no list price for these settings)"
    return f"~${usd:.2f} (an ESTIMATE from a published list price; the gateway's bill may differ)"


class CellDisplays:
    """Remembers what the magic showed in the current cell, and one JobView per job."""

    def __init__(self) -> None:
        self._shown: list[object] = []  # strong refs, for one cell only
        self._views: dict[int, JobView] = {}  # id(job) -> view; the view keeps its job alive

    # ---- cell boundaries (IPython event) ------------------------------------------------------
    def on_pre_run_cell(self, info: object = None) -> None:
        self._shown.clear()

    def mark_shown(self, obj: object) -> None:
        self._shown.append(obj)

    def shown_in_this_cell(self, obj: object) -> bool:
        return any(item is obj for item in self._shown)

    # ---- views -------------------------------------------------------------------------------
    def view_for(self, job: Job, *, embed: bool = False, manager: Any = None) -> JobView:
        """The job's one live view (one widget model, however often it is shown); ``manager`` is
        the job's, for the card's "Generate again"."""
        from seedance_widgets.widgets import JobView

        view = self._views.get(id(job))
        if view is None or view.comm is None or (embed and not view.embed):
            view = JobView(job, embed=embed, manager=manager)
            self._views[id(job)] = view
        return view

    def show_job(self, job: Job, *, embed: bool = False, manager: Any = None) -> None:
        from IPython.display import display

        display(self.view_for(job, embed=embed, manager=manager))
        self.mark_shown(job)

    def show_dry_run(self, dry: DryRun, base_url: str) -> None:
        say(dry_run_text(dry, base_url))
        self.mark_shown(dry)

    # ---- ipython_display_formatter printers --------------------------------------------------
    def print_job(self, job: Job) -> None:
        if not self.shown_in_this_cell(job):
            self.show_job(job)

    def print_dry_run(self, dry: DryRun) -> None:
        if not self.shown_in_this_cell(dry):
            say(dry_run_text(dry, "<base URL>"))

    def print_sweep(self, items: SweepList) -> None:
        if self.shown_in_this_cell(items):
            return
        from seedance_widgets.engine import Job

        for item in items:
            if isinstance(item, Job):
                self.print_job(item)
            else:
                self.print_dry_run(item)

    def register(self, shell: Any) -> None:
        # By name, so %load_ext does not import the engine (it loads on the first %seedance).
        formatter = shell.display_formatter.ipython_display_formatter
        formatter.for_type_by_name(*JOB_TYPE, self.print_job)
        formatter.for_type_by_name(*DRY_RUN_TYPE, self.print_dry_run)
        formatter.for_type(SweepList, self.print_sweep)
        shell.events.register("pre_run_cell", self.on_pre_run_cell)

    def unregister(self, shell: Any) -> None:
        formatter = shell.display_formatter.ipython_display_formatter
        for name in (JOB_TYPE, DRY_RUN_TYPE):
            formatter.pop(".".join(name), None)
        formatter.pop(SweepList, None)
        try:
            shell.events.unregister("pre_run_cell", self.on_pre_run_cell)
        except ValueError:
            pass
