"""``FinishedCard``: a finished job's card, shown at once as HTML; the live JobView comes later.

Why. Re-running a notebook whose videos already exist shows each one from the cache. A live
JobView there costs the whole widget stack first (importing ipywidgets and anywidget is about 40 ms,
then a comm per view), which is more than the rest of the re-run's own work (issue 16, row 8a).
A finished job needs none of it to be seen: its card is final, and the static card plays the video
from the output folder. So the front door shows a finished job as this card, and asks for the live
JobView (video over the comm, "Generate again", "Continue from here") once the kernel is idle
(``magic.idle.WhenIdle``). A notebook run from start to end with nobody watching (nbclient,
papermill, CI) never pays for widgets; a person sees the live widget a moment after the cells stop.

The outputs are laid out so the live JobView can take them over by display id (``JobView.take_over``),
whatever cell runs at the time, and so a notebook saved in between still exports and shares:

1. the card: ``{text/html, text/plain}``, role ``static``, under the twin's display id. It shows
   everywhere (JupyterLab, Notebook 7, nbconvert, GitHub, VS Code). When the widget arrives this
   output becomes the JobView's static twin (``_share.twin_bundle``), which JupyterLab hides.
2. the place of the widget: a hidden widget view and an empty text line, role ``live``, under the
   live display id. It shows nothing anywhere (``export_html`` drops it with the other live outputs);
   the JobView's live bundle replaces it.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seedance_widgets.engine.job import Job

from . import _share
from ._cards import CardBook, static_card_bundle

if TYPE_CHECKING:
    from .job_view import JobView


class FinishedCard:
    """The outputs of one finished job shown before its JobView exists (see the module docstring).

    Every :meth:`show` adds the two outputs under the same two display ids, so the one JobView made
    by :meth:`go_live` takes over all of them.
    """

    def __init__(self, job: Job, *, embed: bool = False, notebook_dir: str | Path | None = None) -> None:
        if not isinstance(job, Job):
            raise TypeError(f"FinishedCard needs a seedance_widgets Job, got {type(job).__name__}")
        self.job = job
        self.embed = bool(embed)
        self._notebook_dir = Path(notebook_dir) if notebook_dir is not None else Path.cwd()
        tag = f"{job.local_id}-{uuid.uuid4().hex[:8]}"
        self.live_display_id = f"seedance-job-{tag}"
        self.twin_display_id = f"seedance-job-static-{tag}"

    def show(self) -> None:
        """Display the card and the widget's place (main thread, inside a kernel)."""
        from IPython.display import display

        _share.show_backend_notice_once()
        card, card_metadata = self.card_bundle()
        display(card, raw=True, metadata=card_metadata, display_id=self.twin_display_id)
        place, place_metadata = _share.live_bundle(
            ({_share.WIDGET_VIEW_MIME: dict(_share.HIDDEN_VIEW)}, {}), "", {}
        )
        display(place, raw=True, metadata=place_metadata, display_id=self.live_display_id)

    def card_bundle(self) -> tuple[dict[str, str], dict[str, Any]]:
        """The card as HTML plus its text line, and the provenance (never the key)."""
        snap = self.job.snapshot()
        facts = CardBook(self._notebook_dir).facts(snap)
        data, metadata = static_card_bundle(snap, facts, notebook_dir=self._notebook_dir, embed=self.embed)
        return data, {**metadata, _share.ROLE_KEY: _share.ROLE_STATIC}

    def go_live(self, manager: Any = None) -> JobView:
        """The job's JobView, taking over every output :meth:`show` made (main thread, in a kernel)."""
        from .job_view import JobView

        view = JobView(self.job, embed=self.embed, notebook_dir=self._notebook_dir, manager=manager)
        view.take_over(self.live_display_id, self.twin_display_id)
        return view
