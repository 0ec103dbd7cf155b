"""``JobManager``: submits, watches and saves every job of one output folder.

Threads: one scheduler thread keeps a heap of (next poll time, job) and polls every
live job itself; a small pool (``max_workers``, at most 4) runs uploads, creates and
downloads. All are daemon threads: they never keep the interpreter alive, and an
``atexit`` hook stops them and closes the ledger between two whole records.

Money safety: a create is only sent after its intent is in the ledger; it is re-sent
only when the gateway's reply proves no task was made (429, or a connection that
never opened). A lost reply turns the job into ``may_exist`` and waits for the user.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import dataclasses
import functools
import heapq
import itertools
import logging
import os
import queue
import stat
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seedance_widgets.api import (
    COMPLETED,
    FAILED,
    QUEUED,
    APIError,
    DownloadError,
    GenerationRequest,
    ImageRole,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
    SeedanceError,
    ServerError,
    Task,
    TaskMayExistError,
    TransportError,
    URLExpiredError,
    ValidationError,
    request_cost_usd,
)
from seedance_widgets.api.media import MAX_UPLOAD_BYTES, read_image, sniff_image_type

from .errors import BudgetExceededError, OutputFolderError

if TYPE_CHECKING:
    from seedance_widgets.api import SeedanceClient
from .follow import FOLLOW_INTERVAL, PRE_TASK_STATES, LedgerView, is_in_flight
from .job import Job
from .policy import AdaptivePolicy, PollPolicy, PollSample
from .restore import LedgerJob
from .state import FINAL_STATES, POLLED_STATES, DryRun, JobSnapshot, JobState
from .store import LOCAL_IMAGE_PREFIX, Store, canonical_body, canonical_hash, sha256_bytes

log = logging.getLogger("seedance_widgets.jobs")

#: A local image: (role, source) where source is an http(s) URL, a path or bytes.
ImageInput = tuple[str, "str | os.PathLike[str] | bytes"]

MAX_WORKERS = 4
# Kinds of pool work, in the order workers take them.
# Polls first (cheap, time-critical), then downloads (a finished video is waiting), then creates.
_STOP, _POLL, _DOWNLOAD, _CREATE = -1, 0, 1, 2
DEFAULT_DEADLINE_S = 15 * 60.0
#: Longest wait after repeated network faults (gateway seconds).
MAX_RECONNECT_WAIT = 60.0
DOWNLOAD_ATTEMPTS = 3
#: Longest account-wide back-off after a 429, whatever its Retry-After asks (gateway seconds):
#: "Retry-After: 86400" must not freeze every job of the session for a day.
MAX_ACCOUNT_BACKOFF = 5 * 60.0
#: How long a create may go on being refused (429/503) or unable to connect (gateway seconds)
#: before its job fails. Each of those retries was proven to make no task, so giving up is free.
CREATE_RETRY_DEADLINE = 10 * 60.0
#: A temporary file untouched for this long (s) is not being written by a live transfer.
STALE_TEMP_AGE = 60.0
#: ``error_code`` of a job still at work whose ledger records wait in memory (disk full, read-only).
LEDGER_WRITE_FAILED = "ledger_write_failed"
#: ``error_code`` of a job still at work while the account waits out a 429.
RATE_LIMITED = "rate_limited"
#: Records that must be on disk before the paid call they announce (else the call is not made).
_DURABLE_EVENTS = frozenset({"intent"})

CANCEL_MESSAGE = (
    "cancelled: no longer watched. The gateway has no cancel, so the task may still finish "
    "and be billed; attach(task_id) watches it again."
)

_live_managers: weakref.WeakSet[JobManager] = weakref.WeakSet()
#: States before the create call went out (a cancel then costs nothing).
_NOT_SENT = frozenset({JobState.INTENT, JobState.UPLOADING})
#: States that wait for the gateway's calls, so for the account's back-off after a 429.
_HELD_BY_BACKOFF = frozenset(
    {JobState.INTENT, JobState.UPLOADING, JobState.SUBMITTING, JobState.QUEUED, JobState.RUNNING}
)
#: States in which the engine is still working on a job (it may end from any of them).
_IN_PROGRESS = frozenset(
    {
        JobState.INTENT,
        JobState.UPLOADING,
        JobState.SUBMITTING,
        JobState.QUEUED,
        JobState.RUNNING,
        JobState.DOWNLOADING,
    }
)


@dataclasses.dataclass
class _Image:
    """One image of a request: a URL as given, or local bytes to upload (by content hash)."""

    role: str
    url: str | None = None
    data: bytes | None = None
    sha256: str | None = None

    def stable_url(self) -> str:
        if self.sha256 is not None:
            return LOCAL_IMAGE_PREFIX + self.sha256
        return self.url or ""


@dataclasses.dataclass
class _PendingUpload:
    """One image upload in flight; jobs needing the same image wait on ``done``."""

    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    url: str | None = None
    error: BaseException | None = None


@dataclasses.dataclass
class _Tracked:
    """The engine's private bookkeeping for one job (never shown to observers)."""

    job: Job
    images: list[_Image] = dataclasses.field(default_factory=list)
    samples: list[PollSample] = dataclasses.field(default_factory=list)
    #: Wall time the task was created (or attached): the policy's and the deadline's clock.
    created_at: float | None = None
    #: Wall time this manager started watching the task: the deadline's clock (a restart
    #: or a resume gives a fresh deadline, so a task is always looked at again first).
    watch_since: float = dataclasses.field(default_factory=time.time)
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
    #: Local id of another manager's identical job this one watches (see jobs/follow.py).
    follows: str | None = None


