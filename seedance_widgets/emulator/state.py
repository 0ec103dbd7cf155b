"""What one emulator run remembers: settings, tasks, uploads, counters and renders.

Choices where the gateway's behaviour is not documented (the emulator's, not facts):
``adaptive`` takes the fixed ratio nearest the first frame's shape, else 16:9; a length left to
the model (-1 / 0) becomes the model's default length (5 s); a size no page confirms is the
nominal size of ``api.sizes.NOMINAL_SIZES``; a ``client_business_id`` already used by a task
is refused with a 400 (so a second create for the same intent can never make a second task).
"""

from __future__ import annotations

import dataclasses
import io
import math
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import av
from PIL import Image

from seedance_widgets.api import COMPLETED, FAILED, IN_PROGRESS, MAX_SEED, GenerationRequest, catalog, sizes
from seedance_widgets.api.catalog import ADAPTIVE, SIX_RATIOS

from .config import KINDS, EmulatorConfig
from .faults import FaultPlan
from .mp4 import FrameImage, RenderSpec
from .render_pool import RenderJob, RenderPool
from .timeline import Timeline, make_timeline

UPLOAD_PREFIX = "/files/uploads/"
VIDEO_PREFIX = "/files/videos/"
FRAME_PREFIX = "/files/frames/"
#: File extensions of the upload types the emulator accepts.
UPLOAD_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
}


class BusinessIdTaken(ValueError):
    """A create reused a ``client_business_id`` that already names a task."""

    def __init__(self, business_id: str, task_id: str) -> None:
        self.business_id = business_id
        self.task_id = task_id
        super().__init__(f"client_business_id {business_id!r} is already used by task {task_id}")


