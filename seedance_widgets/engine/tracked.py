"""The engine's private bookkeeping for each job (never shown to observers), and the state sets
its rooms share."""

from __future__ import annotations

import collections
import dataclasses
import os
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from seedance_widgets.api.protocols.toapis import check_business_id

from .job import Job
from .policy import PollSample
from .state import JobState
from .store import LOCAL_IMAGE_PREFIX

if TYPE_CHECKING:
    from seedance_widgets.api import SeedanceClient

#: An input of a request: (role, source) where source is an http(s) URL, a path or bytes.
ImageInput = tuple[str, "str | os.PathLike[str] | bytes"]
#: Prefix of the ``client_business_id`` the engine derives from a job's local id.
BUSINESS_ID_PREFIX = "sw-"

#: States before the create call went out (a cancel then costs nothing).
NOT_SENT = frozenset({JobState.INTENT, JobState.UPLOADING})
#: States that wait for the gateway's calls, so for the account's back-off after a 429.
HELD_BY_BACKOFF = frozenset(
    {JobState.INTENT, JobState.UPLOADING, JobState.SUBMITTING, JobState.QUEUED, JobState.RUNNING}
)
#: States in which the engine is still working on a job (it may end from any of them).
IN_PROGRESS = frozenset(
    {
        JobState.INTENT,
        JobState.UPLOADING,
        JobState.SUBMITTING,
        JobState.QUEUED,
        JobState.RUNNING,
        JobState.DOWNLOADING,
    }
)
#: ``error_code`` of a job still at work whose ledger records wait in memory (disk full, read-only).
LEDGER_WRITE_FAILED = "ledger_write_failed"
#: ``error_code`` of a job still at work while the account waits out a 429.
RATE_LIMITED = "rate_limited"
#: ``error_code`` of a job waiting for a place in the provider's queue (see limits.py).
WAITING_FOR_QUEUE = "waiting_for_queue"
#: ``error_code`` of a job whose task runs and could not be cancelled (still watched).
NOT_CANCELLABLE = "not_cancellable"


@dataclasses.dataclass
class Image:
    """One input of a request (an image, a reference video or reference audio, by ``role``): a
    URL as given, or local bytes to upload (by content hash)."""

    role: str
    url: str | None = None
    data: bytes | None = None
    sha256: str | None = None

    def stable_url(self) -> str:
        if self.sha256 is not None:
            return LOCAL_IMAGE_PREFIX + self.sha256
        return self.url or ""


@dataclasses.dataclass
class PendingUpload:
    """One image upload in flight; jobs needing the same image wait on ``done``."""

    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    url: str | None = None
    error: BaseException | None = None


@dataclasses.dataclass
class Tracked:
    """The engine's private bookkeeping for one job."""

    job: Job
    #: Wall time (on the engine's clock) this manager started watching the task: the deadline's
    #: clock (a restart or a resume gives a fresh deadline, so a task is always looked at again).
    watch_since: float
    images: list[Image] = dataclasses.field(default_factory=list)
    samples: list[PollSample] = dataclasses.field(default_factory=list)
    #: Wall time the task was created (or attached): the policy's clock.
    created_at: float | None = None
    #: Bumped to invalidate queued heap entries (cancel, resume).
    generation: int = 0
    failures: int = 0
    download_attempts: int = 0
    #: Why the last create attempt was refused or not sent (said when the create gives up).
    last_refusal: str = ""
    #: Estimated USD reserved against the budget by this job.
    reserved_usd: float = 0.0
    #: The client this job started with (a later change of backend does not re-route it).
    client: SeedanceClient | None = None
    #: Local id of another manager's identical job this one watches (see follow.py).
    follows: str | None = None
    #: The id the create carries, so a task whose create reply was lost can be found (see lookup.py).
    business_id: str | None = None
    #: Wall time (engine clock) the create was last sent: a lookup gives the gateway a grace from it.
    sent_at: float | None = None
    #: Where the task's last frame can be fetched (when its request asked for it).
    last_frame_url: str | None = None
    #: The provider the job's task lives at (``toapis``/``ark``), once known (client or ledger).
    protocol: str | None = None
    #: Taken over from the ledger (an earlier kernel's job): a writer that died may have left half
    #: downloads of it. A job this manager made has none, so only these look for them.
    inherited: bool = False
    #: Set when the provider refused to cancel the running task: the note the job shows while it
    #: is still watched; the next cancel() stops watching.
    cancel_note: str | None = None
    #: Set while the job waits for a place in the provider's queue (see limits.py): what it shows.
    queue_note: str | None = None

    def image_records(self) -> list[dict[str, str | None]] | None:
        """The images as the ledger keeps them (None when there are none)."""
        return [{"role": i.role, "url": i.url, "sha256": i.sha256} for i in self.images] or None


@dataclasses.dataclass
class QueueLimit:
    """The places taken in the provider's queue (by local id) and the jobs waiting for one, with
    what starts each (see limits.py)."""

    lock: threading.RLock = dataclasses.field(default_factory=threading.RLock)
    holders: set[str] = dataclasses.field(default_factory=set)
    waiting: collections.deque[tuple[Tracked, Callable[[], None]]] = dataclasses.field(
        default_factory=collections.deque
    )


def new_local_id() -> str:
    return "job-" + uuid.uuid4().hex[:10]


def business_id_for(local_id: str) -> str:
    """The ``client_business_id`` of a job's create: derived from its local id, so it is written
    in the intent record before the create, and a new job (a rerun) never reuses one."""
    return check_business_id(BUSINESS_ID_PREFIX + local_id)


def relative(path: Path, root: Path) -> str:
    """``path`` as the ledger writes it: relative to the output folder when inside it."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
