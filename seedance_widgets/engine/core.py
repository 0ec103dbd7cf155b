"""What every room of one manager shares: its jobs' bookkeeping, its clients, and the few steps
they all take (record, schedule, end a job, say what a job at work is waiting for).

The rooms are modules of functions over an :class:`Engine`: ``creating`` (uploads then the create
call), ``watching`` (polls, deadlines), ``transfers`` (uploads, downloads), ``cache`` (which job
answers a request, budget for batches), ``follow`` (another manager's identical job),
``adoption`` (jobs from the ledger). ``manager.JobManager`` is the facade over them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from seedance_widgets.api import RetryPolicy

from .budget import Budget
from .clock import Clock
from .environment import backend_time_scale
from .job import Job
from .journal import Journal
from .restore import LedgerView
from .scheduler import Hooks, Scheduler, Work
from .settings import Settings
from .state import POLLED_STATES, JobSnapshot, JobState
from .store import Store
from .tracked import (
    HELD_BY_BACKOFF,
    IN_PROGRESS,
    LEDGER_WRITE_FAILED,
    NOT_SENT,
    RATE_LIMITED,
    PendingUpload,
    Tracked,
)

if TYPE_CHECKING:
    from seedance_widgets.api import SeedanceClient

#: Makes the client of new jobs when none was given (see ``environment.environment_client``).
ClientFactory = Callable[[], "SeedanceClient"]

CANCEL_MESSAGE = (
    "cancelled: no longer watched. The gateway has no cancel, so the task may still finish "
    "and be billed; attach(task_id) watches it again."
)
_UNSENT_CANCEL = "cancelled before it was sent: nothing was created or billed"


class Engine:
    """The shared state of one manager's rooms. Its lock guards the jobs' bookkeeping, the
    scheduler's heap and caps; job updates (which call observers) are never made under it."""

    def __init__(
        self,
        *,
        store: Store,
        settings: Settings,
        budget: Budget,
        clock: Clock,
        owner_id: str,
        client: SeedanceClient | None,
        client_factory: ClientFactory,
        hooks: Callable[[Engine], Hooks],
        max_workers: int,
        max_concurrent_creates: int,
    ) -> None:
        self.store = store
        self.settings = settings
        self.budget = budget
        self.clock = clock
        self.lock = threading.RLock()
        self.tracked: dict[str, Tracked] = {}
        #: Jobs by canonical request hash, oldest first (a rerun adds one; none is forgotten).
        self.by_hash: dict[str, list[Job]] = {}
        #: Gateway URLs of local images uploaded already, by sha256.
        self.uploaded: dict[str, str] = {}
        #: Uploads on the wire, by image sha256: other jobs needing the image wait for that one.
        self.uploads_in_flight: dict[str, PendingUpload] = {}
        #: Every manager's records of this folder, folded; grown from the tail before each create.
        self.view = LedgerView(store.root)
        self.journal = Journal(store.ledger, owner_id, clock, self.job)
        self.scheduler = Scheduler(
            lock=self.lock,
            clock=clock,
            settings=settings,
            hooks=hooks(self),
            max_workers=max_workers,
            max_concurrent_creates=max_concurrent_creates,
        )
        self._clients = _Clients(client, client_factory, settings)

    # ---- jobs ----------------------------------------------------------------------------------
    @property
    def stopping(self) -> bool:
        return self.scheduler.stopped.is_set()

    def job(self, local_id: str) -> Job | None:
        tracked = self.tracked.get(local_id)
        return tracked.job if tracked is not None else None

    def new_job(self, snap: JobSnapshot, *, same_request: bool = True, **fields: Any) -> Tracked:
        """Register a job (caller holds the lock); ``fields`` go to its bookkeeping. With
        ``same_request`` (and a request hash) it is one of the jobs the cache rules look at."""
        fields.setdefault("watch_since", self.clock.time())
        tracked = Tracked(job=Job(snap, self), **fields)
        self.tracked[snap.local_id] = tracked
        if same_request and snap.request_hash:
            self.by_hash.setdefault(snap.request_hash, []).append(tracked.job)
        return tracked

    def record(self, event: str, **fields: Any) -> None:
        self.journal.record(event, **fields)

    def schedule(self, tracked: Tracked, delay: float, generation: int | None = None) -> None:
        gen = tracked.generation if generation is None else generation
        self.scheduler.schedule(tracked.job.local_id, delay, gen)

    def run_in_pool(self, fn: Work, kind: int) -> None:
        self.scheduler.run_in_pool(fn, kind)

    def refresh(self) -> None:
        """Fold in the ledger records appended since this manager last read it (by anyone)."""
        ledger = self.store.ledger
        with ledger.exclusive():  # also keeps this manager's threads off the view meanwhile
            records, self.view.offset = ledger.read_from(self.view.offset)
            uploads = self.view.absorb(records)
        if uploads:
            with self.lock:
                self.uploaded.update(uploads)

    # ---- ending a job --------------------------------------------------------------------------
    def finish(self, tracked: Tracked, state: str, **fields: Any) -> None:
        """End a job still in progress (a cancel or another end that came first stands)."""
        job = tracked.job
        now = self.clock.time()
        updates = {"finished_at": now, "eta_seconds": None, "reconnecting": False, **fields}
        if job._update(when=IN_PROGRESS, state=state, **updates) is None:
            return
        record = {k: v for k, v in fields.items() if k in ("error", "error_code", "path", "sha256")}
        event = {
            JobState.FAILED: "failed",
            JobState.EXPIRED: "expired",
            JobState.TIMED_OUT: "timed_out",
            JobState.MAY_EXIST: "may_exist",
            JobState.DONE: "downloaded",
        }.get(state, "status")
        self.record(
            event, job=job.local_id, task_id=job.task_id, state=state, finished_at=round(now, 3), **record
        )

    def fail_before_task(self, tracked: Tracked, message: str, code: str) -> None:
        """End a job that provably made no task (its reservation is given back)."""
        self.release(tracked)
        self.finish(tracked, JobState.FAILED, error=message, error_code=code)

    def may_exist(self, tracked: Tracked, message: str) -> None:
        """End a job whose task may exist and be billed: nothing is sent again without a word."""
        text = (
            f"{message}. Nothing will be sent again without your word: check the gateway, then "
            "manager.resubmit(job, confirm=True) to pay for a new task, or attach(task_id) if you find it."
        )
        self.finish(tracked, JobState.MAY_EXIST, error=text, error_code="may_exist")

    def release(self, tracked: Tracked | None) -> None:
        """Give back a job's budget reservation (nothing was created)."""
        if tracked is None:
            return
        with self.lock:
            amount, tracked.reserved_usd = tracked.reserved_usd, 0.0
        self.budget.release(amount)

    def cancel(self, job: Job) -> None:
        """Stop watching ``job`` and record it; the task may still finish and be billed."""
        with self.lock:
            tracked = self.tracked.get(job.local_id)
            if tracked is not None:
                tracked.generation += 1
        ended = {
            "error_code": "cancelled",
            "finished_at": self.clock.time(),
            "eta_seconds": None,
            "reconnecting": False,
        }
        # Two atomic tries: still unsent (then it costs nothing), else in progress (may be billed).
        snap = job._update(when=NOT_SENT, state=JobState.CANCELLED, error=_UNSENT_CANCEL, **ended)
        if snap is not None:
            self.release(tracked)
        else:
            snap = job._update(when=IN_PROGRESS, state=JobState.CANCELLED, error=CANCEL_MESSAGE, **ended)
            if snap is None:
                return  # already ended
        self.record(
            "cancelled", job=snap.local_id, task_id=snap.task_id, state=JobState.CANCELLED, error=snap.error
        )

    # ---- what a job at work shows ----------------------------------------------------------------
    def live_notice(self, local_id: str, *, rate_limit: bool = True) -> dict[str, Any]:
        """The ``error``/``error_code`` a job at work (or just done) shows: a problem the engine
        works around, such as its records waiting for the ledger, or the account's rate limit."""
        tracked = self.tracked.get(local_id)
        if tracked is not None and self.journal.is_waiting(local_id):
            return {"error": self.journal.warning(tracked.job.snapshot()), "error_code": LEDGER_WRITE_FAILED}
        if rate_limit and self.scheduler.rate_limited:
            return {"error": self.scheduler.rate_limit_text(), "error_code": RATE_LIMITED}
        return {"error": None, "error_code": None}

    def account_backoff(self, retry_after: float | None) -> None:
        """After a 429 the whole account waits; every job in progress says so."""
        if not self.scheduler.backoff(retry_after):
            return
        with self.lock:
            live = [t.job for t in self.tracked.values()]
        text = self.scheduler.rate_limit_text()
        for job in live:
            if job.snapshot().error_code in (None, RATE_LIMITED):
                job._update(when=HELD_BY_BACKOFF, error=text, error_code=RATE_LIMITED)

    def end_rate_notice(self) -> None:
        """The account's wait is over: jobs stop saying they are rate limited."""
        with self.lock:
            live = [t.job for t in self.tracked.values()]
        for job in live:
            if job.snapshot().error_code == RATE_LIMITED:
                job._update(when=IN_PROGRESS, error=None, error_code=None)

    def past_deadline(self) -> tuple[list[str], float | None]:
        """Polled jobs past their deadline, and seconds until the next one's (caller holds the lock)."""
        now = self.clock.time()
        limit = self.settings.ours(self.settings.deadline_s)
        overdue: list[str] = []
        soonest: float | None = None
        for local_id, tracked in self.tracked.items():
            if tracked.job.snapshot().state not in POLLED_STATES:
                continue
            left = tracked.watch_since + limit - now
            if left < 0:
                overdue.append(local_id)
            elif soonest is None or left < soonest:
                soonest = left
        return overdue, soonest

    # ---- clients ---------------------------------------------------------------------------------
    @property
    def client(self) -> SeedanceClient:
        return self._clients.current()

    def use_client(self, client: SeedanceClient | None) -> None:
        self._clients.use(client)

    @property
    def client_from_environment(self) -> bool:
        return self._clients.from_environment

    @property
    def given_client(self) -> SeedanceClient | None:
        """The client new jobs start with, if made already (None: made on first use)."""
        return self._clients.made

    def client_for(self, tracked: Tracked) -> SeedanceClient:
        """The client of this job (pinned on first use)."""
        if tracked.client is None:
            tracked.client = self.client
        return tracked.client

    def single_for(self, tracked: Tracked) -> SeedanceClient:
        """The job's client with one attempt per call (see ``_Clients.single``)."""
        return self._clients.single(self.client_for(tracked))


