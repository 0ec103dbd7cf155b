"""The Ark side's memory: its tasks, their statuses, cancel and delete, the queue limit, counters.

Ark tasks share the gateway side's timeline, seeds and render pool (``EmulatorState.new_record``),
but a task's render starts only when it leaves the queue, so a task cancelled while queued is
never rendered and never billed. Statuses and fields follow Ark's ``ContentGenerationTask``
(volcengine-python-sdk, ``volcenginesdkarkruntime/types/content_generation/
content_generation_task.py``): queued, running, succeeded, failed, cancelled, expired.

Choices of the emulator where Ark's pages are silent: ``usage`` is shown only once a task is
final (0 tokens unless it succeeded); an ``expired`` task is one still queued when its
``execution_expires_after`` passed (on the emulator's clock: divided by ``speed``).
"""

from __future__ import annotations

import dataclasses
import secrets
import string
import threading
import time
from collections import Counter
from typing import Any

from seedance_widgets.api import COMPLETED, FAILED, GenerationRequest

from .state import EmulatorState, TaskRecord

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
ARK_FAILED = "failed"
CANCELLED = "cancelled"
EXPIRED = "expired"
ARK_STATUSES = (QUEUED, RUNNING, SUCCEEDED, ARK_FAILED, CANCELLED, EXPIRED)
#: ``execution_expires_after`` when a body has none: 48 h (the emulator's choice, inside Ark's
#: 3600-259200 s range; Ark's pages do not state its default).
DEFAULT_EXPIRES_AFTER = 172_800
#: Without ``ark_queue_seconds``, a flex task waits this many times the profile's queue.
FLEX_QUEUE_FACTOR = 3.0
_ID_CHARS = string.ascii_lowercase + string.digits


def completion_tokens(width: int, height: int, fps: int, seconds: int) -> int:
    """Ark's bill for a clip: width x height x fps x seconds / 1024 tokens (the digest's rule).

    Ark's own sample reply (1280x720, 24 fps, 5 s: 108900 tokens) counts one frame more
    (121 = 24 x 5 + 1); the emulator keeps the project's rule so estimates and bills agree.
    """
    return round(width * height * fps * seconds / 1024)


@dataclasses.dataclass
class ArkTask:
    """One Ark task: the shared record plus what only Ark has."""

    record: TaskRecord
    model: str  # the Ark model id as sent (with its date)
    region: str
    service_tier: str
    expires_after: int  # execution_expires_after as sent (seconds)
    expires_in: float  # the same on the emulator's clock (divided by speed)
    fps: int
    cancelled_mono: float | None = None
    timer: Any = None  # the event loop's handle that starts the render at the end of the queue

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def queue_end(self) -> float:
        return self.record.created_mono + self.record.timeline.queue_seconds

    @property
    def expires_mono(self) -> float:
        return self.record.created_mono + self.expires_in

    @property
    def never_runs(self) -> bool:
        """Its queue outlasts its execution window: it expires instead of running."""
        return self.record.timeline.queue_seconds >= self.expires_in


class QueueFull(Exception):
    """The account already holds ``ark_max_queued`` queued tasks."""


class NotCancellable(Exception):
    """DELETE of a task that is running (or already cancelled)."""

    def __init__(self, status: str) -> None:
        self.status = status
        super().__init__(status)


