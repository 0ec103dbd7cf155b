"""The front door that works without Jupyter: ``generate``, ``attach``, ``jobs``, ``default_manager``."""

from __future__ import annotations

import os
import threading
from typing import Any

from seedance_widgets.api import GenerationRequest

from .job import Job
from .manager import ImageInput, JobManager
from .state import DryRun

_lock = threading.Lock()
_default: JobManager | None = None

ImageSource = "str | os.PathLike[str] | bytes"


def default_manager() -> JobManager:
    """The process's shared manager (created on first use, output folder from the environment)."""
    global _default
    with _lock:
        if _default is None or _default.closed:
            from .backend import has_key

            env_scale = _env_time_scale()
            # The client (and, without a key, the built-in emulator) is made on first need, so a
            # re-run served from the cache costs no HTTP stack and no emulator start.
            _default = JobManager(time_scale=env_scale or 1.0)
            # Without a key the built-in emulator may run faster than the gateway: poll at its pace.
            _default.time_scale_from_backend = env_scale is None and not has_key()
        return _default


def _env_time_scale() -> float | None:
    """``$SEEDANCE_TIME_SCALE``: the speed of an emulator pointed at by SEEDANCE_BASE_URL (tests, demos)."""
    text = os.environ.get("SEEDANCE_TIME_SCALE", "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"SEEDANCE_TIME_SCALE must be a positive number, not {text!r}") from None
    if not value > 0:
        raise ValueError(f"SEEDANCE_TIME_SCALE must be a positive number, not {text!r}")
    return value


def set_default_manager(manager: JobManager | None) -> None:
    """Replace the shared manager (None: make a fresh one on next use). The old one keeps running."""
    global _default
    with _lock:
        _default = manager


def _images(first_frame: Any, last_frame: Any, references: Any) -> list[ImageInput]:
    images: list[ImageInput] = []
    if first_frame is not None:
        images.append(("first_frame", first_frame))
    if last_frame is not None:
        images.append(("last_frame", last_frame))
    if references is not None:
        if isinstance(references, (str, bytes, os.PathLike)):
            references = [references]
        images.extend(("reference_image", ref) for ref in references)
    return images


def generate(
    prompt: str,
    *,
    duration: int = 5,
    aspect_ratio: str = "16:9",
    resolution: str = "720p",
    audio: bool = False,
    seed: int | None = None,
    camera_fixed: bool = False,
    first_frame: Any = None,
    last_frame: Any = None,
    references: Any = None,
    rerun: bool = False,
    dry_run: bool = False,
    manager: JobManager | None = None,
) -> Job | DryRun:
    """Start generating a video and return its :class:`Job` at once (``job.wait()`` gives the file).

    Images (``first_frame``, ``last_frame``, up to 4 ``references``) may each be an http(s)
    URL, a local path or bytes; local ones are uploaded by the engine. An identical
    request already generated returns its saved file with no HTTP request; ``rerun=True``
    pays for a new task; ``dry_run=True`` returns the exact body and a cost estimate only.
    """
    request = GenerationRequest(
        prompt=prompt,
        duration=duration,
        aspect_ratio=aspect_ratio,
        resolution=resolution,
        audio=audio,
        seed=seed,
        camera_fixed=camera_fixed,
    )
    chosen = manager or default_manager()
    return chosen.submit(
        request, images=_images(first_frame, last_frame, references), rerun=rerun, dry_run=dry_run
    )


def attach(task_id: str, *, manager: JobManager | None = None) -> Job:
    """Watch an existing task by id (for example one that timed out) and save its video."""
    return (manager or default_manager()).attach(task_id)


def jobs(*, manager: JobManager | None = None) -> list[Job]:
    """Every job of the shared manager (this session's and the output folder's history)."""
    return (manager or default_manager()).jobs()
