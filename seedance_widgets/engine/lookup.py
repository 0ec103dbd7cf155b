"""Finding the task of a create whose reply was lost, by the ``client_business_id`` it carried.

A create whose reply never came (a reset, a hang, a cut-off or unusable reply, a 500) may or may
not have made a task. Its body carried the job's ``client_business_id``, written in the intent
record before the create, so the gateway can be asked for that task (a read: free, and safe to
repeat). What the answers mean is decided in ``creating.resolve_lost``:

- a task: the job attaches to it (nothing is created again);
- the gateway's 404, still after a short grace counted from when the create was sent (a slow
  gateway may still be making it): no task was made;
- anything else (no answer, an unreadable one): it cannot tell, and the job stays "may exist".
"""

from __future__ import annotations

import dataclasses
import time

from seedance_widgets.api import SeedanceError, Task

from .core import Engine
from .tracked import Tracked

#: Gateway seconds after the create was sent during which a 404 is not yet believed: the lookup
#: is repeated every LOOKUP_STEP until then (3 lookups when the reply was lost at once).
LOOKUP_GRACE = 4.0
LOOKUP_STEP = 2.0


@dataclasses.dataclass
class Lookup:
    """What the lookups found: the task, or whether the last answer was the gateway's 404."""

    task: Task | None = None
    absent: bool = False
    #: One line per lookup: when, and what it answered.
    checks: list[str] = dataclasses.field(default_factory=list)

    def said(self) -> str:
        """The checks as one phrase, e.g. "looked up at 10:02:01: not found; at 10:02:03: not found"."""
        return "looked up " + "; ".join(self.checks)


def look_up(core: Engine, tracked: Tracked, business_id: str) -> Lookup | None:
    """Ask the gateway for the task created with ``business_id``, until an answer is clear or the
    grace is over. None: the manager is stopping (the job stays ``submitting``; the next manager
    of the folder looks again)."""
    client = core.client_for(tracked)
    sent = tracked.sent_at if tracked.sent_at is not None else core.clock.time()
    grace_end = sent + core.settings.ours(LOOKUP_GRACE)
    found = Lookup()
    while True:
        at = core.clock.time()
        try:
            task = client.find_by_business_id(business_id)
        except SeedanceError as err:
            found.absent = False
            found.checks.append(f"at {_clock(at)}: no clear answer ({err})")
        else:
            if task is not None:
                found.task = task
                found.checks.append(f"at {_clock(at)}: found task {task.id}")
                return found
            found.absent = True
            found.checks.append(f"at {_clock(at)}: not found (404)")
        left = grace_end - core.clock.time()
        if left <= 0:
            return found
        if core.scheduler.sleep(min(core.settings.ours(LOOKUP_STEP), left)):
            return None


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))
