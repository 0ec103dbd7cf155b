"""Writing a manager's ledger records, including those that cannot be written at once.

An ``intent`` must be on disk before its paid call: when it cannot be written, OSError is raised
(and nothing is sent). Any other record that cannot be written (disk full, read-only folder) is
kept in memory, written later in order (before any newer record), and its job says so: a task id,
once known, is never dropped.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from typing import Any

from .clock import Clock
from .job import Job
from .ledger import Ledger
from .state import JobSnapshot
from .tracked import LEDGER_WRITE_FAILED

log = logging.getLogger("seedance_widgets.engine")

#: Records that must be on disk before the paid call they announce (else the call is not made).
DURABLE_EVENTS = frozenset({"intent"})


class Journal:
    """One manager's writer of ledger records, signed with its owner id."""

    def __init__(
        self, ledger: Ledger, owner_id: str, clock: Clock, job_of: Callable[[str], Job | None]
    ) -> None:
        self.ledger = ledger
        self.owner_id = owner_id
        self._clock = clock
        self._job_of = job_of
        #: Records not written yet, oldest first; written before any newer record.
        self._unwritten: collections.deque[tuple[str, dict[str, Any]]] = collections.deque()
        self._lock = threading.Lock()
        #: Why the last ledger write failed (None once everything is written).
        self.error: str | None = None

    @property
    def has_unwritten(self) -> bool:
        return bool(self._unwritten)

    def record(self, event: str, **fields: Any) -> None:
        """One ledger record: durable for an ``intent`` (OSError when impossible), else kept in
        memory when it cannot be written now."""
        if event in DURABLE_EVENTS:
            self.write_durably(event, fields)
        else:
            self.record_or_keep(event, fields)

    def write_durably(self, event: str, fields: dict[str, Any]) -> None:
        """Write a record now, after every record still waiting; OSError if that is impossible."""
        # The ledger's own lock first, then ours: the same order everywhere (no deadlock).
        with self.ledger.exclusive(), self._lock:
            self._flush_locked()
            if self._unwritten:
                raise OSError(f"the ledger {self.ledger.path} cannot be written: {self.error}")
            if self.ledger.append(event, owner=self.owner_id, **fields) is None:
                raise OSError("the ledger is closed: this manager is shutting down")

    def record_or_keep(self, event: str, fields: dict[str, Any]) -> bool:
        """Write a record, or keep it for later when the ledger cannot be written. True: written."""
        # Stamped now: a record written late still tells when its event happened.
        fields = {"at": round(self._clock.time(), 3), **fields}
        with self._lock:
            self._unwritten.append((event, fields))
        self.flush()
        return not self._unwritten

    def flush(self) -> None:
        """Try to write every kept record, in order; tell the jobs concerned how it went."""
        with self._lock:
            if not self._unwritten and self.error is None:
                return
            before = {str(f.get("job")) for _, f in self._unwritten}
        try:
            with self.ledger.exclusive(), self._lock:
                self._flush_locked()
        except OSError as err:  # the ledger cannot even be opened
            with self._lock:
                self.error = f"{err.strerror or err}"
        with self._lock:
            waiting = {str(f.get("job")) for _, f in self._unwritten}
            if not self._unwritten:
                self.error = None
        self._show_trouble(waiting, before - waiting)

    def _flush_locked(self) -> None:
        """Write kept records in order until one fails (caller holds the ledger and our lock)."""
        while self._unwritten:
            event, fields = self._unwritten[0]
            try:
                self.ledger.append(event, owner=self.owner_id, **fields)
            except OSError as err:
                if self.error is None:
                    log.error(
                        "ledger %s cannot be written (%s): records are kept in memory and retried",
                        self.ledger.path,
                        err,
                    )
                self.error = f"{err.strerror or err}"
                return
            self._unwritten.popleft()

    def last_flush(self) -> None:
        """At shutdown: a last try at the kept records; whatever still cannot be written is logged
        with its task ids, the one thing a later kernel needs to find those tasks again."""
        if not self._unwritten:
            return
        self.flush()
        with self._lock:
            lost = sorted({str(f["task_id"]) for _, f in self._unwritten if f.get("task_id")})
        if lost:
            log.error(
                "ledger %s could not be written before shutdown: tasks %s are not recorded there; "
                "seedance_widgets.attach(task_id) watches one again",
                self.ledger.path,
                ", ".join(lost),
            )

    def is_waiting(self, local_id: str) -> bool:
        """Whether records of this job wait in memory."""
        with self._lock:
            return any(f.get("job") == local_id for _, f in self._unwritten)

    def warning(self, snap: JobSnapshot) -> str:
        """What a job whose records wait in memory tells its user."""
        text = (
            f"the ledger {self.ledger.path} could not be written ({self.error}); "
            "this job's records are kept in memory and written as soon as it can be"
        )
        if snap.task_id:
            text += (
                f". Task {snap.task_id} exists: if this kernel stops first, "
                f"seedance_widgets.attach({snap.task_id!r}) finds it again"
            )
        return text

    def _show_trouble(self, waiting: set[str], cleared: set[str]) -> None:
        """Put the ledger warning on jobs with records waiting, and take it off the others."""
        for local_id in waiting | cleared:
            job = self._job_of(local_id)
            if job is None:
                continue
            snap = job.snapshot()
            if local_id in waiting:
                # A final job keeps its own message (why it ended); a live or finished one shows this.
                if snap.error is None or snap.error_code == LEDGER_WRITE_FAILED:
                    job._update(error=self.warning(snap), error_code=LEDGER_WRITE_FAILED)
            elif snap.error_code == LEDGER_WRITE_FAILED:
                job._update(error=None, error_code=None)
