"""The Python front door, without Jupyter: ``generate``, ``attach`` and ``jobs``.

Each works on the process's shared manager (:func:`seedance_widgets.engine.default_manager`, one
per output folder) unless given another one.
"""

from __future__ import annotations

import os
from typing import Any

from seedance_widgets.api import GenerationRequest
from seedance_widgets.engine.job import Job
from seedance_widgets.engine.manager import ImageInput, JobManager
from seedance_widgets.engine.registry import default_manager
from seedance_widgets.engine.state import DryRun


def image_inputs(first_frame: Any, last_frame: Any, references: Any) -> list[ImageInput]:
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
        request, images=image_inputs(first_frame, last_frame, references), rerun=rerun, dry_run=dry_run
    )


def attach(task_id: str, *, manager: JobManager | None = None) -> Job:
    """Watch an existing task by id (for example one that timed out) and save its video."""
    return (manager or default_manager()).attach(task_id)


def jobs(*, manager: JobManager | None = None) -> list[Job]:
    """Every job of the shared manager (this session's and the output folder's history)."""
    return (manager or default_manager()).jobs()
