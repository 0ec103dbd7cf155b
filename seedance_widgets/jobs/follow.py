"""Several managers, one output folder: exactly one paid task per request.

Managers in one process or in many (two kernels, a script beside a notebook) may share an
output folder. The ledger is their common memory, and every create is decided under its
exclusive lock, so two askers can never both decide to pay for the same request.

The rule, applied by ``JobManager.submit`` (without ``rerun``) while it holds the ledger's
exclusive lock, after folding in every record appended since it last read (by anyone):

1. This manager's own identical job in flight: that job is returned.
2. Another manager's identical job in flight (same request hash):

   - its manager alive (its owner lock is held, see ``Store.owner_alive``): the asker gets a
     *follower*, a job of its own that watches the same task. It follows the ledger until the
     other job's ``created`` record names the task id, then polls the gateway itself (reads are
     free) and saves the video; when the other job's ``downloaded`` record comes first with an
     intact file, that file is used (the store is content-addressed: same bytes, same name).
     The follower writes an ``attached`` record (with ``follows``) once it knows the task id,
     and nothing before: no ledger record ever makes a follower look like a second create.
   - its manager dead: the job is adopted as a restart would: with a task id it is watched;
     ``submitting`` becomes ``may_exist`` (never re-sent silently); ``intent``/``uploading``
     means nothing was sent, so it is closed as cancelled and this ask creates.

3. A finished identical job (anyone's) whose saved file is intact: a cache hit, no HTTP.
4. Otherwise the ``intent`` record is appended before the lock is released: whoever reads the
   ledger next sees this job in flight and follows it.

A follower whose leader stops before naming a task:

- leader ``submitting`` when its manager died, or ended ``may_exist``: the follower ends
  ``may_exist`` too (the task may exist and be billed; nothing is sent again silently);
- leader failed before a task existed (e.g. refused at create): the follower fails the same way;
- leader never sent anything (``intent``/``uploading`` with a dead manager, or cancelled before
  sending): the follower takes the create over, again under the lock, after checking that no
  other manager did so first (then it follows that one instead).

``rerun=True`` skips all of this and always makes a new, paid task.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from .restore import LedgerJob, fold
from .state import FINAL_STATES, JobState

#: Wall seconds between two looks at the ledger while a follower waits for the task id
#: (a local file read, so no gateway pacing applies).
FOLLOW_INTERVAL = 0.2

#: A leader's states before its create went out or came back, shown by its followers as theirs.
PRE_TASK_STATES = frozenset({JobState.INTENT, JobState.UPLOADING, JobState.SUBMITTING})


@dataclasses.dataclass
class LedgerView:
    """Every job of the ledger as folded so far, grown by the tail each time it is read.

    ``offset`` is the byte offset already read. Jobs are re-folded from all their records
    whenever a new one arrives, so the folding rules stay those of :func:`restore.fold`.
    Mutated only under the ledger's exclusive lock (see ``JobManager._refresh``).
    """

    root: Path
    offset: int = 0
    jobs: dict[str, LedgerJob] = dataclasses.field(default_factory=dict)
    _records: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    _by_hash: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    def absorb(self, records: list[dict[str, Any]]) -> dict[str, str]:
        """Fold new records in; returns the uploaded image URLs they name (by sha256)."""
        touched: dict[str, None] = {}
        uploads: dict[str, str] = {}
        for record in records:
            if record.get("event") == "uploaded":
                if isinstance(record.get("sha256"), str) and isinstance(record.get("url"), str):
                    uploads[record["sha256"]] = record["url"]
                continue
            local_id = record.get("job")
            if isinstance(local_id, str):
                self._records.setdefault(local_id, []).append(record)
                touched[local_id] = None
        for local_id in touched:
            entry = fold(self._records[local_id], self.root)[0].get(local_id)
            if entry is None:
                continue
            before = self.jobs.get(local_id)
            self.jobs[local_id] = entry
            if entry.request_hash and (before is None or before.request_hash != entry.request_hash):
                self._by_hash.setdefault(entry.request_hash, []).append(local_id)
        return uploads

    def with_hash(self, request_hash: str) -> list[LedgerJob]:
        """The ledger's jobs for one request, in the order they first appeared."""
        return [
            self.jobs[i]
            for i in self._by_hash.get(request_hash, [])
            if self.jobs[i].request_hash == request_hash
        ]


def is_in_flight(entry: LedgerJob) -> bool:
    return entry.state not in FINAL_STATES
