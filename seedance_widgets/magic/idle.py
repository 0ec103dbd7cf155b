"""``WhenIdle``: run deferred display work on the kernel's main thread once the cells stop.

What it is for: a finished job's live JobView (``widgets.finished_card``). Making it costs the
widget stack, which a re-run served from the cache should not pay while cells are still running,
and which a notebook executed with nobody watching never needs.

How. The work waits in a queue. ``post_run_cell`` arms a timer on the kernel's own event loop
(``kernel.io_loop``, the tornado IOLoop ipykernel 6 and 7 run shell requests on, in the main
thread), ``pre_run_cell`` disarms it: so the work runs only after ``delay`` seconds in which no
cell started, on the main thread, between two requests, never inside a cell and never from a worker
thread. The work goes in small batches, so a cell sent meanwhile does not wait for all of it.
Where there is no kernel loop (a terminal IPython, a test's InteractiveShell) nothing can be
deferred and ``available`` is False: the caller does the work at once.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Final

log = logging.getLogger("seedance_widgets.magic")

#: Pieces of work per turn of the loop: a cell sent meanwhile waits for one batch, not all of them.
BATCH: Final = 8


def _kernel_loop() -> Any:
    from IPython import get_ipython

    kernel = getattr(get_ipython(), "kernel", None)
    return getattr(kernel, "io_loop", None)


class WhenIdle:
    """A queue of work for the kernel's main thread, run once no cell has started for a while.

    ``delay`` is read each time the timer is armed (a setting the user may change). All methods run
    on the kernel's main thread (IPython's events and the loop's callbacks both do).
    """

    def __init__(self, delay: Callable[[], float]) -> None:
        self._delay = delay
        self._work: deque[Callable[[], None]] = deque()
        self._timer: Any = None
        self._loop: Any = None

    @staticmethod
    def available() -> bool:
        """Whether work can wait for an idle kernel here (inside a kernel with its event loop)."""
        return _kernel_loop() is not None

    @property
    def pending(self) -> int:
        return len(self._work)

    def add(self, work: Callable[[], None]) -> None:
        """Queue ``work``; it runs after the current cell, once the kernel has been idle ``delay`` s."""
        self._work.append(work)

    # ---- IPython events ------------------------------------------------------------------------
    def cell_started(self, info: object = None) -> None:
        self._disarm()

    def cell_finished(self, result: object = None) -> None:
        if self._work:
            self._arm(max(0.0, float(self._delay())))

    # ---- the timer -----------------------------------------------------------------------------
    def _arm(self, delay: float) -> None:
        self._disarm()
        loop = _kernel_loop()
        if loop is None:
            return
        self._loop = loop
        self._timer = loop.call_later(delay, self._run_batch)

    def _disarm(self) -> None:
        if self._timer is not None and self._loop is not None:
            self._loop.remove_timeout(self._timer)
        self._timer = None

    def _run_batch(self) -> None:
        self._timer = None
        for _ in range(min(BATCH, len(self._work))):
            work = self._work.popleft()
            try:
                work()
            except Exception:
                # Deferred display work must never take the kernel's loop down; the card stays static.
                log.exception("seedance_widgets: deferred display work failed")
        if self._work:
            self._arm(0.0)  # the rest after any request that arrived meanwhile
