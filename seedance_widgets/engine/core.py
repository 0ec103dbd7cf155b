"""What every room of one manager shares: its jobs' bookkeeping, its clients, and the few steps
they all take (record, schedule, end a job, say what a job at work is waiting for).

The rooms are modules of functions over an :class:`Engine`: ``creating`` (uploads then the create
call), ``watching`` (polls, deadlines), ``transfers`` (uploads, downloads), ``cache`` (which job
answers a request, budget for batches), ``follow`` (another manager's identical job),
``adoption`` (jobs from the ledger). ``manager.JobManager`` is the facade over them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from seedance_widgets.api import RetryPolicy

from .budget import Budget
from .clock import Clock
from .environment import backend_time_scale
from .job import CancelHandle, Job
from .journal import Journal
from .providers import flex_window, is_flex, protocol_named, provider_of
from .restore import LedgerView
from .scheduler import Hooks, Scheduler, Work
from .settings import Settings
from .state import POLLED_STATES, JobSnapshot, JobState
from .store import Store
from .tracked import (
    HELD_BY_BACKOFF,
    IN_PROGRESS,
    LEDGER_WRITE_FAILED,
    NOT_CANCELLABLE,
    NOT_SENT,
    RATE_LIMITED,
    WAITING_FOR_QUEUE,
    PendingUpload,
    QueueLimit,
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
#: The same, for a provider that can cancel a queued task but not a running one (Ark).
RUNNING_CANCEL_MESSAGE = (
    "cancelled: no longer watched. Ark cannot cancel a task once it runs, so it will finish "
    "and be billed; attach(task_id) watches it again."
)
_UNSENT_CANCEL = "cancelled before it was sent: nothing was created or billed"
#: What a job shows while the engine's workers ask the provider to cancel its queued task.
CANCELLING_NOTE = "asking Ark to cancel the queued task\u2026 (the outcome shows here when Ark answers)"
#: ``error_code`` of a job whose cancel is on its way to the provider.
CANCELLING_CODE = "cancelling"
#: A cancel asks the engine to do this with a job (``cancelling.cancel``: the provider's cancel
#: where it has one, sent by the pool, else :meth:`Engine.stop_watching`); it returns at once.
CancelStep = Callable[["Engine", Job], CancelHandle]
#: Record fields a job's end carries into the ledger, when the job has them.
_END_FIELDS = ("error", "error_code", "path", "sha256", "usage_tokens", "cost_usd", "cancel_outcome")


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
        canceller: CancelStep | None = None,
    ) -> None:
        self._canceller = canceller
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
        #: Cancels on their way to the provider, by local id (see cancelling.py; under the lock).
        self.cancels: dict[str, CancelHandle] = {}
        #: Our jobs' places in the provider's queue (Ark's per-account limit; see limits.py).
        self.queue_limit = QueueLimit()
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
        # Polls are paced by what the current client's replies say is left (engine/pacing.py).
        self.scheduler.pacer.source = lambda: getattr(self._clients.made, "rate_info", None)

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
            records, self.view.offset = ledger.iter_from(self.view.offset)  # parsed as folded
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
        record = {k: v for k, v in fields.items() if k in _END_FIELDS}
        event = {
            JobState.FAILED: "failed",
            JobState.CANCELLED: "cancelled",
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
        wire = protocol_named(self.protocol_of(tracked))
        if not wire.FINDS_BY_BUSINESS_ID:
            # No task can be found by an id of ours (Ark): the account's task list is where it is.
            sent = tracked.sent_at or tracked.job.snapshot().submitted_at
            when = f" (sent at {time.strftime('%H:%M:%S', time.localtime(sent))})" if sent else ""
            text = (
                f"{message}. Nothing will be sent again without your word: {wire.LABEL} cannot look the "
                f"task up by an id of ours, so list this account's recent tasks with %seedance tasks (or "
                f"seedance_widgets.remote_tasks()) and attach the one made for this prompt{when} "
                "(remote_tasks().attach(i) or attach('cgt-...')); if none is there, "
                "manager.resubmit(job, confirm=True) pays for a new task."
            )
        else:
            text = (
                f"{message}. Nothing will be sent again without your word: check the gateway, then "
                "manager.resubmit(job, confirm=True) to pay for a new task, or attach(task_id) if you "
                "find it."
            )
        self.finish(tracked, JobState.MAY_EXIST, error=text, error_code="may_exist")

    def protocol_of(self, tracked: Tracked) -> str | None:
        """The provider of the job's task: its client's, else what the ledger said."""
        if tracked.client is not None:
            return provider_of(tracked.client)
        return tracked.protocol

    def settle_cost(self, tracked: Tracked, cost_usd: float | None) -> None:
        """The task's real cost is known: the budget counts it instead of the estimate."""
        if cost_usd is None:
            return
        with self.lock:
            reserved, tracked.reserved_usd = tracked.reserved_usd, cost_usd
        self.budget.release(reserved)
        self.budget.reserve(cost_usd, checked=False)

    def release(self, tracked: Tracked | None) -> None:
        """Give back a job's budget reservation (nothing was created)."""
        if tracked is None:
            return
        with self.lock:
            amount, tracked.reserved_usd = tracked.reserved_usd, 0.0
        self.budget.release(amount)

    def cancel(self, job: Job) -> CancelHandle:
        """Cancel ``job`` without waiting for the network: at the provider when it can (Ark, a
        queued task; the pool sends it), else stop watching. The handle says when it is decided."""
        if self._canceller is not None:
            return self._canceller(self, job)
        self.stop_watching(job)
        return CancelHandle(job)

    def stop_watching(self, job: Job) -> None:
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
        snap = job._update(
            when=NOT_SENT, state=JobState.CANCELLED, error=_UNSENT_CANCEL, cancel_outcome="not_sent", **ended
        )
        if snap is not None:
            self.release(tracked)
        else:
            refused = tracked is not None and tracked.cancel_note is not None
            message = RUNNING_CANCEL_MESSAGE if refused else CANCEL_MESSAGE
            snap = job._update(
                when=IN_PROGRESS,
                state=JobState.CANCELLED,
                error=message,
                cancel_outcome="stopped_watching",
                **ended,
            )
            if snap is None:
                return  # already ended
        self.record(
            "cancelled",
            job=snap.local_id,
            task_id=snap.task_id,
            state=JobState.CANCELLED,
            error=snap.error,
            cancel_outcome=snap.cancel_outcome,
        )

    # ---- what a job at work shows ----------------------------------------------------------------
    def live_notice(self, local_id: str, *, rate_limit: bool = True) -> dict[str, Any]:
        """The ``error``/``error_code`` a job at work (or just done) shows: a problem the engine
        works around, such as its records waiting for the ledger, or the account's rate limit."""
        tracked = self.tracked.get(local_id)
        if tracked is not None and self.journal.is_waiting(local_id):
            return {"error": self.journal.warning(tracked.job.snapshot()), "error_code": LEDGER_WRITE_FAILED}
        if local_id in self.cancels:
            # Said until the provider answers, so a poll meanwhile does not hide the pending cancel.
            return {"error": CANCELLING_NOTE, "error_code": CANCELLING_CODE}
        if rate_limit and self.scheduler.rate_limited:
            return {"error": self.scheduler.rate_limit_text(), "error_code": RATE_LIMITED}
        if tracked is not None and tracked.queue_note is not None:
            return {"error": tracked.queue_note, "error_code": WAITING_FOR_QUEUE}
        refused = tracked is not None and tracked.cancel_note is not None
        if refused and tracked is not None and tracked.job.snapshot().state in POLLED_STATES:
            return {"error": tracked.cancel_note, "error_code": NOT_CANCELLABLE}
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
                job._update(when=IN_PROGRESS, **self.live_notice(job.local_id, rate_limit=False))

    def deadline_for(self, tracked: Tracked) -> float:
        """How long (gateway seconds) the job's task is watched: the deadline, plus a flex task's
        queue window (it may wait that long at the provider before it runs)."""
        request = tracked.job.request
        if is_flex(request):
            assert request is not None
            return self.settings.deadline_s + flex_window(request)
        return self.settings.deadline_s

    def past_deadline(self) -> tuple[list[str], float | None]:
        """Polled jobs past their deadline, and seconds until the next one's (caller holds the lock)."""
        now = self.clock.time()
        overdue: list[str] = []
        soonest: float | None = None
        for local_id, tracked in self.tracked.items():
            if tracked.job.snapshot().state not in POLLED_STATES:
                continue
            left = tracked.watch_since + self.settings.ours(self.deadline_for(tracked)) - now
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