@dataclasses.dataclass(frozen=True)
class ClipShape:
    """What a task really renders: the ratio (adaptive resolved), pixel size and length (auto resolved)."""

    ratio: str
    width: int
    height: int
    duration: int


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
    shape: ClipShape | None = None
    business_id: str | None = None

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
    #: A video upload's first frame as PNG bytes (made on first use, for reference thumbnails).
    still: bytes | None = None


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
        #: Task ids by the caller's client_business_id.
        self.by_business_id: dict[str, str] = {}
        self.uploads: dict[str, UploadRecord] = {}
        #: Tasks made through another protocol (Ark): their files are served like the gateway's.
        self.other_tasks: dict[str, TaskRecord] = {}
        #: More counters for stats() and reset_stats() (the Ark side adds its own).
        self.extra_stats: list[Callable[[], dict[str, Any]]] = []
        self.extra_resets: list[Callable[[], None]] = []
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
        for source in self.extra_stats:
            out.update(source())
        return out

    def reset_stats(self) -> None:
        """Zero every counter (tasks and uploads are kept) and restart the fault streams."""
        with self._lock:
            self.requests.clear()
            self.fault_counts.clear()
            self.responses.clear()
        self.renders.reset_counts()
        self.faults.reseed(self.config.fault_seed)
        for reset in self.extra_resets:
            reset()

    # ---- tasks ----------------------------------------------------------------------------
    def create_task(self, request: GenerationRequest, business_id: str | None = None) -> TaskRecord:
        """Make a task (``BusinessIdTaken`` when ``business_id`` already names one)."""
        with self._lock:
            if business_id is not None and business_id in self.by_business_id:
                raise BusinessIdTaken(business_id, self.by_business_id[business_id])
        record = self.new_record(request, f"task_vid_{uuid.uuid4().hex[:20]}", business_id=business_id)
        with self._lock:
            if business_id is not None and business_id in self.by_business_id:  # lost a race to a twin
                raise BusinessIdTaken(business_id, self.by_business_id[business_id])
            self.tasks[record.id] = record
            if business_id is not None:
                self.by_business_id[business_id] = record.id
        return record

    def new_record(
        self, request: GenerationRequest, task_id: str, *, business_id: str | None = None, render: bool = True
    ) -> TaskRecord:
        """A task's schedule, seed and (unless ``render`` is False) its render, not yet registered."""
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
        shape = self.clip_shape(request)
        wanted = render and failure is None
        job = self.renders.submit(self.render_spec(request, seed, shape)) if wanted else None
        return TaskRecord(
            id=task_id,
            number=number,
            request=request,
            seed=seed,
            created_wall=time.time(),
            created_mono=time.monotonic(),
            timeline=timeline,
            failure=failure,
            render=job,
            shape=shape,
            business_id=business_id,
        )

    def lookup(self, task_or_business_id: str) -> TaskRecord | None:
        """A task by its id, else by the client_business_id it was created with."""
        record = self.tasks.get(task_or_business_id)
        if record is None:
            task_id = self.by_business_id.get(task_or_business_id)
            record = self.tasks.get(task_id) if task_id else None
        return record

    def clip_shape(self, request: GenerationRequest) -> ClipShape:
        """Ratio, size and length of the clip a request renders (see the module docstring)."""
        spec = request.spec
        ratio = self.adaptive_ratio(request) if request.aspect_ratio == ADAPTIVE else request.aspect_ratio
        size = catalog.output_size(spec, request.resolution, ratio) or sizes.nominal_size(
            request.resolution, ratio
        )
        assert size is not None, request.resolution  # every catalogue resolution has a nominal table
        duration = request.duration if request.duration > 0 else spec.default_duration
        return ClipShape(ratio, size[0], size[1], duration)

    def adaptive_ratio(self, request: GenerationRequest) -> str:
        """The fixed ratio nearest the first frame's shape; 16:9 without a readable first frame."""
        first = next((r for r in request.roles if r.role == "first_frame"), None)
        data = self.frame_image(first.url).data if first else None
        if data is not None:
            try:
                with Image.open(io.BytesIO(data)) as img:
                    aspect = img.width / img.height
            except Exception:  # an unreadable image renders as a placeholder: 16:9 then
                return sizes.NOMINAL_RATIO
            return min(SIX_RATIOS, key=lambda r: abs(math.log(aspect / _ratio_value(r))))
        return sizes.NOMINAL_RATIO

    def render_spec(
        self, request: GenerationRequest, seed: int, shape: ClipShape | None = None
    ) -> RenderSpec:
        shape = shape or self.clip_shape(request)
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
        refs += [self.frame_image(m.url) for m in request.video_with_roles]
        refs += [FrameImage(None, "reference audio: " + m.url) for m in request.audio_with_roles]
        return RenderSpec(
            prompt=request.prompt,
            width=shape.width,
            height=shape.height,
            duration=shape.duration,
            audio=request.audio,
            seed=seed,
            camera_fixed=request.camera_fixed,
            first_frame=first,
            last_frame=last,
            references=tuple(refs),
            preset=self.config.x264_preset,
        )

    def frame_image(self, url: str) -> FrameImage:
        """Our own upload's picture (a video's first frame), or a placeholder: the emulator never
        fetches anything."""
        parsed = urlparse(url)
        ours = urlparse(self.base_url)
        if parsed.port == ours.port and parsed.path.startswith(UPLOAD_PREFIX):
            record = self.uploads.get(parsed.path[len(UPLOAD_PREFIX) :])
            if record is not None and record.mime.startswith("image/"):
                return FrameImage(record.path.read_bytes(), url)
            if record is not None:
                return FrameImage(self._still(record), url)
        return FrameImage(None, url)

    def _still(self, record: UploadRecord) -> bytes | None:
        """The first frame of an uploaded video as PNG bytes (None when it cannot be decoded)."""
        if record.still is None:
            try:
                with av.open(str(record.path)) as container:
                    frame = next(container.decode(video=0))
                    out = io.BytesIO()
                    frame.to_image().save(out, format="PNG")
                    record.still = out.getvalue()
            except Exception:  # not decodable: the reference shows as a placeholder
                return None
        return record.still

    def task_json(self, record: TaskRecord) -> dict[str, Any]:
        """The task as the gateway's create and poll replies show it."""
        status, progress, done_mono = record.snapshot(time.monotonic())
        request = record.request
        shape = record.shape or self.clip_shape(request)
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
                "aspect_ratio": shape.ratio,
                "duration": shape.duration,
                "audio": request.audio,
            },
        }
        if record.business_id is not None:
            body["client_business_id"] = record.business_id
        if status == COMPLETED and done_mono is not None:
            completed = record.created_wall + (done_mono - record.created_mono)
            body["completed_at"] = int(completed)
            body["expires_at"] = int(completed + self.config.expiry_seconds)
            item = {"url": f"{self.base_url}{VIDEO_PREFIX}{record.id}.mp4", "format": "mp4"}
            if request.return_last_frame:
                item["last_frame_url"] = f"{self.base_url}{FRAME_PREFIX}{record.id}.png"
            body["result"] = {"type": "video", "data": [item]}
        elif status == FAILED:
            message = record.failure or "Generation failed: the render crashed (emulator error)"
            body["error"] = {"code": "generation_failed", "message": message}
        return body

    def video_state(self, task_id: str) -> tuple[str, Path | None]:
        """("ok", path) | ("expired", None) | ("missing", None) for a task's video URL."""
        record = self.tasks.get(task_id) or self.other_tasks.get(task_id)
        if record is None:
            return "missing", None
        status, _, done_mono = record.snapshot(time.monotonic())
        if status != COMPLETED or done_mono is None or record.render is None:
            return "missing", None
        completed = record.created_wall + (done_mono - record.created_mono)
        if time.time() >= completed + self.config.expiry_seconds:
            return "expired", None
        return "ok", record.render.path

    def frame_state(self, task_id: str) -> tuple[str, Path | None]:
        """As :meth:`video_state`, for the last-frame PNG (served only to tasks that asked for it)."""
        record = self.tasks.get(task_id) or self.other_tasks.get(task_id)
        if record is None or not record.request.return_last_frame:
            return "missing", None
        verdict, path = self.video_state(task_id)
        if path is None or record.render is None or record.render.frame_path is None:
            return verdict, None
        return verdict, record.render.frame_path

    # ---- uploads --------------------------------------------------------------------------
    def add_upload(self, data: bytes, mime: str) -> UploadRecord:
        ext = UPLOAD_EXTENSIONS[mime]
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


def _ratio_value(ratio: str) -> float:
    w, h = ratio.split(":")
    return int(w) / int(h)
