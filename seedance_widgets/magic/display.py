"""How the magic's results show: once per cell, as live JobViews (a finished job: its card first).

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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .idle import WhenIdle

if TYPE_CHECKING:
    from seedance_widgets.engine import DryRun, Job
    from seedance_widgets.widgets import JobView
    from seedance_widgets.widgets.finished_card import FinishedCard


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
    """Remembers what the magic showed in the current cell, and one JobView per job.

    A job that is already final when shown (a re-run served from the cache) shows as its static
    card first (``widgets.finished_card``); its JobView takes that output over once the kernel has
    been idle ``live_delay()`` seconds (``WhenIdle``). ``live_delay() <= 0`` shows the JobView at once.
    """

    def __init__(self, live_delay: Callable[[], float] = lambda: 0.0) -> None:
        self._shown: list[object] = []  # strong refs, for one cell only
        self._views: dict[int, JobView] = {}  # id(job) -> view; the view keeps its job alive
        self._cards: dict[int, FinishedCard] = {}  # id(job) -> its card, until the JobView takes over
        self._live_delay = live_delay
        self._idle = WhenIdle(live_delay)

    # ---- cell boundaries (IPython events) -----------------------------------------------------
    def on_pre_run_cell(self, info: object = None) -> None:
        self._shown.clear()
        self._idle.cell_started()

    def on_post_run_cell(self, result: object = None) -> None:
        self._idle.cell_finished()

    def mark_shown(self, obj: object) -> None:
        self._shown.append(obj)

    def shown_in_this_cell(self, obj: object) -> bool:
        return any(item is obj for item in self._shown)

    # ---- views -------------------------------------------------------------------------------
    def view_for(self, job: Job, *, embed: bool = False, manager: Any = None) -> JobView:
        """The job's one live view (one widget model, however often it is shown); ``manager`` is
        the job's, for the card's "Generate again"."""
        from seedance_widgets.widgets import JobView

        view = self._live_view(job, embed=embed)
        if view is None:
            view = JobView(job, embed=embed, manager=manager)
            self._views[id(job)] = view
        return view

    def _live_view(self, job: Job, *, embed: bool) -> JobView | None:
        """The job's view if it is still open and embeds when asked to (showing it again is free)."""
        view = self._views.get(id(job))
        if view is None or view.comm is None or (embed and not view.embed):
            return None
        return view

    def show_job(self, job: Job, *, embed: bool = False, manager: Any = None) -> None:
        if not self._show_card(job, embed=embed, manager=manager):
            from IPython.display import display

            display(self.view_for(job, embed=embed, manager=manager))
        self.mark_shown(job)

    def _show_card(self, job: Job, *, embed: bool, manager: Any) -> bool:
        """Show a final job that has no live view yet as its card, the JobView to come when the
        kernel is idle; False where that does not apply (the caller shows the JobView now)."""
        if self._live_view(job, embed=embed) is not None:
            return False
        if self._live_delay() <= 0 or not job.snapshot().is_final or not WhenIdle.available():
            return False
        from seedance_widgets.widgets.finished_card import FinishedCard

        card = self._cards.get(id(job))
        if card is None or (embed and not card.embed):
            card = FinishedCard(job, embed=embed)
            self._cards[id(job)] = card
            self._idle.add(lambda: self._go_live(card, manager))
        card.show()
        return True

    def _go_live(self, card: FinishedCard, manager: Any) -> None:
        """The card's JobView takes over its outputs (on the kernel's main thread, when idle)."""
        key = id(card.job)
        if self._cards.get(key) is card:
            # Forgotten first: if the widget cannot be made, the next display of the job tries again.
            del self._cards[key]
        view = card.go_live(manager)
        if key not in self._cards:  # else a newer card (with embed) takes over after this one
            self._views[key] = view

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
        shell.events.register("post_run_cell", self.on_post_run_cell)

    def unregister(self, shell: Any) -> None:
        formatter = shell.display_formatter.ipython_display_formatter
        for name in (JOB_TYPE, DRY_RUN_TYPE):
            formatter.pop(".".join(name), None)
        formatter.pop(SweepList, None)
        hooks = (("pre_run_cell", self.on_pre_run_cell), ("post_run_cell", self.on_post_run_cell))
        for event, callback in hooks:
            try:
                shell.events.unregister(event, callback)
            except ValueError:
                pass
