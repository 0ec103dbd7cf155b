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
import dataclasses
import functools
import heapq
import itertools
import logging
import os
import queue
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
    TaskMayExistError,
    TransportError,
    URLExpiredError,
    request_cost_usd,
)

from .errors import BudgetExceededError

if TYPE_CHECKING:
    from seedance_widgets.api import SeedanceClient
from .job import Job
from .policy import AdaptivePolicy, PollPolicy, PollSample
from .restore import LedgerJob, fold
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

CANCEL_MESSAGE = (
    "cancelled: no longer watched. The gateway has no cancel, so the task may still finish "
    "and be billed; attach(task_id) watches it again."
)

_live_managers: weakref.WeakSet[JobManager] = weakref.WeakSet()
#: States before the create call went out (a cancel then costs nothing).
_NOT_SENT = frozenset({JobState.INTENT, JobState.UPLOADING})
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
    #: Estimated USD reserved against the budget by this job.
    reserved_usd: float = 0.0


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
        self.store.ensure()
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
        self._rate_limit_streak = 0
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
        self._owner_lock = self.store.hold_owner_lock(self.owner_id)
        _live_managers.add(self)
        if resume:
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
        # The hash is already known: no second read and hash of local images.
        if rerun or not self._has_saved(request_hash):
            # HTTP may follow: make the client here, so a backend that cannot start (no key and
            # no emulator) fails in the caller's thread with its own message.
            _ = self.client
        reused: Job | None = None
        followup: Callable[[], None] | None = None
        with self._lock:
            if not rerun:
                reused, followup = self._reuse(request_hash)
            if reused is None:
                self._check_budget(estimate)
                tracked = self._new_tracked(request, request_hash, estimate, prepared)
        if reused is not None:
            # Job updates (and so observers) run outside the manager's lock.
            if followup is not None:
                followup()
            return reused
        job = tracked.job
        local_id = job.local_id
        # The intent is durable before any paid call can happen.
        self._record(
            "intent",
            job=local_id,
            request_hash=request_hash,
            request=request.to_body(),
            images=[{"role": i.role, "url": i.url, "sha256": i.sha256} for i in prepared] or None,
            state=JobState.INTENT,
            cost_estimate=estimate,
        )
        self._run_in_pool(lambda: self._create(tracked), _CREATE)
        return job

    def is_cached(self, request: GenerationRequest, images: Sequence[ImageInput] = ()) -> bool:
        """Whether ``submit(request, images=images)`` (without ``rerun``) would return a finished,
        saved video at once: zero HTTP requests, nothing billed.

        False when an identical job is still in flight (submit returns that job), when the saved
        file is gone or altered, when there is no such job, and once the manager is shut down.
        Sends nothing; local images are read and hashed, not uploaded.
        """
        if not isinstance(request, GenerationRequest):
            raise TypeError("is_cached() takes a GenerationRequest")
        if self._stop.is_set():
            return False
        return self._has_saved(_request_hash(request, self._prepare_images(request, images)))

    def _has_saved(self, request_hash: str) -> bool:
        """Whether a finished, intact saved video answers ``request_hash`` (see ``is_cached``)."""
        with self._lock:
            return self._saved_match(self._by_hash.get(request_hash) or []) is not None

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
        """One ledger record, signed with this manager's owner id."""
        self.store.ledger.append(event, owner=self.owner_id, **fields)

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
            if isinstance(source, (bytes, bytearray, memoryview)):
                data = bytes(source)
            else:
                path = Path(source)
                if not path.is_file():
                    raise ValueError(f"no image file at {path}")
                data = path.read_bytes()
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
        job = tracked.job
        local_id = job.local_id
        if job.snapshot().is_final or self._stop.is_set():
            return
        try:
            roles = self._upload_images(tracked)
        except (SeedanceError, OSError) as err:
            self._fail_before_task(tracked, f"image upload failed: {err}", "upload_failed")
            return
        if roles is None:
            return
        request = job.request
        assert request is not None
        if roles:
            request = request.replace(image_with_roles=tuple(roles))
        # This worker holds one of the create slots (see _may_start) until the create is done.
        while True:
            if self._sleep(self._backoff_until - time.monotonic()):
                return
            # Atomic with cancel(): either the cancel sees "submitting" (and says the task may be
            # billed) or this sees the cancel and sends nothing.
            if job._update(when=_NOT_SENT, state=JobState.SUBMITTING) is None:
                return
            self._record("status", job=local_id, state=JobState.SUBMITTING, body=request.to_body())
            try:
                task = self._single_shot.create(request)
            except TaskMayExistError as err:
                self._may_exist(tracked, str(err))
                return
            except (RateLimitError, TransportError) as err:
                # Proof that no task was made: a 429, or a connection that never opened.
                retry_after = getattr(err, "retry_after", None)
                if isinstance(err, RateLimitError):
                    self._account_backoff(retry_after)
                    wait = self._backoff_until - time.monotonic()
                else:
                    tracked.failures += 1
                    wait = self._reconnect_wait(tracked)
                reconnecting = isinstance(err, TransportError)
                if job._update(when=(JobState.SUBMITTING,), state=JobState.INTENT, reconnecting=reconnecting):
                    self._record("status", job=local_id, state=JobState.INTENT, error_code="retry")
                if self._sleep(wait):
                    return
                continue
            except ServerError as err:
                if err.status == 503 and err.retry_after is not None:
                    self._account_backoff(err.retry_after)
                    if job._update(when=(JobState.SUBMITTING,), state=JobState.INTENT):
                        self._record("status", job=local_id, state=JobState.INTENT)
                    continue
                self._may_exist(
                    tracked,
                    f"the gateway answered the create with a server error ({err}); a task may or may "
                    "not exist and may be billed, so it was not sent again",
                )
                return
            except APIError as err:
                self._fail_before_task(tracked, str(err), str(err.code or err.type or err.status))
                return
            break
        self._rate_limit_streak = 0
        now = time.time()
        tracked.created_at = now
        tracked.watch_since = now
        tracked.failures = 0
        self._record("created", job=local_id, task_id=task.id, state=JobState.QUEUED)
        started = job._update(
            when=(JobState.SUBMITTING,),
            task_id=task.id,
            state=JobState.QUEUED,
            reconnecting=False,
            gateway_status=task.status,
        )
        if started is None:
            # Cancelled while the create was in flight: keep the task id, and say it may be billed.
            job._update(task_id=task.id, error=CANCEL_MESSAGE)
            with self._lock:
                if tracked.reserved_usd == 0.0:
                    tracked.reserved_usd = job.snapshot().cost_estimate
                    self._reserved_usd += tracked.reserved_usd
            return
        with self._lock:
            generation = tracked.generation
        self._schedule(tracked, self.poll_policy.next_delay([]) / self.time_scale, generation)

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
            url = self.client.upload_image(data, filename=path.name)
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
        """After a 429, nobody on this account calls the gateway until the wait is over."""
        with self._lock:
            self._rate_limit_streak += 1
            if retry_after is not None:
                wait = retry_after  # the gateway's own word, in real seconds
            else:
                wait = min(MAX_RECONNECT_WAIT, 2.0 * 2 ** (self._rate_limit_streak - 1)) / self.time_scale
            self._backoff_until = max(self._backoff_until, time.monotonic() + wait)
            self._wake.notify_all()

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
            with self._wake:
                while not self._stop.is_set():
                    now = time.monotonic()
                    due = max(self._heap[0][0], self._backoff_until) if self._heap else None
                    if due is not None and due <= now:
                        break
                    self._wake.wait(None if due is None else min(due - now, 5.0))
                if self._stop.is_set():
                    return
                _, _, local_id, generation = heapq.heappop(self._heap)
                tracked = self._tracked.get(local_id)
                if tracked is None or tracked.generation != generation:
                    continue
            # The GET runs in the pool, so one slow reply never delays the other jobs' polls.
            self._run_in_pool(functools.partial(self._poll_safely, tracked, generation), _POLL)

    def _poll_safely(self, tracked: _Tracked, generation: int) -> None:
        try:
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
        if (time.time() - tracked.watch_since) * self.time_scale > self.deadline_s:
            self._timed_out(tracked)
            return
        polls = snap.polls + 1
        try:
            task = self._single_shot.get(snap.task_id)
        except RateLimitError as err:
            self._account_backoff(err.retry_after)
            job._update(polls=polls)
            self._schedule(tracked, 0.0, generation)  # the scheduler itself waits out the back-off
            return
        except (TransportError, ServerError) as err:
            tracked.failures += 1
            # Not an error yet: the job is alive and says so with reconnecting=True.
            log.info("poll of %s failed (%s); reconnecting", snap.task_id, err)
            job._update(polls=polls, reconnecting=True)
            self._schedule(tracked, self._reconnect_wait(tracked), generation)
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
        if job._update(when=POLLED_STATES, state=state, error=None, **common) is None:
            return  # cancelled or ended meanwhile
        delay = self.poll_policy.next_delay(tracked.samples) / self.time_scale
        remaining = self.deadline_s / self.time_scale - (now - tracked.watch_since)
        self._schedule(tracked, max(0.0, min(delay, remaining + 0.01)), generation)

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
            error=None,
            **{**common, "progress": 100},
        )
        if applied is not None:
            self._run_in_pool(lambda: self._download(tracked), _DOWNLOAD)

    def _download(self, tracked: _Tracked) -> None:
        job = tracked.job
        snap = job.snapshot()
        if snap.state != JobState.DOWNLOADING or snap.video_url is None or self._stop.is_set():
            return
        if snap.expires_at is not None and snap.expires_at <= time.time():
            self._expired(tracked)
            return
        incoming = self.store.incoming_path(job.local_id)
        tracked.download_attempts += 1
        try:
            self.client.download(snap.video_url, incoming)
            path, digest = self.store.keep_video(incoming, snap.prompt)
        except URLExpiredError:
            self._expired(tracked)
            return
        except (SeedanceError, OSError) as err:
            hopeless = isinstance(err, DownloadError) and not err.retryable  # e.g. not an MP4 at all
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
            job._update(reconnecting=True)
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
            error=None,
            reconnecting=False,
            eta_seconds=None,
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
        ledger_jobs, uploads = fold(self.store.ledger.read(), self.store.root)
        self._uploaded.update(uploads)
        alive: dict[str, bool] = {}
        for entry in ledger_jobs.values():
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


def _new_local_id() -> str:
    return "job-" + uuid.uuid4().hex[:10]


@atexit.register
def _shutdown_all() -> None:
    for manager in list(_live_managers):
        manager.shutdown(timeout=2.0)
