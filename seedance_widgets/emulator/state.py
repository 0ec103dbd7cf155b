"""What one emulator run remembers: settings, tasks, uploads, counters and renders."""

from __future__ import annotations

import dataclasses
import random
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from seedance_widgets.api import COMPLETED, FAILED, IN_PROGRESS, MAX_SEED, GenerationRequest

from .config import KINDS, EmulatorConfig
from .faults import FaultPlan
from .render import FrameImage, RenderSpec
from .renderer import RenderJob, RenderPool
from .timeline import Timeline, make_timeline

UPLOAD_PREFIX = "/files/uploads/"
VIDEO_PREFIX = "/files/videos/"


@dataclasses.dataclass
class TaskRecord:
    """One task: its request, its schedule and its render."""

    id: str
    number: int
    request: GenerationRequest
    seed: int
    created_wall: float
    created_mono: float
    timeline: Timeline
    failure: str | None  # why it will fail (None: it completes)
    render: RenderJob | None

    def snapshot(self, now_mono: float) -> tuple[str, int, float | None]:
        """(status, progress, completion time on the monotonic clock or None)."""
        status, progress = self.timeline.state_at(now_mono - self.created_mono)
        if status == FAILED:
            return status, progress, None
        if status == COMPLETED:
            job = self.render
            if job is None or job.failed:
                return FAILED, 99, None
            if not job.ready or job.done_at is None:
                return IN_PROGRESS, 99, None  # the schedule is over; the encode is not
            scheduled = self.created_mono + self.timeline.total_seconds
            return COMPLETED, 100, max(scheduled, job.done_at)
        return status, progress, None


@dataclasses.dataclass
class UploadRecord:
    id: str
    name: str
    mime: str
    size: int
    path: Path