class JobManager:
    """Runs jobs in the background for one output folder.

    ``time_scale`` divides every wait of the poll policy, the reconnect back-off and the
    deadline: pass the emulator's speed factor so tests and benchmarks see the same
    policy behaviour as the real gateway, only faster.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike[str] | None = None,
        client: SeedanceClient | None = None,
        poll_policy: PollPolicy | None = None,
        budget_usd: float | None = None,
        deadline_s: float = DEFAULT_DEADLINE_S,
        *,
        max_workers: int = MAX_WORKERS,
        max_concurrent_creates: int = 2,
        time_scale: float = 1.0,
        resume: bool = True,
    ) -> None:
        if not 1 <= max_workers <= MAX_WORKERS:
            raise ValueError(f"max_workers must be 1 to {MAX_WORKERS}")
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.store = Store(output_dir)
        #: Why this output folder cannot be written (None: it can). Such a manager still serves
        #: saved videos and the ledger's history, but refuses new generations before any call.
        self.read_only: str | None = None
        try:
            self.store.ensure()
        except OSError as err:
            self.read_only = f"{err.strerror or err}"
        # The client is made on first use (see `client`): a re-run served from the cache never
        # loads the HTTP stack, nor starts the built-in emulator when no key is set.
        self._client: SeedanceClient | None = client
        self._single: SeedanceClient | None = None
        self._client_lock = threading.Lock()
        #: When True, `time_scale` follows the built-in emulator's speed once it is started.
        self.time_scale_from_backend = False
        self.poll_policy: PollPolicy = poll_policy or AdaptivePolicy()
        #: Session budget in USD (estimates); None = no limit. Settable at any time.
        self.budget_usd = budget_usd
        self.deadline_s = deadline_s
        self.time_scale = time_scale
        self.max_workers = max_workers

        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._tracked: dict[str, _Tracked] = {}
        #: Jobs by canonical request hash, oldest first (a rerun adds one; none is forgotten).
        self._by_hash: dict[str, list[Job]] = {}
        self._uploaded: dict[str, str] = {}
        #: Uploads on the wire, by image sha256: other jobs needing the image wait for that one.
        self._uploads_in_flight: dict[str, _PendingUpload] = {}
        self._heap: list[tuple[float, int, str, int]] = []
        self._seq = itertools.count()
        self._backoff_until = 0.0
        #: True while jobs show the account's rate-limit notice (the scheduler clears it after).
        self._rate_notice = False
        self._backoff_wall = 0.0
        self._backoff_asked: float | None = None
        self._rate_limit_streak = 0
        #: Ledger records not written yet (disk full, read-only), oldest first; written before any
        #: newer record and retried on each poll, so the ledger's order is kept.
        self._unwritten: collections.deque[tuple[str, dict[str, Any]]] = collections.deque()
        self._unwritten_lock = threading.Lock()
        #: Why the last ledger write failed (None once everything is written).
        self._ledger_error: str | None = None
        self._reserved_usd = 0.0
        self._create_cap = max(1, max_concurrent_creates)
        # (kind, seq, fn): polls sort before transfers; fn None tells a worker to stop.
        self._work: queue.PriorityQueue[tuple[int, int, Callable[[], None] | None]] = queue.PriorityQueue()
        self._deferred: collections.deque[tuple[int, int, Callable[[], None] | None]] = collections.deque()
        self._active = {_DOWNLOAD: 0, _CREATE: 0}
        # Transfers (creates with their uploads, downloads) never take every worker: polls go on.
        self._transfer_cap = max(1, max_workers - 1)
        self._workers: list[threading.Thread] = []
        self._scheduler = threading.Thread(target=self._schedule_loop, name="seedance-scheduler", daemon=True)
        self._scheduler.start()
        # Held while this manager lives: another process sharing the folder sees this owner is
        # alive and leaves its unfinished jobs alone (the OS drops the lock if we are killed).
        self.owner_id = uuid.uuid4().hex[:12]
        self._owner_lock = -1
        if self.read_only is None:
            try:
                self._owner_lock = self.store.hold_owner_lock(self.owner_id)
            except OSError as err:
                self.read_only = f"{err.strerror or err}"
        self.read_only = self.read_only or self.store.unwritable_reason()
        _live_managers.add(self)
        if self.read_only is None:
            # Before any job is adopted: no download of ours can be writing these yet.
            self._remove_stale_temp_files()
        #: Every manager's records of this folder, folded; grown from the tail before each create.
        self._view = LedgerView(self.store.root)
        self._client_from_environment = client is None
        #: One-attempt views of the clients jobs started with (by id; the client is kept too).
        self._single_views: dict[int, tuple[SeedanceClient, SeedanceClient]] = {}
        if resume and (self.read_only is None or self.store.ledger.path.exists()):
            self._restore()

    @property
    def client(self) -> SeedanceClient:
        """The gateway client (the built-in emulator's when no key is set), made on first use."""
        with self._client_lock:
            if self._client is None:
                from .backend import emulator_time_scale, resolve_client

                self._client = resolve_client()
                if self.time_scale_from_backend:
                    # The built-in emulator runs faster than the gateway: poll at its pace.
                    self.time_scale = emulator_time_scale()
            return self._client

    @property
    def _single_shot(self) -> SeedanceClient:
        """The client with one attempt per call, for creates and polls: the manager owns their
        retries, so a 429 backs off the whole account and a slow retry never stalls the scheduler."""
        client = self.client
        with self._client_lock:
            if self._single is None:
                self._single = _single_attempt_view(client)
            return self._single

    def __repr__(self) -> str:
        with self._lock:
            jobs = [t.job.snapshot() for t in self._tracked.values()]
        live = sum(1 for s in jobs if not s.is_final)
        budget = "no budget" if self.budget_usd is None else f"budget ${self.budget_usd:.2f}"
        return (
            f"<JobManager {str(self.store.root)!r}: {len(jobs)} jobs, {live} live, "
            f"~${self._reserved_usd:.2f} estimated this session, {budget}>"
        )

    # ---- public API --------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """True once :meth:`shutdown` has begun: the manager takes no new work."""
        return self._stop.is_set()

    @property
    def spent_usd(self) -> float:
        """Estimated USD committed by creates this session (an estimate, not the bill)."""
        return round(self._reserved_usd, 4)

    def jobs(self) -> list[Job]:
        """Every job this manager knows, oldest first (including ones read from the ledger)."""
        with self._lock:
            return [t.job for t in self._tracked.values()]

    def get(self, local_id: str) -> Job | None:
        with self._lock:
            tracked = self._tracked.get(local_id)
            return tracked.job if tracked else None

    def submit(
        self,
        request: GenerationRequest,
        *,
        images: Sequence[ImageInput] = (),
        rerun: bool = False,
        dry_run: bool = False,
    ) -> Job | DryRun:
        """Queue ``request`` (plus local or remote ``images`` with roles) and return at once.

        A finished identical request returns its file with no HTTP request
        (``from_cache=True``); one in flight returns the same job; ``rerun=True`` always
        makes a new, paid task. ``dry_run=True`` returns a :class:`DryRun` and calls nothing.
        """
        if not isinstance(request, GenerationRequest):
            raise TypeError("submit() takes a GenerationRequest")
        prepared = self._prepare_images(request, images)
        request_hash = _request_hash(request, prepared)
        estimate = request_cost_usd(request)
        if dry_run:
            # The exact body: uploaded URLs where known, else the local file's marker.
            known = [(i.role, self._uploaded.get(i.sha256 or "", i.stable_url())) for i in prepared]
            exact = canonical_body(request, known)
            return DryRun(body=exact, estimate_usd=estimate, request_hash=request_hash)
        if self._stop.is_set():
            raise SeedanceError("this JobManager has been shut down; make a new one")
        if self.read_only is not None and not self.store.ledger.path.exists():
            self._check_writable()  # a read-only folder without a ledger has nothing saved to serve
        # The hash is already known: no second read and hash of local images.
        if rerun or not self._has_saved(request_hash):
            # A read-only folder serves saved videos only: refused here, before any call.
            self._check_writable()
            # HTTP may follow: make the client here, so a backend that cannot start (no key and
            # no emulator) fails in the caller's thread with its own message.
            _ = self.client
        reused: Job | None = None
        followup: Callable[[], None] | None = None
        # Check and intent are one step for every manager of the folder (see jobs/follow.py):
        # under the ledger's exclusive lock, read what anyone appended since we last looked,
        # decide, and write the intent before anyone else can decide the same.
        with self.store.ledger.exclusive():
            leader: LedgerJob | None = None
            if not rerun:
                self._refresh()
                leader = self._settle(request_hash)
            with self._lock:
                if not rerun:
                    reused = self._own_in_flight(request_hash)
                    if reused is None and leader is not None:
                        reused, followup = self._new_follower(
                            leader, request, request_hash, estimate, prepared
                        )
                    elif reused is None:
                        reused, followup = self._reuse(request_hash)
                if reused is None:
                    self._check_budget(estimate)
                    tracked = self._new_tracked(request, request_hash, estimate, prepared)
                    tracked.client = self._client  # None: pinned on first use
            if reused is None:
                # The intent is durable before any paid call can happen (and before the lock goes).
                self._record_intent(tracked)
        if reused is not None:
            # Job updates (and so observers) run outside the manager's lock.
            if followup is not None:
                followup()
            return reused
        self._run_in_pool(lambda: self._create(tracked), _CREATE)
        return tracked.job

    def is_cached(self, request: GenerationRequest, images: Sequence[ImageInput] = ()) -> bool:
        """Whether ``submit(request, images=images)`` (without ``rerun``) would return a finished,
        saved video at once: zero HTTP requests, nothing billed.

        False when an identical job is still in flight (submit returns that job, or follows
        another manager's), when the saved file is gone or altered, when there is no such job,
        and once the manager is shut down. A video saved by another manager of the same
        folder counts. Sends nothing; local images are read and hashed, not uploaded.
        """
        if not isinstance(request, GenerationRequest):
            raise TypeError("is_cached() takes a GenerationRequest")
        if self._stop.is_set():
            return False
        return self._has_saved(_request_hash(request, self._prepare_images(request, images)))

    def _has_saved(self, request_hash: str) -> bool:
        """Whether a finished, intact saved video answers ``request_hash`` (see ``is_cached``).

        Looks at the ledger's new records first, and changes nothing: another manager's job
        is only read here (submit adopts it)."""
        with self.store.ledger.exclusive():
            self._refresh()
            with self._lock:
                known = set(self._tracked)
                own = list(self._by_hash.get(request_hash) or [])
            others = [e for e in self._view.with_hash(request_hash) if e.local_id not in known]
        if any(is_in_flight(e) for e in others):
            return False  # submit would follow it: not free of HTTP
        with self._lock:
            if any(not job.snapshot().is_final for job in own):
                return False
            if self._saved_match(own) is not None:
                return True
        return any(e.state == JobState.DONE and self.store.file_matches(e.path, e.sha256) for e in others)

    # ---- one output folder, several managers (see jobs/follow.py) -----------------------------
    def _refresh(self) -> None:
        """Fold in the ledger records appended since this manager last read it (by anyone)."""
        ledger = self.store.ledger
        with ledger.exclusive():  # also keeps this manager's threads off the view meanwhile
            records, self._view.offset = ledger.read_from(self._view.offset)
            uploads = self._view.absorb(records)
        if uploads:
            with self._lock:
                self._uploaded.update(uploads)

    def _settle(self, request_hash: str, *, besides: str | None = None) -> LedgerJob | None:
        """Other managers' jobs for ``request_hash``: adopt the finished ones (so the cache rules
        see them) and those whose manager died (as a restart would: watch the task, or
        may_exist, or cancelled when nothing was sent). Returns the newest still in flight under
        a live manager, to follow. Caller holds the ledger's exclusive lock, not ``_lock``."""
        leader: LedgerJob | None = None
        with self._lock:
            known = set(self._tracked)
        adopted = False
        for entry in self._view.with_hash(request_hash):
            if entry.local_id in known or entry.local_id == besides:
                continue
            if is_in_flight(entry) and entry.owner and self.store.owner_alive(entry.owner):
                leader = entry
                continue
            self._adopt(entry)
            adopted = True
        if adopted:
            with self._lock:
                # Keep "newest last" (the rules read the newest job's story) with the adopted ones in.
                self._by_hash[request_hash].sort(key=lambda job: job.snapshot().submitted_at or 0.0)
        return leader

    def _own_in_flight(self, request_hash: str, besides: str | None = None) -> Job | None:
        """This manager's newest identical job still in progress (caller holds ``_lock``)."""
        for job in reversed(self._by_hash.get(request_hash) or []):
            if job.local_id != besides and not job.snapshot().is_final:
                return job
        return None

    def _record_intent(self, tracked: _Tracked) -> None:
        snap = tracked.job.snapshot()
        assert snap.request is not None
        try:
            self._record(
                "intent",
                job=snap.local_id,
                request_hash=snap.request_hash,
                request=snap.request.to_body(),
                images=[{"role": i.role, "url": i.url, "sha256": i.sha256} for i in tracked.images] or None,
                state=JobState.INTENT,
                cost_estimate=snap.cost_estimate,
            )
        except OSError as err:
            # No intent on disk, so no create: the job ends here (never left waiting in intent).
            message = f"not sent, nothing billed: its intent could not be written to the ledger ({err})"
            self._fail_before_task(tracked, message, LEDGER_WRITE_FAILED)
            raise OutputFolderError(
                f"{message}. Free some space or make {self.store.root} writable, then try again."
            ) from err

    def _new_follower(
        self,
        leader: LedgerJob,
        request: GenerationRequest,
        request_hash: str,
        estimate: float,
        images: list[_Image],
    ) -> tuple[Job, Callable[[], None]]:
        """A job watching another manager's identical job (caller holds ``_lock``). It costs this
        manager nothing and writes no record until it knows the task id."""
        state = leader.state if leader.state in PRE_TASK_STATES else JobState.INTENT
        snap = JobSnapshot(
            local_id=_new_local_id(),
            request=request,
            state=state,
            submitted_at=time.time(),
            cost_estimate=estimate,
            request_hash=request_hash,
        )
        tracked = _Tracked(job=Job(snap, self), images=images, client=self._client, follows=leader.local_id)
        self._tracked[snap.local_id] = tracked
        self._by_hash.setdefault(request_hash, []).append(tracked.job)
        log.info("job %s follows %s of another manager (same request)", snap.local_id, leader.local_id)
        return tracked.job, functools.partial(self._schedule, tracked, 0.0)

    def _follow(self, tracked: _Tracked) -> bool:
        """One look at the followed job (from the scheduler). True when handled; False when the
        follower should poll the gateway itself (it knows the task id)."""
        job = tracked.job
        snap = job.snapshot()
        if snap.is_final:
            return True
        self._refresh()
        leader = self._view.jobs.get(tracked.follows or "")
        if snap.task_id is not None:
            # Polling on our own: the leader's saved file, once there, spares the download.
            saved = (
                leader is not None
                and leader.task_id == snap.task_id
                and snap.state in POLLED_STATES
                and leader.state == JobState.DONE
                and self.store.file_matches(leader.path, leader.sha256)
            )
            if saved and leader is not None:
                self._follow_done(tracked, leader)
                return True
            return False
        if leader is not None and leader.task_id is not None:
            self._follow_task(tracked, leader)
            return True
        if leader is not None and leader.state == JobState.FAILED:
            error = leader.error or "the identical job of another kernel failed"
            self._finish(tracked, JobState.FAILED, error=error, error_code=leader.error_code or "failed")
            return True
        alive = leader is not None and bool(leader.owner) and self.store.owner_alive(leader.owner or "")
        if leader is not None and is_in_flight(leader) and alive:
            if (time.time() - tracked.watch_since) * self.time_scale > self.deadline_s:
                self._finish(
                    tracked,
                    JobState.TIMED_OUT,
                    error=(
                        f"the identical job {leader.local_id} of another kernel sent nothing for "
                        f"{self.deadline_s / 60:g} minutes; stopped following it (this job sent nothing)"
                    ),
                    error_code="timed_out",
                )
                return True
            if leader.state != snap.state:
                job._update(when=PRE_TASK_STATES, state=leader.state)
            self._schedule(tracked, FOLLOW_INTERVAL)
            return True
        # The leader stopped before naming a task: its manager died, or it ended without one.
        self._take_over(tracked)
        return True

    def _follow_task(self, tracked: _Tracked, leader: LedgerJob) -> None:
        """The leader's create named the task: watch it from here on, as an attached job."""
        job = tracked.job
        now = time.time()
        if job._update(when=PRE_TASK_STATES, task_id=leader.task_id, state=JobState.QUEUED) is None:
            return  # cancelled meanwhile
        with self._lock:
            tracked.created_at = leader.created_at or now
            tracked.watch_since = now
            generation = tracked.generation
        snap = job.snapshot()
        assert snap.request is not None
        self._record(
            "attached",
            job=snap.local_id,
            task_id=leader.task_id,
            request_hash=snap.request_hash,
            request=snap.request.to_body(),
            images=[{"role": i.role, "url": i.url, "sha256": i.sha256} for i in tracked.images] or None,
            state=JobState.QUEUED,
            cost_estimate=snap.cost_estimate,
            follows=leader.local_id,
        )
        if leader.state == JobState.DONE and self.store.file_matches(leader.path, leader.sha256):
            self._follow_done(tracked, leader)
            return
        first = tracked.created_at + self.poll_policy.next_delay([]) / self.time_scale - now
        self._schedule(tracked, max(0.0, first), generation)

    def _follow_done(self, tracked: _Tracked, leader: LedgerJob) -> None:
        """Finish with the leader's saved file (same task, same bytes): no download."""
        job = tracked.job
        done = job._update(
            when=POLLED_STATES,
            state=JobState.DONE,
            path=leader.path,
            sha256=leader.sha256,
            progress=100,
            seed=leader.seed,
            video_url=leader.video_url,
            expires_at=leader.expires_at,
            finished_at=time.time(),
            eta_seconds=None,
            error=None,
            reconnecting=False,
        )
        if done is None or leader.path is None:
            return
        self._record(
            "downloaded",
            job=done.local_id,
            task_id=done.task_id,
            state=JobState.DONE,
            path=_relative(leader.path, self.store.root),
            sha256=leader.sha256,
            request_hash=done.request_hash,
            finished_at=round(done.finished_at or time.time(), 3),
        )

    def _take_over(self, tracked: _Tracked) -> None:
        """The followed job stopped before naming a task. Decide again under the ledger's lock, as
        submit does: follow another live one; end as the finished or may-exist one ends; else
        (nothing was ever sent) create it here, the intent written before the lock goes."""
        snap = tracked.job.snapshot()
        request_hash = snap.request_hash or ""
        decision: str
        other: JobSnapshot | None = None
        with self.store.ledger.exclusive():
            self._refresh()
            leader = self._settle(request_hash, besides=snap.local_id)
            with self._lock:
                mine = self._own_in_flight(request_hash, besides=snap.local_id)
                same = [j for j in self._by_hash.get(request_hash, []) if j.local_id != snap.local_id]
                newest = same[-1].snapshot() if same else None
                if leader is None and mine is not None and mine.task_id is None:
                    leader = self._view.jobs.get(mine.local_id)  # one of ours, not sent yet: follow it
                if leader is not None:
                    decision, tracked.follows = "follow", leader.local_id
                elif mine is not None:
                    decision, other = "join", mine.snapshot()  # we watch its task (e.g. just adopted)
                elif newest is not None and newest.state in (JobState.MAY_EXIST, JobState.DONE):
                    decision, other = "join", newest
                else:
                    decision = self._reserve_take_over(tracked)
            if decision == "create":
                # Still under the lock: whoever reads the ledger next follows this job.
                self._record_intent(tracked)
        # Job updates (observers) only after the lock is released.
        if decision == "follow":
            self._schedule(tracked, 0.0)
        elif decision == "join" and other is not None:
            self._join(tracked, other)
        elif decision == "create":
            if tracked.job._update(when=PRE_TASK_STATES, state=JobState.INTENT) is None:
                self._release(tracked)  # cancelled meanwhile: its record says so; nothing is sent
                return
            log.info("job %s: the job it followed never sent its create; sending it here", snap.local_id)
            self._run_in_pool(lambda: self._create(tracked), _CREATE)
        else:
            self._finish(tracked, JobState.FAILED, error=decision, error_code="budget_exceeded")

    def _reserve_take_over(self, tracked: _Tracked) -> str:
        """Make a follower an ordinary job that creates its own task (caller holds ``_lock``).
        Returns "create", or the budget's refusal as a sentence."""
        estimate = tracked.job.snapshot().cost_estimate
        try:
            self._check_budget(estimate)
        except BudgetExceededError as err:
            return str(err)
        tracked.reserved_usd = estimate
        self._reserved_usd += estimate
        tracked.follows = None
        tracked.watch_since = time.time()
        return "create"

    def _join(self, tracked: _Tracked, other: JobSnapshot) -> None:
        """End (or re-aim) a follower from another job of this manager with the same request."""
        if other.task_id is not None and (not other.is_final or other.state == JobState.DONE):
            entry = LedgerJob(
                local_id=other.local_id,
                task_id=other.task_id,
                state=other.state,
                created_at=other.submitted_at,
                path=other.path,
                sha256=other.sha256,
                seed=other.seed,
            )
            self._follow_task(tracked, entry)
        elif other.state == JobState.MAY_EXIST:
            self._may_exist(
                tracked,
                f"the identical job {other.local_id} that this one followed stopped while its create was "
                "in flight (its kernel ended), so that task may exist and be billed",
            )
        else:
            self._schedule(tracked, FOLLOW_INTERVAL)  # not sent yet: look again shortly

    # ---- clients: settable for new jobs; each job keeps the one it started with --------------
    def use_client(self, client: SeedanceClient | None) -> None:
        """Send NEW jobs through ``client`` (None: resolve the backend from the environment again
        on next need). Jobs already started keep the client they started with."""
        with self._client_lock:
            self._client = client
            self._single = None
            self._client_from_environment = client is None

    @property
    def client_from_environment(self) -> bool:
        """True when this manager resolves its client from the environment (no client was given)."""
        return self._client_from_environment

    def _client_for(self, tracked: _Tracked) -> SeedanceClient:
        """The client of this job (pinned on first use)."""
        if tracked.client is None:
            tracked.client = self.client
        return tracked.client

    def _single_for(self, tracked: _Tracked) -> SeedanceClient:
        """The job's client with one attempt per call (see ``_single_shot``)."""
        client = self._client_for(tracked)
        with self._client_lock:
            if client is self._client and self._single is not None:
                return self._single
            view = self._single_views.get(id(client))
            if view is None or view[0] is not client:
                view = self._single_views[id(client)] = (client, _single_attempt_view(client))
            return view[1]

    def attach(
        self,
        task_id: str,
        *,
        created_at: float | None = None,
        request: GenerationRequest | None = None,
    ) -> Job:
        """Watch an existing task by id (e.g. one that timed out, or from another machine).

        A task this manager knows is resumed. For a new one, ``created_at`` (unix time of
        its creation, when known) starts the poll policy's clock there, so the first poll
        follows the policy instead of happening at once; ``request`` labels the job.
        """
        if not isinstance(task_id, str) or not task_id.strip():
            raise ValueError("attach() takes a task id such as 'task_vid_...'")
        task_id = task_id.strip()
        _ = self.client  # polls follow: make the client now (see submit)
        with self._lock:
            known = next((t for t in self._tracked.values() if t.job.task_id == task_id), None)
        if known is not None:
            if known.job.status in (JobState.TIMED_OUT, JobState.CANCELLED, JobState.FAILED):
                self._resume(known)
            return known.job
        with self._lock:
            local_id = _new_local_id()
            now = time.time()
            snap = JobSnapshot(
                local_id=local_id,
                request=request,
                task_id=task_id,
                state=JobState.QUEUED,
                submitted_at=created_at or now,
                cost_estimate=request_cost_usd(request) if request is not None else 0.0,
            )
            job = Job(snap, self)
            tracked = _Tracked(job=job, created_at=created_at or now)
            self._tracked[local_id] = tracked
        self._record(
            "attached",
            job=local_id,
            task_id=task_id,
            state=JobState.QUEUED,
            request=request.to_body() if request is not None else None,
        )
        first = 0.0
        if created_at is not None:
            first = created_at + self.poll_policy.next_delay([]) / self.time_scale - time.time()
        self._schedule(tracked, first)
        return job

    def resubmit(self, job: Job, *, confirm: bool = False) -> Job:
        """Send a job's request again as a NEW paid task (e.g. after ``may_exist``).

        Needs ``confirm=True``: the first task may exist and be billed too.
        """
        snap = job.snapshot()
        if snap.request is None:
            raise SeedanceError(f"job {snap.local_id} was attached by task id; its request is unknown")
        if not confirm:
            raise SeedanceError(
                f"job {snap.local_id} is {snap.state}. Sending it again creates a new task that will be "
                "billed, and the first one may exist too. Call resubmit(job, confirm=True) to do it anyway."
            )
        with self._lock:
            tracked = self._tracked.get(snap.local_id)
        images = self._image_inputs(tracked.images if tracked else [])
        request = snap.request.replace(image_with_roles=(), image_urls=()) if images else snap.request
        new = self.submit(request, images=images, rerun=True)
        assert isinstance(new, Job)
        return new

    def _image_inputs(self, images: list[_Image]) -> list[ImageInput]:
        """A job's images as submit() takes them: bytes for local ones (from the store if needed)."""
        inputs: list[ImageInput] = []
        for image in images:
            source: str | bytes | None = image.data
            if source is None and image.sha256 is not None:
                kept = sorted(self.store.uploads.glob(f"{image.sha256[:16]}.*"))
                source = kept[0].read_bytes() if kept else None
            source = source if source is not None else image.url
            if source is None:
                raise SeedanceError(f"the {image.role} image of this job is no longer available")
            inputs.append((image.role, source))
        return inputs

    def cancel(self, job: Job) -> None:
        """Stop watching ``job`` and record it; the task may still finish and be billed."""
        with self._lock:
            tracked = self._tracked.get(job.local_id)
            if tracked is not None:
                tracked.generation += 1
        ended = {
            "error_code": "cancelled",
            "finished_at": time.time(),
            "eta_seconds": None,
            "reconnecting": False,
        }
        # Two atomic tries: still unsent (then it costs nothing), else in progress (may be billed).
        unsent_message = "cancelled before it was sent: nothing was created or billed"
        snap = job._update(when=_NOT_SENT, state=JobState.CANCELLED, error=unsent_message, **ended)
        if snap is not None:
            self._release(tracked)
        else:
            snap = job._update(when=_IN_PROGRESS, state=JobState.CANCELLED, error=CANCEL_MESSAGE, **ended)
            if snap is None:
                return  # already ended
        self._record(
            "cancelled", job=snap.local_id, task_id=snap.task_id, state=JobState.CANCELLED, error=snap.error
        )

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the threads (waiting up to ``timeout`` s in total) and close the ledger."""
        if self._stop.is_set() and not self._scheduler.is_alive():
            return
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        for _ in self._workers:
            self._work.put((_STOP, next(self._seq), None))
        end = time.monotonic() + timeout
        for thread in [self._scheduler, *self._workers]:
            if thread is not threading.current_thread():
                thread.join(max(0.0, end - time.monotonic()))
        self._last_flush()
        # Appends in progress finish first; later ones are refused, so no half record.
        self.store.ledger.close()
        if self._owner_lock >= 0:
            self.store.release_owner_lock(self.owner_id, self._owner_lock)
            self._owner_lock = -1
        _live_managers.discard(self)

    def close(self) -> None:
        self.shutdown()

    def __enter__(self) -> JobManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def _record(self, event: str, **fields: Any) -> None:
        """One ledger record, signed with this manager's owner id.

        An ``intent`` must be on disk before its paid call: when it cannot be written, OSError
        is raised (and nothing is sent). Any other record that cannot be written (disk full,
        read-only folder) is kept in memory, written later in order, and its job says so.
        """
        if event in _DURABLE_EVENTS:
            self._write_durably(event, fields)
        else:
            self._record_or_keep(event, fields)

    # ---- ledger records that cannot be written at once ------------------------------------
    def _write_durably(self, event: str, fields: dict[str, Any]) -> None:
        """Write a record now, after every record still waiting; OSError if that is impossible."""
        # The ledger's own lock first, then ours: the same order everywhere (no deadlock).
        with self.store.ledger.exclusive(), self._unwritten_lock:
            self._flush_locked()
            if self._unwritten:
                raise OSError(f"the ledger {self.store.ledger.path} cannot be written: {self._ledger_error}")
            if self.store.ledger.append(event, owner=self.owner_id, **fields) is None:
                raise OSError("the ledger is closed: this manager is shutting down")

    def _record_or_keep(self, event: str, fields: dict[str, Any]) -> bool:
        """Write a record, or keep it for later when the ledger cannot be written. True: written."""
        # Stamped now: a record written late still tells when its event happened.
        fields = {"at": round(time.time(), 3), **fields}
        with self._unwritten_lock:
            self._unwritten.append((event, fields))
        self._flush_unwritten()
        return not self._unwritten

    def _flush_unwritten(self) -> None:
        """Try to write every kept record, in order; tell the jobs concerned how it went."""
        with self._unwritten_lock:
            if not self._unwritten and self._ledger_error is None:
                return
            before = {str(f.get("job")) for _, f in self._unwritten}
        try:
            with self.store.ledger.exclusive(), self._unwritten_lock:
                self._flush_locked()
        except OSError as err:  # the ledger cannot even be opened
            with self._unwritten_lock:
                self._ledger_error = f"{err.strerror or err}"
        with self._unwritten_lock:
            waiting = {str(f.get("job")) for _, f in self._unwritten}
            if not self._unwritten:
                self._ledger_error = None
        self._show_ledger_trouble(waiting, before - waiting)

    def _flush_locked(self) -> None:
        """Write kept records in order until one fails (caller holds the ledger and our lock)."""
        while self._unwritten:
            event, fields = self._unwritten[0]
            try:
                self.store.ledger.append(event, owner=self.owner_id, **fields)
            except OSError as err:
                if self._ledger_error is None:
                    log.error(
                        "ledger %s cannot be written (%s): records are kept in memory and retried",
                        self.store.ledger.path,
                        err,
                    )
                self._ledger_error = f"{err.strerror or err}"
                return
            self._unwritten.popleft()

    def _last_flush(self) -> None:
        """At shutdown: a last try at the kept records; whatever still cannot be written is logged
        with its task ids, the one thing a later kernel needs to find those tasks again."""
        if not self._unwritten:
            return
        self._flush_unwritten()
        with self._unwritten_lock:
            lost = sorted({str(f["task_id"]) for _, f in self._unwritten if f.get("task_id")})
        if lost:
            log.error(
                "ledger %s could not be written before shutdown: tasks %s are not recorded there; "
                "seedance_widgets.attach(task_id) watches one again",
                self.store.ledger.path,
                ", ".join(lost),
            )

    def _ledger_warning(self, snap: JobSnapshot) -> str:
        """What a job whose records wait in memory tells its user."""
        text = (
            f"the ledger {self.store.ledger.path} could not be written ({self._ledger_error}); "
            "this job's records are kept in memory and written as soon as it can be"
        )
        if snap.task_id:
            text += (
                f". Task {snap.task_id} exists: if this kernel stops first, "
                f"seedance_widgets.attach({snap.task_id!r}) finds it again"
            )
        return text

    def _show_ledger_trouble(self, waiting: set[str], cleared: set[str]) -> None:
        """Put the ledger warning on jobs with records waiting, and take it off the others."""
        for local_id in waiting | cleared:
            tracked = self._tracked.get(local_id)
            if tracked is None:
                continue
            snap = tracked.job.snapshot()
            if local_id in waiting:
                # A final job keeps its own message (why it ended); a live or finished one shows this.
                if snap.error is None or snap.error_code == LEDGER_WRITE_FAILED:
                    tracked.job._update(error=self._ledger_warning(snap), error_code=LEDGER_WRITE_FAILED)
            elif snap.error_code == LEDGER_WRITE_FAILED:
                tracked.job._update(error=None, error_code=None)

    def _live_notice(self, local_id: str, *, rate_limit: bool = True) -> dict[str, Any]:
        """The ``error``/``error_code`` a job at work (or just done) shows: a problem the engine
        works around, such as its records waiting for the ledger, or the account's rate limit."""
        with self._unwritten_lock:
            waiting = any(f.get("job") == local_id for _, f in self._unwritten)
        tracked = self._tracked.get(local_id)
        if waiting and tracked is not None:
            return {"error": self._ledger_warning(tracked.job.snapshot()), "error_code": LEDGER_WRITE_FAILED}
        if rate_limit and self._rate_notice and time.monotonic() < self._backoff_until:
            return {"error": self._rate_limit_text(), "error_code": RATE_LIMITED}
        return {"error": None, "error_code": None}

    def _check_writable(self) -> None:
        """Refuse a new generation on a folder that cannot be written (before any paid call)."""
        if self.read_only is not None:
            raise OutputFolderError(
                f"the output folder {self.store.root} cannot be written ({self.read_only}): saved videos "
                "and history are served from it, but a new generation is refused before anything is "
                "sent (its ledger record could not be kept). Make the folder writable, or pass another "
                "output_dir."
            )

    def _remove_stale_temp_files(self) -> None:
        """Delete temporary files left by crashed writers (half downloads, half image copies).

        Only files no live writer can own: a download's files belong to its job, whose last
        ledger owner must be gone; an image copy names its process, which must be gone too. Both
        must also be older than STALE_TEMP_AGE, in case the writer is on another machine.
        """
        try:
            downloads = [
                *self.store.videos.glob(".incoming-*.mp4"),
                *self.store.videos.glob("..incoming-*.part"),
            ]
            copies = list(self.store.uploads.glob(".*.part"))
        except OSError:
            return
        if not downloads and not copies:
            return
        owners: dict[str, str] = {}
        if downloads:
            for record in self.store.ledger.read():
                if isinstance(record.get("job"), str) and isinstance(record.get("owner"), str):
                    owners[record["job"]] = record["owner"]
        alive: dict[str, bool] = {}
        removed = 0
        for path in downloads + copies:
            if not _old_enough(path):
                continue
            if path in copies:
                if _pid_alive(path.name.rsplit(".", 2)[-2]):
                    continue
            else:
                owner = owners.get(_download_job(path.name))
                if owner is not None:
                    if owner not in alive:
                        alive[owner] = self.store.owner_alive(owner)
                    if alive[owner]:
                        continue
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
        if removed:
            log.info("removed %d temporary file(s) left by an earlier crash in %s", removed, self.store.root)

    # ---- submit helpers ----------------------------------------------------------------
    def _new_tracked(
        self, request: GenerationRequest, request_hash: str, estimate: float, images: list[_Image]
    ) -> _Tracked:
        """Register a new job (caller holds the lock) and reserve its estimate against the budget."""
        local_id = _new_local_id()
        snap = JobSnapshot(
            local_id=local_id,
            request=request,
            state=JobState.INTENT,
            submitted_at=time.time(),
            cost_estimate=estimate,
            request_hash=request_hash,
        )
        tracked = _Tracked(job=Job(snap, self), images=images, reserved_usd=estimate)
        self._reserved_usd += estimate
        self._tracked[local_id] = tracked
        self._by_hash.setdefault(request_hash, []).append(tracked.job)
        return tracked

    def _prepare_images(self, request: GenerationRequest, images: Sequence[ImageInput]) -> list[_Image]:
        """Check and read the request's images: URLs as given, local ones read and hashed.

        Local images are checked before anything is kept or sent (see ``_local_image``): a path
        must lead to a regular file (a symlink is followed, to a regular file only), its size is
        checked before it is read, and its content must be a JPEG, PNG, WebP or GIF.
        """
        if not images:
            return []
        if request.image_urls or request.image_with_roles:
            raise ValueError("pass images either in the request or as images=..., not both")
        prepared: list[_Image] = []
        for role, source in images:
            ImageRole("https://x.invalid/", role)  # validates the role name
            if isinstance(source, str) and source.startswith(("http://", "https://")):
                ImageRole(source, role)
                prepared.append(_Image(role=role, url=source))
                continue
            data = _local_image(role, source)
            prepared.append(_Image(role=role, data=data, sha256=sha256_bytes(data)))
        # Validates counts per role (at most one first/last frame, up to 4 references).
        GenerationRequest(
            prompt=request.prompt,
            image_with_roles=tuple(ImageRole("https://x.invalid/i", i.role) for i in prepared),
        )
        return prepared

    def _reuse(self, request_hash: str) -> tuple[Job | None, Callable[[], None] | None]:
        """The job to hand back for an identical request (None: create a new task), and what to
        do once the lock is released (job updates call observers, so never under the lock)."""
        same = self._by_hash.get(request_hash) or []
        if not same:
            return None, None
        # One in flight wins; then a saved video; then the newest job's own story.
        for job in reversed(same):
            if not job.snapshot().is_final:
                return job, None
        saved = self._saved_match(same)
        if saved is not None:
            return self._cache_hit(saved), None
        existing = same[-1]
        snap = existing.snapshot()
        if snap.state in (JobState.MAY_EXIST, JobState.EXPIRED):
            return existing, None
        tracked = self._tracked[snap.local_id]
        if snap.state == JobState.TIMED_OUT and snap.task_id:
            return existing, functools.partial(self._resume, tracked)
        if snap.state != JobState.DONE:
            return None, None  # failed or cancelled: asking again means trying again
        # The file is gone or altered: fetch it again while the gateway's URL lives.
        if snap.video_url and snap.task_id and (snap.expires_at or 0) > time.time():
            tracked.download_attempts = 0
            return existing, functools.partial(self._fetch_again, tracked)
        message = (
            f"the saved video of task {snap.task_id} is missing or altered and the gateway's URL has "
            "expired; pass rerun=True to make (and pay for) a new task"
        )
        expired = Job(
            dataclasses.replace(
                snap,
                local_id=_new_local_id(),
                state=JobState.EXPIRED,
                error=message,
                error_code="url_expired",
                path=None,
                cost_estimate=0.0,
                at=time.time(),
            ),
            self,
        )
        self._tracked[expired.local_id] = _Tracked(job=expired)
        return expired, None

    def _saved_match(self, same: list[Job]) -> JobSnapshot | None:
        """The finished job whose saved video answers a request (jobs ``same`` share its hash),
        or None: also when one of them is still in flight, since submit then returns that one.
        The single rule behind both :meth:`submit`'s cache hits and :meth:`is_cached`."""
        snaps = [job.snapshot() for job in reversed(same)]
        if any(not snap.is_final for snap in snaps):
            return None
        for snap in snaps:
            if snap.state == JobState.DONE and self.store.file_matches(snap.path, snap.sha256):
                return snap
        return None

    def _cache_hit(self, snap: JobSnapshot) -> Job:
        """A new, already finished job for a saved video (no request, nothing billed)."""
        cached = Job(
            dataclasses.replace(
                snap, local_id=_new_local_id(), from_cache=True, cost_estimate=0.0, polls=0, at=time.time()
            ),
            self,
        )
        self._tracked[cached.local_id] = _Tracked(job=cached)
        return cached

    def _fetch_again(self, tracked: _Tracked) -> None:
        """Download a finished task's video again (the saved file is gone or altered)."""
        tracked.job._update(state=JobState.DOWNLOADING, path=None, sha256=None, error=None, finished_at=None)
        self._run_in_pool(lambda: self._download(tracked), _DOWNLOAD)

    def _check_budget(self, estimate: float) -> None:
        if self.budget_usd is None:
            return
        after = self._reserved_usd + estimate
        if after > self.budget_usd + 1e-9:
            raise BudgetExceededError(
                f"refused before sending: this request is estimated at ${estimate:.2f} and would bring "
                f"this session's estimated spend to ${after:.2f}, over the budget of ${self.budget_usd:.2f} "
                "(estimates from a published list price; the gateway's bill may differ). Raise "
                "budget_usd to allow it."
            )

    def _release(self, tracked: _Tracked | None) -> None:
        """Give back a job's budget reservation (nothing was created)."""
        if tracked is None:
            return
        with self._lock:
            self._reserved_usd = max(0.0, self._reserved_usd - tracked.reserved_usd)
            tracked.reserved_usd = 0.0

    # ---- the pool -------------------------------------------------------------------------
    def _run_in_pool(self, fn: Callable[[], None], kind: int) -> None:
        """Queue work for the pool (``kind``: _POLL, _DOWNLOAD or _CREATE)."""
        with self._lock:
            if self._stop.is_set():
                return
            self._work.put((kind, next(self._seq), fn))
            if len(self._workers) < self.max_workers:
                worker = threading.Thread(
                    target=self._worker_loop, name=f"seedance-worker-{len(self._workers) + 1}", daemon=True
                )
                self._workers.append(worker)
                worker.start()

    def _may_start(self, kind: int) -> bool:
        """Whether a transfer of ``kind`` fits its caps now (caller holds the lock)."""
        if self._active[_DOWNLOAD] + self._active[_CREATE] >= self._transfer_cap:
            return False
        return kind != _CREATE or self._active[_CREATE] < self._create_cap

    def _worker_loop(self) -> None:
        while True:
            item = self._work.get()
            kind, _, fn = item
            if fn is None:
                return
            if kind != _POLL:
                with self._lock:
                    if not self._may_start(kind):
                        # Parked until a transfer ends; the worker moves on to other work.
                        self._deferred.append(item)
                        continue
                    self._active[kind] += 1
            try:
                fn()
            except Exception:
                log.exception("a job engine task failed unexpectedly")
            finally:
                if kind != _POLL:
                    with self._lock:
                        self._active[kind] -= 1
                        # Give every parked transfer another chance, in priority order.
                        while self._deferred and not self._stop.is_set():
                            self._work.put(self._deferred.popleft())

    def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` unless shutting down; True when it is time to stop."""
        return self._stop.wait(max(0.0, seconds))

    # ---- create ---------------------------------------------------------------------------
    def _create(self, tracked: _Tracked) -> None:
        """Upload the job's images and send its create, once.

        Whatever goes wrong ends in a safe state the user sees: failed "not sent" only when it
        is proven that no create went out, else may_exist; and a task id, once known, is kept.
        """
        job = tracked.job
        if job.snapshot().is_final or self._stop.is_set():
            return
        try:
            self._upload_and_create(tracked)
        except Exception as err:
            log.exception("the create of job %s failed unexpectedly", job.local_id)
            self._end_after_surprise(tracked, err)

    def _upload_and_create(self, tracked: _Tracked) -> None:
        job = tracked.job
        try:
            roles = self._upload_images(tracked)
        except (SeedanceError, OSError) as err:
            message = f"image upload failed, so the create was not sent (nothing billed): {err}"
            self._fail_before_task(tracked, message, "upload_failed")
            return
        if roles is None:
            return
        request = job.request
        assert request is not None
        if roles:
            request = request.replace(image_with_roles=tuple(roles))
        task = self._send_create(tracked, request)
        if task is not None:
            self._created(tracked, task)

    def _send_create(self, tracked: _Tracked, request: GenerationRequest) -> Task | None:
        """The create call, re-sent only when the reply proves no task was made; None: the job
        ended (may_exist, failed, cancelled) or the manager is shutting down."""
        job = tracked.job
        local_id = job.local_id
        # This worker holds one of the create slots (see _may_start) until the create is done.
        give_up = time.monotonic() + CREATE_RETRY_DEADLINE / self.time_scale
        while True:
            if self._sleep(min(self._backoff_until, give_up) - time.monotonic()):
                return None
            if time.monotonic() >= give_up:
                self._create_gave_up(tracked)
                return None
            # Atomic with cancel(): either the cancel sees "submitting" (and says the task may be
            # billed) or this sees the cancel and sends nothing.
            if job._update(when=_NOT_SENT, state=JobState.SUBMITTING) is None:
                return None
            try:
                submitting = {"job": local_id, "state": JobState.SUBMITTING, "body": request.to_body()}
                self._write_durably("status", submitting)
            except OSError as err:
                # Unsent: without this record a restart could not tell the task may exist.
                self._fail_before_task(
                    tracked,
                    f"not sent, nothing billed: the ledger could not be written ({err.strerror or err}), "
                    "and a create is only sent once it is recorded",
                    LEDGER_WRITE_FAILED,
                )
                return None
            try:
                return self._single_for(tracked).create(request)
            except TaskMayExistError as err:
                self._may_exist(tracked, str(err))
                return None
            except RateLimitError as err:
                # A 429 proves no task was made: wait with the whole account, then send again.
                self._account_backoff(err.retry_after)
                tracked.last_refusal = f"the gateway kept answering 429 (rate limited): {err}"
                reconnecting = False
            except TransportError as err:
                if not err.nothing_sent:
                    # Sent, then no usable reply (e.g. an unreadable one): the task may exist.
                    self._may_exist(tracked, f"the create was sent but no usable reply came ({err})")
                    return None
                tracked.failures += 1
                tracked.last_refusal = f"could not connect to the gateway: {err}"
                reconnecting = True
            except ServerError as err:
                if not (err.status == 503 and err.retry_after is not None):
                    self._may_exist(
                        tracked,
                        f"the gateway answered the create with a server error ({err}); a task may or may "
                        "not exist and may be billed, so it was not sent again",
                    )
                    return None
                self._account_backoff(err.retry_after)
                tracked.last_refusal = f"the gateway kept answering 503 (unavailable): {err}"
                reconnecting = False
            except APIError as err:
                if err.status is not None and 400 <= err.status < 500:
                    # The gateway refused the request itself (bad parameters, key, balance, policy).
                    self._fail_before_task(tracked, str(err), str(err.code or err.type or err.status))
                else:
                    # A 2xx reply without a usable task id (or no status at all): a task may exist.
                    self._may_exist(tracked, f"the create's reply could not be used ({err})")
                return None
            except ValidationError as err:
                # Refused locally, before any network call.
                self._fail_before_task(tracked, f"not sent, nothing billed: {err}", "not_sent")
                return None
            notice = {"reconnecting": reconnecting, **self._live_notice(local_id)}
            if job._update(when=(JobState.SUBMITTING,), state=JobState.INTENT, **notice):
                self._record("status", job=local_id, state=JobState.INTENT, error_code="retry")
            if reconnecting and self._sleep(self._reconnect_wait(tracked)):
                return None

    def _create_gave_up(self, tracked: _Tracked) -> None:
        minutes = CREATE_RETRY_DEADLINE / 60
        self._fail_before_task(
            tracked,
            f"not sent, nothing billed: {tracked.last_refusal or 'the create could not be sent'}, for "
            f"{minutes:g} minutes; no task was created. Submit it again when the gateway answers.",
            "not_sent",
        )

    def _created(self, tracked: _Tracked, task: Task) -> None:
        """The gateway made the task: keep its id (in memory first), record it, start polling."""
        job = tracked.job
        now = time.time()
        self._rate_limit_streak = 0
        tracked.created_at = tracked.watch_since = now
        tracked.failures = 0
        started = job._update(
            when=(JobState.SUBMITTING,),
            task_id=task.id,
            state=JobState.QUEUED,
            reconnecting=False,
            gateway_status=task.status,
            **self._live_notice(job.local_id),
        )
        if started is None:
            # Cancelled while the create was in flight: keep the task id, and say it may be billed.
            job._update(task_id=task.id, error=CANCEL_MESSAGE)
            with self._lock:
                if tracked.reserved_usd == 0.0:
                    tracked.reserved_usd = job.snapshot().cost_estimate
                    self._reserved_usd += tracked.reserved_usd
        # Kept in memory and retried when it cannot be written: the task id is never dropped.
        state = JobState.QUEUED if started is not None else job.snapshot().state
        self._record("created", job=job.local_id, task_id=task.id, state=state)
        if started is None:
            return
        with self._lock:
            generation = tracked.generation
        self._schedule(tracked, self.poll_policy.next_delay([]) / self.time_scale, generation)

    def _end_after_surprise(self, tracked: _Tracked, err: BaseException) -> None:
        """An unexpected error in the create path: end in the safe state the facts allow."""
        snap = tracked.job.snapshot()
        what = type(err).__name__  # its text could quote anything (even a header); the log has it
        if snap.task_id is not None:
            # The task is known and kept: make sure it is watched (a second poll entry is harmless).
            if snap.state in POLLED_STATES:
                self._schedule(tracked, 0.0)
            return
        if snap.state in _NOT_SENT:
            self._fail_before_task(
                tracked, f"not sent, nothing billed: the create could not be prepared ({what})", "not_sent"
            )
        elif snap.state == JobState.SUBMITTING:
            self._may_exist(tracked, f"the create call failed unexpectedly ({what}) and may have been sent")

    def _upload_images(self, tracked: _Tracked) -> list[ImageRole] | None:
        if not tracked.images:
            return []
        job = tracked.job
        roles: list[ImageRole] = []
        for image in tracked.images:
            if image.data is None:
                assert image.url is not None
                roles.append(ImageRole(image.url, image.role))
                continue
            assert image.sha256 is not None
            url = self._uploaded_url(tracked, image.sha256, image.data)
            if url is None:
                return None  # shutting down
            image.url = url
            roles.append(ImageRole(url, image.role))
            if job.snapshot().is_final or self._stop.is_set():
                return None
        return roles

    def _uploaded_url(self, tracked: _Tracked, sha256: str, data: bytes) -> str | None:
        """The gateway URL of an image: known already, or uploaded once. Jobs that need the same
        image at the same time wait for the one upload in flight (None: shutting down)."""
        job = tracked.job
        with self._lock:
            url = self._uploaded.get(sha256)
            if url is not None:
                return url
            pending = self._uploads_in_flight.get(sha256)
            mine = pending is None
            if pending is None:
                pending = self._uploads_in_flight[sha256] = _PendingUpload()
        if job._update(when=(JobState.INTENT,), state=JobState.UPLOADING) is not None:
            self._record("status", job=job.local_id, state=JobState.UPLOADING)
        if not mine:
            while not pending.done.wait(0.25):
                if self._stop.is_set():
                    return None
            if pending.error is not None or pending.url is None:
                raise SeedanceError(str(pending.error or "the upload was interrupted")) from pending.error
            return pending.url
        try:
            path, _ = self.store.save_upload(data)
            url = self._client_for(tracked).upload_image(data, filename=path.name)
        except BaseException as err:
            pending.error = err
            raise
        else:
            pending.url = url
            self._record(
                "uploaded",
                job=job.local_id,
                sha256=sha256,
                url=url,
                path=str(path.relative_to(self.store.root)),
            )
            with self._lock:
                self._uploaded[sha256] = url
            return url
        finally:
            with self._lock:
                self._uploads_in_flight.pop(sha256, None)
            pending.done.set()

    def _fail_before_task(self, tracked: _Tracked, message: str, code: str) -> None:
        self._release(tracked)
        self._finish(tracked, JobState.FAILED, error=message, error_code=code)

    def _may_exist(self, tracked: _Tracked, message: str) -> None:
        text = (
            f"{message}. Nothing will be sent again without your word: check the gateway, then "
            "manager.resubmit(job, confirm=True) to pay for a new task, or attach(task_id) if you find it."
        )
        self._finish(tracked, JobState.MAY_EXIST, error=text, error_code="may_exist")

    def _finish(self, tracked: _Tracked, state: str, **fields: Any) -> None:
        job = tracked.job
        now = time.time()
        updates = {"finished_at": now, "eta_seconds": None, "reconnecting": False, **fields}
        # Only a job still in progress ends here: a cancel (or another end) that came first stands.
        if job._update(when=_IN_PROGRESS, state=state, **updates) is None:
            return
        record = {k: v for k, v in fields.items() if k in ("error", "error_code", "path", "sha256")}
        event = {
            JobState.FAILED: "failed",
            JobState.EXPIRED: "expired",
            JobState.TIMED_OUT: "timed_out",
            JobState.MAY_EXIST: "may_exist",
            JobState.DONE: "downloaded",
        }.get(state, "status")
        self._record(
            event, job=job.local_id, task_id=job.task_id, state=state, finished_at=round(now, 3), **record
        )

    # ---- account back-off -------------------------------------------------------------------
    def _account_backoff(self, retry_after: float | None) -> None:
        """After a 429, nobody on this account calls the gateway until the wait is over.

        The gateway's Retry-After is obeyed up to MAX_ACCOUNT_BACKOFF (gateway seconds): a huge
        one must not freeze every job for a day. Every job in progress says it is waiting.
        """
        cap = MAX_ACCOUNT_BACKOFF / self.time_scale
        with self._lock:
            self._rate_limit_streak += 1
            if retry_after is not None:
                wait = min(retry_after, cap)  # the gateway's own word, in real seconds, within reason
            else:
                doubling = 2.0 * 2 ** min(self._rate_limit_streak - 1, 10)
                wait = min(MAX_RECONNECT_WAIT, doubling) / self.time_scale
            until = time.monotonic() + wait
            if until <= self._backoff_until:
                return  # an earlier, longer wait already holds everyone
            self._backoff_until = until
            self._backoff_wall = time.time() + wait
            self._backoff_asked = retry_after
            self._rate_notice = True
            self._wake.notify_all()
            live = [t.job for t in self._tracked.values()]
        text = self._rate_limit_text()
        for job in live:
            snap = job.snapshot()
            if snap.error_code in (None, RATE_LIMITED):
                job._update(when=_HELD_BY_BACKOFF, error=text, error_code=RATE_LIMITED)

    def _rate_limit_text(self) -> str:
        until = time.strftime("%H:%M:%S", time.localtime(self._backoff_wall))
        text = f"rate limited by the gateway (HTTP 429): this account's requests wait until {until}"
        cap = MAX_ACCOUNT_BACKOFF / self.time_scale
        if self._backoff_asked is not None and self._backoff_asked > cap:
            text += f" (it asked for {self._backoff_asked:.0f} s; waits are capped at {cap:.0f} s)"
        return text

    def _end_rate_notice(self) -> None:
        """The account's wait is over: jobs stop saying they are rate limited."""
        with self._lock:
            live = [t.job for t in self._tracked.values()]
        for job in live:
            if job.snapshot().error_code == RATE_LIMITED:
                job._update(when=_IN_PROGRESS, error=None, error_code=None)

    def _reconnect_wait(self, tracked: _Tracked) -> float:
        return min(MAX_RECONNECT_WAIT, 1.0 * 2 ** min(tracked.failures - 1, 6)) / self.time_scale

    # ---- scheduler ------------------------------------------------------------------------
    def _schedule(self, tracked: _Tracked, delay: float, generation: int | None = None) -> None:
        with self._wake:
            gen = tracked.generation if generation is None else generation
            entry = (time.monotonic() + max(0.0, delay), next(self._seq), tracked.job.local_id, gen)
            heapq.heappush(self._heap, entry)
            self._wake.notify_all()

    def _schedule_loop(self) -> None:
        while True:
            entry, overdue, notice_over = self._next_due()
            if entry is None and not overdue and not notice_over:
                return  # stopping
            if notice_over:
                self._end_rate_notice()
            for tracked in overdue:
                self._timed_out(tracked)
            if entry is None:
                continue
            _, _, local_id, generation = entry
            with self._lock:
                due = self._tracked.get(local_id)
                if due is None or due.generation != generation:
                    continue
            # The GET runs in the pool, so one slow reply never delays the other jobs' polls.
            self._run_in_pool(functools.partial(self._poll_safely, due, generation), _POLL)

    def _next_due(self) -> tuple[tuple[float, int, str, int] | None, list[_Tracked], bool]:
        """Wait for the next thing the scheduler must do: a poll that is due (popped from the
        heap), jobs past their deadline while the account's back-off holds polls back, or the
        end of that back-off. All empty/False: the manager is stopping."""
        with self._wake:
            while not self._stop.is_set():
                now = time.monotonic()
                if self._rate_notice and now >= self._backoff_until:
                    self._rate_notice = False
                    return None, [], True
                head = self._heap[0][0] if self._heap else None
                if head is not None and max(head, self._backoff_until) <= now:
                    return heapq.heappop(self._heap), [], False
                wait = None if head is None else max(head, self._backoff_until) - now
                if self._rate_notice:
                    wait = self._backoff_until - now if wait is None else min(wait, self._backoff_until - now)
                if head is not None and self._backoff_until > head:
                    # Polls wait for the back-off, but deadlines do not: a job whose poll would
                    # have timed it out ends on time anyway.
                    overdue, next_deadline = self._past_deadline()
                    if overdue:
                        return None, overdue, False
                    if next_deadline is not None:
                        wait = min(wait if wait is not None else next_deadline, next_deadline)
                self._wake.wait(None if wait is None else min(max(wait, 0.001), 5.0))
        return None, [], False

    def _past_deadline(self) -> tuple[list[_Tracked], float | None]:
        """Polled jobs past their deadline, and seconds until the next one's (caller holds the lock)."""
        now = time.time()
        limit = self.deadline_s / self.time_scale
        overdue: list[_Tracked] = []
        soonest: float | None = None
        for tracked in self._tracked.values():
            if tracked.job.snapshot().state not in POLLED_STATES:
                continue
            left = tracked.watch_since + limit - now
            if left < 0:
                overdue.append(tracked)
            elif soonest is None or left < soonest:
                soonest = left
        return overdue, soonest

    def _poll_safely(self, tracked: _Tracked, generation: int) -> None:
        try:
            if tracked.follows is None or not self._follow(tracked):
                self._poll(tracked)
        except Exception:
            log.exception("polling job %s failed unexpectedly; retrying later", tracked.job.local_id)
            self._schedule(tracked, 10.0 / self.time_scale, generation)

    def _gateway_elapsed(self, tracked: _Tracked, now: float) -> float:
        return (now - (tracked.created_at or now)) * self.time_scale

    def _poll(self, tracked: _Tracked) -> None:
        job = tracked.job
        snap = job.snapshot()
        if snap.state not in (JobState.QUEUED, JobState.RUNNING) or snap.task_id is None:
            return
        generation = tracked.generation
        if self._unwritten:
            self._flush_unwritten()  # records kept since the ledger failed: try them again
        if (time.time() - tracked.watch_since) * self.time_scale > self.deadline_s:
            self._timed_out(tracked)
            return
        polls = snap.polls + 1
        try:
            task = self._single_for(tracked).get(snap.task_id)
        except RateLimitError as err:
            self._account_backoff(err.retry_after)
            job._update(when=POLLED_STATES, polls=polls)
            self._schedule(tracked, 0.0, generation)  # the scheduler itself waits out the back-off
            return
        except (TransportError, ServerError) as err:
            # Also an unreadable 2xx reply (BadReplyError): one bad reply is a network fault.
            self._poll_failed(tracked, snap.task_id, err, polls, generation)
            return
        except NotFoundError as err:
            self._finish(
                tracked,
                JobState.FAILED,
                error=f"the gateway does not know task {snap.task_id}: {err}",
                error_code="task_not_found",
                polls=polls,
            )
            return
        except APIError as err:
            if err.status is not None and 200 <= err.status < 300:
                # A 2xx whose body is unusable says nothing about the task: poll again.
                self._poll_failed(tracked, snap.task_id, err, polls, generation)
                return
            self._finish(
                tracked, JobState.FAILED, error=str(err), error_code=str(err.code or err.status), polls=polls
            )
            return
        self._rate_limit_streak = 0
        tracked.failures = 0
        now = time.time()
        with self._lock:
            if tracked.generation != generation:
                return  # cancelled while the GET was in flight
        tracked.samples.append(PollSample(self._gateway_elapsed(tracked, now), task.progress, task.status))
        del tracked.samples[:-200]
        common: dict[str, Any] = {
            "polls": polls,
            "reconnecting": False,
            "gateway_status": task.status,
            "progress": task.progress,
        }
        if task.seed is not None:
            common["seed"] = task.seed
        if task.status == COMPLETED:
            self._completed(tracked, task.video_url, task.expires_at, common)
            return
        if task.status == FAILED:
            message = task.error_message or "the gateway reports the task failed (no reason given)"
            self._finish(
                tracked, JobState.FAILED, error=message, error_code=task.error_code or "failed", **common
            )
            return
        state = JobState.QUEUED if task.status == QUEUED and task.progress == 0 else JobState.RUNNING
        if task.status not in (QUEUED, "in_progress"):
            log.info("task %s has an unknown status %r; still watching", snap.task_id, task.status)
        if state != snap.state:
            self._record(
                "status", job=job.local_id, task_id=snap.task_id, state=state, progress=task.progress
            )
            if state == JobState.RUNNING and snap.started_at is None:
                common["started_at"] = now
        eta = self.poll_policy.eta(tracked.samples)
        common["eta_seconds"] = None if eta is None else eta / self.time_scale
        # `error` of a job at work: the problem the engine works around now, if any.
        if job._update(when=POLLED_STATES, state=state, **common, **self._live_notice(job.local_id)) is None:
            return  # cancelled or ended meanwhile
        delay = self.poll_policy.next_delay(tracked.samples) / self.time_scale
        remaining = self.deadline_s / self.time_scale - (now - tracked.watch_since)
        self._schedule(tracked, max(0.0, min(delay, remaining + 0.01)), generation)

    def _poll_failed(
        self, tracked: _Tracked, task_id: str, err: Exception, polls: int, generation: int
    ) -> None:
        """A poll got no usable answer: not an error yet. The job says it is reconnecting and
        polls again after a growing wait; its deadline still bounds the whole."""
        tracked.failures += 1
        log.info("poll of %s failed (%s); reconnecting", task_id, err)
        tracked.job._update(when=POLLED_STATES, polls=polls, reconnecting=True)
        self._schedule(tracked, self._reconnect_wait(tracked), generation)

    def _timed_out(self, tracked: _Tracked) -> None:
        task_id = tracked.job.task_id
        self._finish(
            tracked,
            JobState.TIMED_OUT,
            error=(
                f"no result after {self.deadline_s / 60:g} minutes; stopped watching. Task {task_id} may "
                f"still finish: seedance_widgets.attach({task_id!r}) watches it again."
            ),
            error_code="timed_out",
        )

    def _resume(self, tracked: _Tracked) -> None:
        """Watch a timed-out, cancelled or failed-download job's task again."""
        with self._lock:
            tracked.generation += 1
            tracked.created_at = tracked.watch_since = time.time()
            tracked.samples.clear()
            tracked.failures = 0
            tracked.download_attempts = 0
        job = tracked.job
        self._record("attached", job=job.local_id, task_id=job.task_id, state=JobState.QUEUED)
        job._update(state=JobState.QUEUED, error=None, error_code=None, finished_at=None)
        self._schedule(tracked, 0.0)

    # ---- download -------------------------------------------------------------------------
    def _completed(
        self, tracked: _Tracked, url: str | None, expires_at: float | None, common: dict[str, Any]
    ) -> None:
        job = tracked.job
        if not url:
            self._finish(
                tracked,
                JobState.FAILED,
                error="the gateway says completed but gives no video URL",
                error_code="no_video_url",
                **common,
            )
            return
        self._record(
            "status",
            job=job.local_id,
            task_id=job.task_id,
            state=JobState.DOWNLOADING,
            video_url=url,
            expires_at=expires_at,
            seed=common.get("seed"),
            progress=100,
        )
        applied = job._update(
            when=POLLED_STATES,
            state=JobState.DOWNLOADING,
            video_url=url,
            expires_at=expires_at,
            eta_seconds=0.0,
            **{**common, "progress": 100},
            **self._live_notice(job.local_id, rate_limit=False),
        )
        if applied is not None:
            self._run_in_pool(lambda: self._download(tracked), _DOWNLOAD)

    def _download(self, tracked: _Tracked) -> None:
        job = tracked.job
        snap = job.snapshot()
        if snap.state != JobState.DOWNLOADING or snap.video_url is None or self._stop.is_set():
            return
        # No verdict from `expires_at`: our clock may be off. Only the gateway's answer
        # (404/410: URLExpiredError) says the URL is gone, so the download is always tried.
        incoming = self.store.incoming_path(job.local_id)
        tracked.download_attempts += 1
        try:
            self._client_for(tracked).download(snap.video_url, incoming)
            path, digest = self.store.keep_video(incoming, snap.prompt)
        except URLExpiredError:
            self._expired(tracked)
            return
        except Exception as err:
            hopeless = isinstance(err, DownloadError) and not err.retryable  # e.g. not an MP4 at all
            if not isinstance(err, (SeedanceError, OSError)):
                log.exception("saving the video of %s failed unexpectedly", snap.task_id)
                hopeless = True
            if hopeless or tracked.download_attempts >= DOWNLOAD_ATTEMPTS:
                self._finish(
                    tracked,
                    JobState.FAILED,
                    error=(
                        f"could not save the video of task {snap.task_id}: {err}. "
                        f"attach({snap.task_id!r}) tries again while the URL lives"
                    ),
                    error_code="download_failed",
                )
                return
            log.info("download of %s failed (%s); retrying", snap.task_id, err)
            job._update(when=(JobState.DOWNLOADING,), reconnecting=True)
            tracked.failures += 1
            if not self._sleep(self._reconnect_wait(tracked)):
                self._run_in_pool(lambda: self._download(tracked), _DOWNLOAD)
            return
        if job.snapshot().state != JobState.DOWNLOADING:
            return  # cancelled meanwhile; the file stays in the store
        relative = str(path.relative_to(self.store.root))
        self._record(
            "downloaded",
            job=job.local_id,
            task_id=snap.task_id,
            state=JobState.DONE,
            path=relative,
            sha256=digest,
            request_hash=snap.request_hash,
            finished_at=round(time.time(), 3),
        )
        job._update(
            when=(JobState.DOWNLOADING,),
            state=JobState.DONE,
            path=path,
            sha256=digest,
            finished_at=time.time(),
            reconnecting=False,
            eta_seconds=None,
            **self._live_notice(job.local_id, rate_limit=False),
        )

    def _expired(self, tracked: _Tracked) -> None:
        task_id = tracked.job.task_id
        self._finish(
            tracked,
            JobState.EXPIRED,
            error=(
                f"the video URL of task {task_id} expired before it could be saved; the gateway no longer "
                "has it. Only a new (paid) task can make it again: run with rerun=True."
            ),
            error_code="url_expired",
        )

    # ---- restart --------------------------------------------------------------------------
    def _restore(self) -> None:
        with self.store.ledger.exclusive():
            self._refresh()
            entries = list(self._view.jobs.values())
        alive: dict[str, bool] = {}
        for entry in entries:
            if entry.state not in FINAL_STATES and entry.owner:
                if entry.owner not in alive:
                    alive[entry.owner] = self.store.owner_alive(entry.owner)
                if alive[entry.owner]:
                    continue  # another live process is watching it
            self._adopt(entry)

    def _adopt(self, entry: LedgerJob) -> None:
        snap = JobSnapshot(
            local_id=entry.local_id,
            request=entry.request,
            state=entry.state,
            task_id=entry.task_id,
            progress=entry.progress,
            submitted_at=entry.submitted_at,
            started_at=entry.started_at,
            finished_at=entry.finished_at,
            error=entry.error,
            error_code=entry.error_code,
            video_url=entry.video_url,
            expires_at=entry.expires_at,
            path=entry.path,
            sha256=entry.sha256,
            cost_estimate=entry.cost_estimate,
            seed=entry.seed,
            request_hash=entry.request_hash,
        )
        job = Job(snap, self)
        images = [
            _Image(role=i.get("role", ""), url=i.get("url"), sha256=i.get("sha256"))
            for i in entry.images
            if isinstance(i, dict)
        ]
        tracked = _Tracked(job=job, images=images, created_at=entry.created_at or entry.submitted_at)
        with self._lock:
            self._tracked[entry.local_id] = tracked
            if entry.request_hash:
                self._by_hash.setdefault(entry.request_hash, []).append(job)
        if entry.state in FINAL_STATES:
            return
        if entry.task_id is None:
            if entry.state == JobState.SUBMITTING:
                self._may_exist(
                    tracked,
                    "the previous kernel stopped while this create was in flight, so "
                    "the task may exist and be billed",
                )
            else:
                self._record(
                    "cancelled",
                    job=entry.local_id,
                    state=JobState.CANCELLED,
                    error="stopped before it was sent: nothing was created or billed",
                )
                job._update(
                    state=JobState.CANCELLED,
                    error="the previous kernel stopped before this was sent: nothing was created or "
                    "billed; run it again to generate",
                    error_code="not_sent",
                    finished_at=time.time(),
                )
            return
        # A live task: watch it again (a download in progress starts over from a fresh poll).
        if entry.state == JobState.DOWNLOADING:
            job._update(state=JobState.RUNNING)
        self._schedule(tracked, 0.0)


_IMAGE_KINDS = "a JPEG, PNG, WebP or GIF image"


def _local_image(role: str, source: object) -> bytes:
    """The bytes of a local image (a path or bytes), checked before anything is copied or sent.

    A path must lead to a regular file: a symlink is followed, but only to a regular file, and
    FIFOs, devices and folders are refused without being read. The size on disk is checked
    before reading, at most 10 MB + 1 byte is ever read, and the content must be an image.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = read_image(bytes(source), f"the {role} image")
    elif isinstance(source, (str, os.PathLike)):
        data, name = _read_image_file(Path(source).expanduser())
    else:
        raise ValidationError(
            "image",
            source,
            "an http(s) URL, a local file path or bytes",
            f"the {role} image is not "
            f"an http(s) URL, a local file path or bytes (got {type(source).__name__})",
        )
    if sniff_image_type(data[:16]) is None:
        message = f"{name} is not {_IMAGE_KINDS} (judged by its content)"
        raise ValidationError("image", name, _IMAGE_KINDS, message)
    return data


def _read_image_file(path: Path) -> tuple[bytes, str]:
    """Read an image file safely: stat first, then open without blocking and check it again."""
    allowed = "a path to an existing image file"
    try:
        info = path.stat()  # follows a symlink: what counts is what it leads to
    except OSError as err:
        message = f"no image file at {path} ({err.strerror})"
        raise ValidationError("image", str(path), allowed, message) from None
    _check_regular(path, info)
    try:
        # O_NONBLOCK: if the path was swapped for a FIFO since the stat, opening still returns.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise ValidationError("image", str(path), allowed, f"cannot read {path} ({err.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        _check_regular(path, info)  # the file actually opened, whatever the path says now
        if info.st_size > MAX_UPLOAD_BYTES:
            limit = "at most 10 MB (the gateway's upload limit)"
            raise ValidationError("image", str(path), limit, f"{path.name} is {info.st_size} bytes; {limit}")
        head = handle.read(MAX_UPLOAD_BYTES + 1)  # never more, even if the file grows meanwhile
    # The size and emptiness checks on what was read are the client's own.
    return read_image(head, path.name)


_FILE_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


def _check_regular(path: Path, info: os.stat_result) -> None:
    if stat.S_ISREG(info.st_mode):
        return
    kind = next((name for test, name in _FILE_KINDS if test(info.st_mode)), "a special file")
    message = f"{path} is {kind}, not a regular image file: refused unread"
    raise ValidationError("image", str(path), "a regular image file", message)


def _old_enough(path: Path) -> bool:
    """True when ``path`` was last written more than STALE_TEMP_AGE seconds ago."""
    try:
        return time.time() - path.stat().st_mtime > STALE_TEMP_AGE
    except OSError:
        return False


def _pid_alive(text: str) -> bool:
    """Whether the process numbered ``text`` runs on this machine (one we may not signal counts)."""
    if not text.isdigit():
        return False  # not a name we write
    pid = int(text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _download_job(name: str) -> str:
    """The local job id in a download's file name (``.incoming-<id>.mp4`` or its ``.part``)."""
    return name.lstrip(".").removeprefix("incoming-").split(".mp4", 1)[0]


def _single_attempt_view(client: SeedanceClient) -> SeedanceClient:
    """The same client (session, key, counters) with one attempt per call.

    A plain ``copy.copy`` is refused by the client (it will not be pickled), so the
    attributes are shared by hand; nothing is duplicated, the key included.
    """
    view = object.__new__(type(client))
    view.__dict__.update(client.__dict__)
    view.retry = RetryPolicy(attempts=1)
    return view


def _request_hash(request: GenerationRequest, images: list[_Image]) -> str:
    """The canonical hash of a request with its images (local ones by content)."""
    return canonical_hash(canonical_body(request, [(i.role, i.stable_url()) for i in images]))


def _relative(path: Path, root: Path) -> str:
    """``path`` as the ledger writes it: relative to the output folder when inside it."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _new_local_id() -> str:
    return "job-" + uuid.uuid4().hex[:10]


@atexit.register
def _shutdown_all() -> None:
    for manager in list(_live_managers):
        manager.shutdown(timeout=2.0)
