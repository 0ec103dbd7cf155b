"""A small pool that renders clips off the event loop, once per distinct clip (the MP4 writer
itself is :mod:`.mp4`).

Renders are cached by ``RenderSpec.cache_key()``: identical requests with the same seed
share one file (and one render, even when they arrive at the same time). Each render also
saves the clip's last frame as a PNG beside it, for tasks that ask for it.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from .mp4 import RenderSpec, render_mp4

#: Threads kept for renders; the live limit (``max_concurrent_renders``) is enforced below it.
POOL_THREADS = 8


@dataclasses.dataclass
class RenderJob:
    """One clip being (or already) rendered."""

    key: str
    path: Path
    future: Future[Path]
    #: The clip's last frame as a PNG (written with the clip).
    frame_path: Path | None = None
    #: time.monotonic() when the file was ready (None until then).
    done_at: float | None = None
    seconds: float | None = None

    @property
    def ready(self) -> bool:
        return self.future.done() and self.future.exception() is None

    @property
    def failed(self) -> bool:
        return self.future.done() and self.future.exception() is not None


class RenderPool:
    """Renders into ``folder``; at most ``limit`` encodes run at once (changeable live)."""

    def __init__(self, folder: Path, limit: int) -> None:
        self.folder = folder
        self._executor = ThreadPoolExecutor(
            max_workers=POOL_THREADS, thread_name_prefix="seedance-emulator-render"
        )
        self._jobs: dict[str, RenderJob] = {}
        self._lock = threading.Lock()
        self._slots = threading.Condition()
        self._limit = limit
        self._closed = False
        self.active = 0
        self.max_active = 0
        self.renders = 0
        self.cache_hits = 0

    def set_limit(self, limit: int) -> None:
        with self._slots:
            self._limit = limit
            self._slots.notify_all()

    def submit(self, spec: RenderSpec) -> RenderJob:
        """The render of ``spec``, started now unless it exists or is already under way."""
        key = spec.cache_key()
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and not job.failed:
                self.cache_hits += 1
                return job
            path = self.folder / f"{key[:32]}.mp4"
            job = RenderJob(key=key, path=path, future=Future(), frame_path=path.with_suffix(".png"))
            # Submitted under the lock, so a concurrent identical request finds the real future.
            job.future = self._executor.submit(self._run, spec, job)
            self._jobs[key] = job
            self.renders += 1
        return job

    def _run(self, spec: RenderSpec, job: RenderJob) -> Path:
        with self._slots:
            while self.active >= self._limit and not self._closed:
                self._slots.wait()
            if self._closed:  # the emulator stopped while this render waited for a slot
                raise RuntimeError("the emulator stopped before this clip was rendered")
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        started = time.monotonic()
        try:
            render_mp4(spec, job.path, last_frame=job.frame_path)
        finally:
            with self._slots:
                self.active -= 1
                self._slots.notify()
        job.done_at = time.monotonic()
        job.seconds = job.done_at - started
        return job.path

    def reset_counts(self) -> None:
        with self._lock:
            self.renders = self.cache_hits = 0
        with self._slots:
            self.max_active = self.active

    def shutdown(self) -> None:
        with self._slots:
            self._closed = True
            self._slots.notify_all()
        self._executor.shutdown(wait=False, cancel_futures=True)
