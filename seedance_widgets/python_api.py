"""The Python front door, without Jupyter: ``generate``, ``attach`` and ``jobs``.

Each works on the process's shared manager (:func:`seedance_widgets.engine.default_manager`, one
per output folder) unless given another one.

Names match the magic's options: ``model`` (``--model``), ``references`` (``--ref``),
``ref_videos`` (``--ref-video``), ``ref_audios`` (``--ref-audio``), ``return_last_frame``
(``--return-last-frame``), ``web_search`` (``--web-search``). What each model allows comes from
the catalogue (``seedance_widgets.api.catalog.MODELS``); a value it refuses raises a
:class:`ValidationError` naming the field, the value, the model and the models that allow it,
before anything is sent.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from seedance_widgets.api import GenerationRequest, ImageRole, ValidationError, catalog
from seedance_widgets.api.media import MediaFile, check_total_seconds, read_audio, read_video
from seedance_widgets.api.models import AUDIO_ROLE, MODEL_DEFAULT, VIDEO_ROLE, MediaRole
from seedance_widgets.engine.job import Job
from seedance_widgets.engine.manager import ImageInput, JobManager
from seedance_widgets.engine.registry import default_manager
from seedance_widgets.engine.state import DryRun

#: ``(role, source)`` pairs of reference media: role ``reference_video`` or ``reference_audio``;
#: source an http(s) URL, a local path or bytes (as ``JobManager.submit(media=...)`` takes them).
MediaInput = tuple[str, Any]

_PLACEHOLDER = "https://local-file.invalid/"


def _listed(value: Any) -> list[Any]:
    """One source or a list of them (a lone path, URL or bytes is one item, not a sequence)."""
    if value is None:
        return []
    if isinstance(value, (str, bytes, bytearray, memoryview, os.PathLike)):
        return [value]
    return list(value)


def image_inputs(first_frame: Any, last_frame: Any, references: Any) -> list[ImageInput]:
    images: list[ImageInput] = []
    if first_frame is not None:
        images.append(("first_frame", first_frame))
    if last_frame is not None:
        images.append(("last_frame", last_frame))
    images.extend(("reference_image", ref) for ref in _listed(references))
    return images


def media_inputs(ref_videos: Any, ref_audios: Any) -> list[MediaInput]:
    """``ref_videos`` / ``ref_audios`` as ``submit(media=...)`` takes them."""
    return [(VIDEO_ROLE, v) for v in _listed(ref_videos)] + [(AUDIO_ROLE, a) for a in _listed(ref_audios)]


def media_kwargs(media: Sequence[MediaInput]) -> dict[str, Any]:
    """``media=`` for ``submit`` only when there is some (so a call without media works on any engine)."""
    return {"media": list(media)} if media else {}


def _is_url(source: Any) -> bool:
    return isinstance(source, str) and source.strip().lower().startswith(("http://", "https://"))


def checked_request(
    fields: dict[str, Any], images: Sequence[ImageInput] = (), media: Sequence[MediaInput] = ()
) -> GenerationRequest:
    """The request ``fields`` describe, validated together with its images and media by count and
    role (local ones stand in as placeholder URLs), and its local media checked against the model's
    limits (type from the content, size, length where readable). Raises ValidationError; sends nothing.
    """
    probe = GenerationRequest(
        **fields,
        image_with_roles=tuple(ImageRole(f"{_PLACEHOLDER}{i}", role) for i, (role, _) in enumerate(images)),
        video_with_roles=_stand_ins(media, VIDEO_ROLE),
        audio_with_roles=_stand_ins(media, AUDIO_ROLE),
    )
    check_local_media(probe.spec, media)
    return probe.replace(image_with_roles=(), video_with_roles=(), audio_with_roles=())


def _stand_ins(media: Sequence[MediaInput], role: str) -> tuple[MediaRole, ...]:
    """Placeholder URLs for the ``role`` entries of ``media`` (what counts and modes are checked on)."""
    return tuple(
        MediaRole(f"{_PLACEHOLDER}{role}/{i}", role) for i, (kind, _) in enumerate(media) if kind == role
    )


def check_local_media(spec: catalog.ModelSpec, media: Sequence[MediaInput]) -> None:
    """Check local reference videos / audio against ``spec`` (each, then their total length)."""
    for role, refs, reader in (
        (VIDEO_ROLE, spec.video_refs, read_video),
        (AUDIO_ROLE, spec.audio_refs, read_audio),
    ):
        files: list[MediaFile] = [
            reader(source, refs=refs) for kind, source in media if kind == role and not _is_url(source)
        ]
        if files and refs is not None:
            check_total_seconds(files, refs)


def generate(
    prompt: str,
    *,
    model: str = catalog.DEFAULT_MODEL,
    duration: int = MODEL_DEFAULT,
    aspect_ratio: str = MODEL_DEFAULT,
    resolution: str = MODEL_DEFAULT,
    audio: bool = MODEL_DEFAULT,
    seed: int | None = None,
    camera_fixed: bool = False,
    first_frame: Any = None,
    last_frame: Any = None,
    references: Any = None,
    ref_videos: Any = None,
    ref_audios: Any = None,
    return_last_frame: bool = False,
    web_search: bool = False,
    rerun: bool = False,
    dry_run: bool = False,
    manager: JobManager | None = None,
) -> Job | DryRun:
    """Start generating a video and return its :class:`Job` at once (``job.wait()`` gives the file).

    ``model`` is a catalogue id (``seedance_widgets.api.catalog.MODELS``; default Seedance 1.5 Pro).
    ``duration``, ``aspect_ratio``, ``resolution`` and ``audio`` left out take the model's defaults
    (Seedance 2.x makes sound unless ``audio=False``); ``duration`` may be the model's auto value
    (``-1``) where it picks the length. Images (``first_frame``, ``last_frame``, ``references``),
    reference videos (``ref_videos``) and reference audio (``ref_audios``) may each be an http(s)
    URL, a local path or bytes, one or a list; local ones are checked here and uploaded by the
    engine. ``return_last_frame=True`` also saves the clip's last frame beside the video (the
    card's "continue from here"). An identical request already generated returns its saved file
    with no HTTP request; ``rerun=True`` pays for a new task; ``dry_run=True`` returns the exact
    body and a cost estimate only (``None``: no estimate for this model and settings).
    """
    images = image_inputs(first_frame, last_frame, references)
    media = media_inputs(ref_videos, ref_audios)
    request = checked_request(
        {
            "prompt": prompt,
            "model": model,
            "duration": duration,
            "aspect_ratio": aspect_ratio,
            "resolution": resolution,
            "audio": audio,
            "seed": seed,
            "camera_fixed": camera_fixed,
            "return_last_frame": return_last_frame,
            "web_search": web_search,
        },
        images,
        media,
    )
    chosen = manager or default_manager()
    return chosen.submit(request, images=images, rerun=rerun, dry_run=dry_run, **media_kwargs(media))


def attach(task_id: str, *, manager: JobManager | None = None) -> Job:
    """Watch an existing task by id (for example one that timed out) and save its video."""
    return (manager or default_manager()).attach(task_id)


def jobs(*, manager: JobManager | None = None) -> list[Job]:
    """Every job of the shared manager (this session's and the output folder's history)."""
    return (manager or default_manager()).jobs()


__all__ = [
    "MediaInput",
    "ValidationError",
    "attach",
    "check_local_media",
    "checked_request",
    "generate",
    "image_inputs",
    "jobs",
    "media_inputs",
    "media_kwargs",
]