class EmulatorState:
    """Shared by the HTTP handlers (event loop thread) and ``Emulator`` (caller's thread)."""

    def __init__(self, config: EmulatorConfig, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        (workdir / "uploads").mkdir(parents=True, exist_ok=True)
        (workdir / "renders").mkdir(parents=True, exist_ok=True)
        self.faults = FaultPlan(config.fault_seed)
        self.renders = RenderPool(workdir / "renders", config.max_concurrent_renders)
        self.base_url = ""
        self._lock = threading.Lock()
        self.tasks: dict[str, TaskRecord] = {}
        self.uploads: dict[str, UploadRecord] = {}
        self._task_count = 0
        self.requests: Counter[str] = Counter()
        self.fault_counts: Counter[str] = Counter()
        self.responses: Counter[str] = Counter()

    # ---- settings ---------------------------------------------------------------------
    def configure(self, **changes: Any) -> EmulatorConfig:
        with self.faults.lock:
            new = self.config.replace(**changes)
            if "fault_seed" in changes:
                self.faults.reseed(new.fault_seed)
            if "max_concurrent_renders" in changes:
                self.renders.set_limit(new.max_concurrent_renders)
            self.config = new
        return new

    def fail_next(self, kind: str, fault: str, count: int = 1) -> None:
        with self.faults.lock:
            queued = {k: list(v) for k, v in self.config.fail_next.items()}
            queued.setdefault(kind, []).extend([fault] * count)
            self.configure(fail_next=queued)

    def draw_fault(self, kind: str) -> str | None:
        """The fault for this request, from the settings in force right now."""
        with self.faults.lock:
            return self.faults.draw(kind, self.config)

    # ---- counters -----------------------------------------------------------------------
    def count_request(self, kind: str) -> None:
        with self._lock:
            self.requests[kind] += 1

    def count_fault(self, fault: str) -> None:
        with self._lock:
            self.fault_counts[fault] += 1

    def count_response(self, status: int) -> None:
        with self._lock:
            self.responses[str(status)] += 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = {kind: self.requests[kind] for kind in (*KINDS, "control", "other")}
            out["tasks"] = len(self.tasks)
            out["uploads"] = len(self.uploads)
            out["faults"] = dict(self.fault_counts)
            out["responses"] = dict(self.responses)
        pool = self.renders
        out.update(
            renders=pool.renders,
            render_cache_hits=pool.cache_hits,
            active_renders=pool.active,
            max_active_renders=pool.max_active,
        )
        return out

    def reset_stats(self) -> None:
        """Zero every counter (tasks and uploads are kept) and restart the fault streams."""
        with self._lock:
            self.requests.clear()
            self.fault_counts.clear()
            self.responses.clear()
        self.renders.reset_counts()
        self.faults.reseed(self.config.fault_seed)

    # ---- tasks ----------------------------------------------------------------------------
    def create_task(self, request: GenerationRequest) -> TaskRecord:
        config = self.config
        with self._lock:
            self._task_count += 1
            number = self._task_count
        # One random stream per task number: the same fault_seed replays the same tasks.
        rng = random.Random(f"task:{config.fault_seed}:{number}")
        seed = request.seed if request.seed is not None and request.seed >= 0 else rng.randint(0, MAX_SEED)
        failure = None
        prompt = request.prompt.lower()
        if config.fail_word and config.fail_word.lower() in prompt:
            failure = "Generation failed: the model could not render this prompt (emulated failure)"
        elif rng.random() < config.task_fail_rate:
            failure = "Generation failed: internal model error (emulated random failure)"
        timeline = make_timeline(config.profile, rng, config.speed, fails=failure is not None)
        render = None if failure else self.renders.submit(self.render_spec(request, seed))
        record = TaskRecord(
            id=f"task_vid_{uuid.uuid4().hex[:20]}",
            number=number,
            request=request,
            seed=seed,
            created_wall=time.time(),
            created_mono=time.monotonic(),
            timeline=timeline,
            failure=failure,
            render=render,
        )
        with self._lock:
            self.tasks[record.id] = record
        return record

    def render_spec(self, request: GenerationRequest, seed: int) -> RenderSpec:
        width, height = request.size
        first = last = None
        refs: list[FrameImage] = []
        for item in request.roles:
            image = self.frame_image(item.url)
            if item.role == "first_frame":
                first = image
            elif item.role == "last_frame":
                last = image
            else:
                refs.append(image)
        return RenderSpec(
            prompt=request.prompt,
            width=width,
            height=height,
            duration=request.duration,
            audio=request.audio,
            seed=seed,
            camera_fixed=request.camera_fixed,
            first_frame=first,
            last_frame=last,
            references=tuple(refs),
            preset=self.config.x264_preset,
        )

    def frame_image(self, url: str) -> FrameImage:
        """Our own upload's bytes, or a placeholder: the emulator never fetches anything."""
        parsed = urlparse(url)
        ours = urlparse(self.base_url)
        if parsed.port == ours.port and parsed.path.startswith(UPLOAD_PREFIX):
            record = self.uploads.get(parsed.path[len(UPLOAD_PREFIX) :])
            if record is not None:
                return FrameImage(record.path.read_bytes(), url)
        return FrameImage(None, url)

    def task_json(self, record: TaskRecord) -> dict[str, Any]:
        """The task as the gateway's create and poll replies show it."""
        status, progress, done_mono = record.snapshot(time.monotonic())
        request = record.request
        body: dict[str, Any] = {
            "id": record.id,
            "object": "generation.task",
            "model": request.model,
            "status": status,
            "progress": progress,
            "created_at": int(record.created_wall),
            "metadata": {
                "seed": record.seed,
                "resolution": request.resolution,
                "aspect_ratio": request.aspect_ratio,
                "duration": request.duration,
                "audio": request.audio,
            },
        }
        if status == COMPLETED and done_mono is not None:
            completed = record.created_wall + (done_mono - record.created_mono)
            body["completed_at"] = int(completed)
            body["expires_at"] = int(completed + self.config.expiry_seconds)
            body["result"] = {
                "type": "video",
                "data": [{"url": f"{self.base_url}{VIDEO_PREFIX}{record.id}.mp4", "format": "mp4"}],
            }
        elif status == FAILED:
            message = record.failure or "Generation failed: the render crashed (emulator error)"
            body["error"] = {"code": "generation_failed", "message": message}
        return body

    def video_state(self, task_id: str) -> tuple[str, Path | None]:
        """("ok", path) | ("expired", None) | ("missing", None) for a task's video URL."""
        record = self.tasks.get(task_id)
        if record is None:
            return "missing", None
        status, _, done_mono = record.snapshot(time.monotonic())
        if status != COMPLETED or done_mono is None or record.render is None:
            return "missing", None
        completed = record.created_wall + (done_mono - record.created_mono)
        if time.time() >= completed + self.config.expiry_seconds:
            return "expired", None
        return "ok", record.render.path

    # ---- uploads --------------------------------------------------------------------------
    def add_upload(self, data: bytes, mime: str) -> UploadRecord:
        ext = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}[mime]
        upload_id = "upload_" + uuid.uuid4().hex[:8]
        name = f"{int(time.time())}_{upload_id[7:]}.{ext}"
        path = self.workdir / "uploads" / name
        path.write_bytes(data)
        record = UploadRecord(id=upload_id, name=name, mime=mime, size=len(data), path=path)
        with self._lock:
            self.uploads[name] = record
        return record

    def shutdown(self) -> None:
        self.renders.shutdown()