class _Clients:
    """The client new jobs start with (made on first use), and one-attempt views of each job's.

    A re-run served from the cache never makes one: it never loads the HTTP stack, nor starts the
    built-in emulator when no key is set."""

    def __init__(self, client: SeedanceClient | None, factory: ClientFactory, settings: Settings) -> None:
        self.made = client
        self._factory = factory
        self._settings = settings
        self.from_environment = client is None
        self._lock = threading.Lock()
        #: One-attempt views of the clients jobs started with (by id; the client is kept too).
        self._views: dict[int, tuple[SeedanceClient, SeedanceClient]] = {}

    def current(self) -> SeedanceClient:
        with self._lock:
            if self.made is None:
                self.made = self._factory()
                if self._settings.time_scale_from_backend:
                    # The built-in emulator runs faster than the gateway: poll at its pace.
                    self._settings.time_scale = backend_time_scale()
            return self.made

    def use(self, client: SeedanceClient | None) -> None:
        """Send NEW jobs through ``client`` (None: make one from the factory on next need)."""
        with self._lock:
            self.made = client
            self.from_environment = client is None

    def single(self, client: SeedanceClient) -> SeedanceClient:
        """``client`` with one attempt per call, for creates and polls: the manager owns their
        retries, so a 429 backs off the whole account and a slow retry never stalls the scheduler."""
        with self._lock:
            view = self._views.get(id(client))
            if view is None or view[0] is not client:
                view = self._views[id(client)] = (client, _single_attempt_view(client))
            return view[1]


def _single_attempt_view(client: SeedanceClient) -> SeedanceClient:
    """The same client (session, key, counters) with one attempt per call.

    A plain ``copy.copy`` is refused by the client (it will not be pickled), so the
    attributes are shared by hand; nothing is duplicated, the key included.
    """
    view = object.__new__(type(client))
    view.__dict__.update(client.__dict__)
    view.retry = RetryPolicy(attempts=1)
    return view