class ArkBook:
    """Ark tasks by id; shared by the event loop thread and ``Emulator`` (stats) under one lock."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.tasks: dict[str, ArkTask] = {}
        self._lock = threading.RLock()
        self.counts: Counter[str] = Counter()
        #: Tokens of succeeded tasks whose records were deleted: deleting a record is not a refund.
        self._deleted_tokens = 0
        state.extra_stats.append(self.stats)
        state.extra_resets.append(self.counts.clear)

    # ---- statuses ---------------------------------------------------------------------------
    def status(self, task: ArkTask, now: float | None = None) -> tuple[str, float]:
        """(Ark status, monotonic time it began) at ``now``."""
        now = time.monotonic() if now is None else now
        record = task.record
        if task.cancelled_mono is not None:
            return CANCELLED, task.cancelled_mono
        if task.never_runs and now >= task.expires_mono:
            return EXPIRED, task.expires_mono
        if now < task.queue_end:
            return QUEUED, record.created_mono
        self.start_render(task)
        status, _, done = record.snapshot(now)
        if status == COMPLETED and done is not None:
            return SUCCEEDED, done
        if status == FAILED:
            return ARK_FAILED, min(now, record.created_mono + record.timeline.total_seconds)
        return RUNNING, task.queue_end

    def tokens(self, task: ArkTask, status: str) -> int:
        """``usage.completion_tokens``: the clip's tokens once it succeeded, else 0 (never billed)."""
        shape = task.record.shape
        if status != SUCCEEDED or shape is None:
            return 0
        return completion_tokens(shape.width, shape.height, task.fps, shape.duration)

    def start_render(self, task: ArkTask) -> None:
        """Start the clip's render once the task has left the queue (idempotent; never for a
        cancelled, expired or failing task)."""
        record = task.record
        with self._lock:
            if record.render is not None or record.failure is not None or task.cancelled_mono is not None:
                return
            if task.never_runs or time.monotonic() < task.queue_end:
                return
            state = self.state
            record.render = state.renders.submit(state.render_spec(record.request, record.seed, record.shape))

    def start_render_by_id(self, task_id: str) -> None:
        task = self.tasks.get(task_id)
        if task is not None:
            self.start_render(task)

    # ---- create, cancel, delete ---------------------------------------------------------------
    def create(
        self,
        request: GenerationRequest,
        *,
        model: str,
        region: str,
        expires_after: int,
        fps: int,
    ) -> ArkTask:
        """A new queued task (``QueueFull`` when the account's queue is full; nothing is made then)."""
        config = self.state.config
        with self._lock:
            if self.queued_count() >= config.ark_max_queued:
                raise QueueFull()
            record = self.state.new_record(request, self._new_id(), render=False)
            queue = self._queue_seconds(record, request)
            record.timeline = dataclasses.replace(record.timeline, queue_seconds=queue)
            task = ArkTask(
                record=record,
                model=model,
                region=region,
                service_tier=request.service_tier,
                expires_after=expires_after,
                expires_in=expires_after / config.speed,
                fps=fps,
            )
            self.tasks[task.id] = task
            self.state.other_tasks[task.id] = record
            self.counts["ark_creates"] += 1
        return task

    def _queue_seconds(self, record: TaskRecord, request: GenerationRequest) -> float:
        config = self.state.config
        if config.ark_queue_seconds is not None:
            return config.ark_queue_seconds / config.speed
        factor = FLEX_QUEUE_FACTOR if request.service_tier == "flex" else 1.0
        return record.timeline.queue_seconds * factor

    def _new_id(self) -> str:
        """An id shaped like Ark's (``cgt-20250331175019-68d9t``), unique in this run."""
        while True:
            stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
            task_id = f"cgt-{stamp}-" + "".join(secrets.choice(_ID_CHARS) for _ in range(5))
            if task_id not in self.tasks:
                return task_id

    def delete(self, task_id: str) -> str | None:
        """DELETE: a queued task becomes cancelled (returns "cancelled"); a finished one is forgotten
        ("deleted"); unknown -> None; running or already cancelled -> ``NotCancellable``."""
        with self._lock:
            task = self.tasks.get(task_id)
            if task is None:
                return None
            status, _ = self.status(task)
            if status == QUEUED:
                task.cancelled_mono = time.monotonic()
                if task.timer is not None:
                    task.timer.cancel()
                self.counts["ark_cancels"] += 1
                return CANCELLED
            if status in (RUNNING, CANCELLED):
                raise NotCancellable(status)
            self._deleted_tokens += self.tokens(task, status)
            del self.tasks[task_id]  # its video URL stays valid until it expires, as Ark's does
            return "deleted"

    # ---- reading ----------------------------------------------------------------------------
    def get(self, task_id: str) -> ArkTask | None:
        return self.tasks.get(task_id)

    def listing(self) -> list[ArkTask]:
        """Every task, newest first."""
        with self._lock:
            tasks = list(self.tasks.values())
        return sorted(tasks, key=lambda t: t.record.number, reverse=True)

    def queued_count(self) -> int:
        now = time.monotonic()
        with self._lock:
            return sum(1 for task in self.tasks.values() if self.status(task, now)[0] == QUEUED)

    def stats(self) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            tasks = list(self.tasks.values())
            counts = dict(self.counts)
            billed = self._deleted_tokens
        queued = 0
        for task in tasks:
            status, _ = self.status(task, now)
            billed += self.tokens(task, status)
            queued += status == QUEUED
        return {
            "ark_creates": counts.get("ark_creates", 0),
            "ark_cancels": counts.get("ark_cancels", 0),
            "ark_billed_tokens": billed,
            "ark_queued": queued,
            "ark_tasks": len(tasks),
        }
