"""``JobManager``: submits, watches and saves every job of one output folder.

A facade over the engine's rooms (core.py lists them). Its threads are daemons; an ``atexit``
hook stops them and closes the ledger between two whole records. Money safety: see creating.py.
"""

from __future__ import annotations

import atexit
import os
import uuid
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from seedance_widgets.api import GenerationRequest, SeedanceError, request_estimate_usd

from . import adoption, cache, cancelling, limits, submitting, transfers, watching
from .budget import Budget
from .clock import Clock, SystemClock
from .core import ClientFactory, Engine
from .environment import environment_client
from .errors import OutputFolderError
from .images import prepare_images, split_inputs, stored_inputs, without_inputs
from .job import CancelHandle, Job
from .policy import AdaptivePolicy, PollPolicy
from .providers import check_request
from .scheduler import MAX_WORKERS
from .settings import Settings
from .state import DryRun
from .store import Store
from .tracked import ImageInput

if TYPE_CHECKING:
    from seedance_widgets.api import SeedanceClient

DEFAULT_DEADLINE_S = 15 * 60.0
_live_managers: weakref.WeakSet[JobManager] = weakref.WeakSet()


class JobManager:
    """Runs jobs in the background for one output folder.

    ``time_scale`` divides every wait (policy, back-off, deadline): pass an emulator's speed factor
    to see the real gateway's behaviour, only faster. ``client`` (or ``client_factory``, called on first
    need) is the gateway client of new jobs; without either, the environment decides (a key: the
    gateway; else the built-in emulator). ``clock`` is for tests (``clock.ManualClock``).
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
        client_factory: ClientFactory | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not 1 <= max_workers <= MAX_WORKERS:
            raise ValueError(f"max_workers must be 1 to {MAX_WORKERS}")
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.store = Store(output_dir)
        #: Why this output folder cannot be written (None: it can). Such a manager still serves
        #: saved videos and the ledger's history, but refuses new generations before any call.
        self.read_only: str | None = _cannot_write(self.store.ensure)
        self._settings = Settings(poll_policy or AdaptivePolicy(), deadline_s, time_scale)
        self._budget = Budget(budget_usd)
        #: Held while this manager lives: another process sharing the folder sees this owner is
        #: alive and leaves its unfinished jobs alone (the OS drops the lock if we are killed).
        self.owner_id = uuid.uuid4().hex[:12]
        self._core = Engine(
            store=self.store,
            settings=self._settings,
            budget=self._budget,
            clock=clock or SystemClock(),
            owner_id=self.owner_id,
            client=client,
            client_factory=client_factory or environment_client,
            hooks=watching.Watcher,
            max_workers=max_workers,
            max_concurrent_creates=max_concurrent_creates,
            canceller=cancelling.cancel,
        )
        self._owner_lock = -1
        if self.read_only is None:
            self.read_only = _cannot_write(self._hold_owner_lock)
        self.read_only = self.read_only or self.store.unwritable_reason()
        _live_managers.add(self)
        if self.read_only is None:
            # Before any job is adopted: no download of ours can be writing these yet.
            transfers.remove_stale_temp_files(self._core)
        if resume and (self.read_only is None or self.store.ledger.path.exists()):
            adoption.restore_all(self._core)

    def _hold_owner_lock(self) -> None:
        self._owner_lock = self.store.hold_owner_lock(self.owner_id)

    # ---- settings (each settable at any time) -----------------------------------------------
    @property
    def poll_policy(self) -> PollPolicy:
        return self._settings.poll_policy

    @poll_policy.setter
    def poll_policy(self, value: PollPolicy) -> None:
        self._settings.poll_policy = value

    @property
    def deadline_s(self) -> float:
        return self._settings.deadline_s

    @deadline_s.setter
    def deadline_s(self, value: float) -> None:
        self._settings.deadline_s = value

    @property
    def time_scale(self) -> float:
        return self._settings.time_scale

    @time_scale.setter
    def time_scale(self, value: float) -> None:
        self._settings.time_scale = value

    @property
    def time_scale_from_backend(self) -> bool:
        """When True, ``time_scale`` follows the built-in emulator's speed once it is started."""
        return self._settings.time_scale_from_backend

    @time_scale_from_backend.setter
    def time_scale_from_backend(self, value: bool) -> None:
        self._settings.time_scale_from_backend = value

    @property
    def ark_max_queued(self) -> int:
        """At most this many of this manager's jobs are queued at Ark at once (default 120, Ark's
        per-account limit); the others wait their turn before their create is sent, and say so."""
        return self._settings.ark_max_queued

    @ark_max_queued.setter
    def ark_max_queued(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"ark_max_queued must be a whole number of at least 1, not {value!r}")
        self._settings.ark_max_queued = value
        limits.admit_waiting(self._core)  # a higher limit lets waiting jobs go now

    @property
    def budget_usd(self) -> float | None:
        """Session budget in USD (estimates); None = no limit."""
        return self._budget.limit_usd

    @budget_usd.setter
    def budget_usd(self, value: float | None) -> None:
        self._budget.limit_usd = value

    @property
    def client(self) -> SeedanceClient:
        """The gateway client of new jobs, made on first use."""
        return self._core.client

    def use_client(self, client: SeedanceClient | None) -> None:
        """Send NEW jobs through ``client`` (None: resolve the backend again on next need).
        Jobs already started keep the client they started with."""
        self._core.use_client(client)

    @property
    def client_from_environment(self) -> bool:
        """True when this manager resolves its client from the environment (no client was given)."""
        return self._core.client_from_environment

    @property
    def closed(self) -> bool:
        """True once :meth:`shutdown` has begun: the manager takes no new work."""
        return self._core.stopping

    @property
    def spent_usd(self) -> float:
        """USD committed by creates this session: each task's real cost once its provider reported
        it (Ark's token usage), else its estimate."""
        return round(self._budget.reserved_usd, 4)

    def __repr__(self) -> str:
        snaps = [job.snapshot() for job in self.jobs()]
        live = sum(1 for s in snaps if not s.is_final)
        budget = "no budget" if self.budget_usd is None else f"budget ${self.budget_usd:.2f}"
        return (
            f"<JobManager {str(self.store.root)!r}: {len(snaps)} jobs, {live} live, "
            f"~${self._budget.reserved_usd:.2f} estimated this session, {budget}>"
        )

    # ---- jobs ------------------------------------------------------------------------------
    def jobs(self) -> list[Job]:
        """Every job this manager knows, oldest first (including ones read from the ledger)."""
        adoption.adopt_deferred(self._core)
        with self._core.lock:
            return [t.job for t in self._core.tracked.values()]

    def get(self, local_id: str) -> Job | None:
        adoption.adopt_deferred(self._core, [local_id])
        with self._core.lock:
            return self._core.job(local_id)

    def submit(
        self,
        request: GenerationRequest,
        *,
        images: Sequence[ImageInput] = (),
        media: Sequence[ImageInput] = (),
        rerun: bool = False,
        dry_run: bool = False,
    ) -> Job | DryRun:
        """Queue ``request`` (plus local or remote ``images`` and ``media`` with roles) and return
        at once.

        ``images``: (role, source) with roles first_frame, last_frame, reference_image; ``media``:
        (``"reference_video"``, URL, path or bytes) and (``"reference_audio"``, URL: the gateway
        has no audio upload). Local files are checked (type from content, size, length) before
        anything is sent, and uploaded once per content. A finished identical request returns its
        file with no HTTP request (``from_cache=True``); one in flight returns the same job;
        ``rerun=True`` always makes a new, paid task. ``dry_run=True`` returns a :class:`DryRun`
        and calls nothing. Under a budget, a request with no known price is refused (nothing sent).
        """
        if not isinstance(request, GenerationRequest):
            raise TypeError("submit() takes a GenerationRequest")
        prepared = prepare_images(request, images, media)
        request_hash = cache.request_hash(request, prepared)
        estimate = request_estimate_usd(request)
        if dry_run:
            return cache.dry_run(self._core, request, prepared, request_hash, estimate)
        if self.closed:
            raise SeedanceError("this JobManager has been shut down; make a new one")
        if self.read_only is not None and not self.store.ledger.path.exists():
            self._check_writable()  # a read-only folder without a ledger has nothing saved to serve
        if rerun or not cache.has_saved(self._core, request_hash):
            self._check_writable()  # a read-only folder serves saved videos only: refused here
            # HTTP may follow: make the client here, so a backend that cannot start (no key and
            # no emulator) fails in the caller's thread with its own message; and what the
            # provider cannot take is refused here, before anything is recorded or sent.
            check_request(self.client, request, [i.role for i in prepared if i.data is not None])
        return submitting.submit(
            self._core, request, prepared, request_hash=request_hash, estimate=estimate, rerun=rerun
        )

    def is_cached(
        self, request: GenerationRequest, images: Sequence[ImageInput] = (), media: Sequence[ImageInput] = ()
    ) -> bool:
        """Whether ``submit(request, images=images)`` (without ``rerun``) would return a finished,
        saved video at once: zero HTTP requests, nothing billed.

        False when an identical job is still in flight (submit returns that job, or follows
        another manager's), when the saved file is gone or altered, when there is no such job,
        and once the manager is shut down. A video saved by another manager of the same
        folder counts. Sends nothing; local images are read and hashed, not uploaded.
        """
        if not isinstance(request, GenerationRequest):
            raise TypeError("is_cached() takes a GenerationRequest")
        if self.closed:
            return False
        prepared = prepare_images(request, images, media)
        return cache.has_saved(self._core, cache.request_hash(request, prepared))

    def check_budget(
        self,
        requests: Sequence[GenerationRequest],
        images: Sequence[ImageInput] = (),
        *,
        media: Sequence[ImageInput] = (),
        rerun: bool = False,
        name: str = "batch",
        outcome: str = "Nothing was sent",
    ) -> None:
        """Refuse a whole batch (a sweep, a grid) before any of it is sent when its estimate would
        pass the budget (BudgetExceededError, the same check and words as one ``submit``).
        Requests whose video is saved are free unless ``rerun``; one in flight is counted."""
        prepared = prepare_images(requests[0], images, media) if requests else []
        cache.check_batch(self._core, requests, prepared, rerun=rerun, name=name, outcome=outcome)

    def attach(
        self, task_id: str, *, created_at: float | None = None, request: GenerationRequest | None = None
    ) -> Job:
        """Watch an existing task by id (e.g. one that timed out, or from another machine).

        A task this manager knows is resumed. For a new one, ``created_at`` (unix time of
        its creation, when known) starts the poll policy's clock there, so the first poll
        follows the policy instead of happening at once; ``request`` labels the job.
        """
        if not isinstance(task_id, str) or not task_id.strip():
            raise ValueError("attach() takes a task id such as 'task_vid_...'")
        _ = self.client  # polls follow: make the client now (see submit)
        adoption.adopt_deferred(self._core)  # a task the ledger knows is resumed, not attached twice
        return watching.attach(self._core, task_id.strip(), created_at=created_at, request=request)

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
        with self._core.lock:
            tracked = self._core.tracked.get(snap.local_id)
        inputs = stored_inputs(self.store, tracked.images if tracked else [])
        request = without_inputs(snap.request, {role for role, _ in inputs})
        images, media = split_inputs(inputs)
        new = self.submit(request, images=images, media=media, rerun=True)
        assert isinstance(new, Job)
        return new

    def cancel(self, job: Job) -> CancelHandle:
        """Cancel ``job`` without waiting for the network: on Ark a queued task is cancelled there
        by the engine's workers (not billed) and a running one keeps being watched (a second
        cancel stops watching); on ToAPIs, which has no cancel, the job stops being watched.
        ``job.snapshot().cancel_outcome`` says which happened (``"cancelling"`` until Ark answers);
        the returned handle's ``wait(timeout)`` waits for it."""
        return self._core.cancel(job)

    def _check_writable(self) -> None:
        """Refuse a new generation on a folder that cannot be written (before any paid call)."""
        if self.read_only is not None:
            raise OutputFolderError(
                f"the output folder {self.store.root} cannot be written ({self.read_only}): saved videos "
                "and history are served from it, but a new generation is refused before anything is "
                "sent (its ledger record could not be kept). Make the folder writable, or pass another "
                "output_dir."
            )

    # ---- lifetime ------------------------------------------------------------------------------
    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the threads (waiting up to ``timeout`` s in total) and close the ledger."""
        if self.closed and not self._core.scheduler.alive:
            return
        self._core.scheduler.stop(timeout)
        self._core.journal.last_flush()
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


def _cannot_write(step: Callable[[], object]) -> str | None:
    """Run a step that needs the folder writable; why it failed, or None."""
    try:
        step()
    except OSError as err:
        return f"{err.strerror or err}"
    return None


@atexit.register
def _shutdown_all() -> None:
    for manager in list(_live_managers):
        manager.shutdown(timeout=2.0)
