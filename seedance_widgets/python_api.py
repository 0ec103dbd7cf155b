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

import html
import os
import time
from collections.abc import Sequence
from typing import Any

from seedance_widgets.api import GenerationRequest, ImageRole, Task, ValidationError, catalog
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
    service_tier: str = "default",
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
    ``service_tier="flex"`` (Ark only) runs it on Ark's offline tier: half price, slower, and it
    may wait in Ark's queue up to its expiry window (the engine watches it that long).
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
            # Only when asked: a default request stays the same as before tiers existed.
            **({"service_tier": service_tier} if service_tier != "default" else {}),
        },
        images,
        media,
    )
    chosen = manager or default_manager()
    return chosen.submit(request, images=images, rerun=rerun, dry_run=dry_run, **media_kwargs(media))


def attach(task_id: str, *, manager: JobManager | None = None) -> Job:
    """Watch an existing task by id (a ToAPIs ``task_...`` or an Ark ``cgt-...`` id; for
    example one that timed out, or one found with :func:`remote_tasks`) and save its video."""
    return (manager or default_manager()).attach(task_id)


def remote_tasks(
    *, status: str | None = None, model: str | None = None, limit: int = 20, manager: JobManager | None = None
) -> RemoteTasks:
    """The account's recent tasks at the provider (Ark keeps 7 days), newest first: a list of
    :class:`~seedance_widgets.api.Task` that shows as a table and ``.attach(i_or_id)`` watches one.

    ``status``: ours (queued, in_progress, completed, failed, cancelled, expired) or Ark's words
    (running, succeeded); ``model``: a catalogue id or an Ark model id. Ark only: the ToAPIs
    gateway has no task list (UnsupportedError says so).
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 500:
        raise ValidationError("limit", limit, "a whole number from 1 to 500")
    chosen = manager or default_manager()
    tasks = chosen.client.list_tasks(status=status, model=model, page_size=limit)
    return RemoteTasks(tasks[:limit], manager=chosen)


class RemoteTasks(list[Task]):
    """The account's recent tasks (a list of ``Task``), shown as a table; ``attach(i_or_id)``
    watches one (row number from 0, or its task id) and saves its video."""

    def __init__(self, tasks: Sequence[Any], *, manager: JobManager) -> None:
        super().__init__(tasks)
        self._manager = manager

    def attach(self, i_or_id: int | str) -> Job:
        """Watch row ``i`` (from 0) or the task with this id, and save its video."""
        if isinstance(i_or_id, bool):
            raise TypeError("attach() takes a row number or a task id")
        if isinstance(i_or_id, int):
            if not -len(self) <= i_or_id < len(self):
                raise IndexError(
                    f"no row {i_or_id}: this list has {len(self)} task(s), rows 0 to {len(self) - 1}"
                )
            row = self[i_or_id]
            return self._manager.attach(row.id, created_at=_created_at(row))
        listed = next((t for t in self if t.id == i_or_id), None)
        return self._manager.attach(i_or_id, created_at=_created_at(listed) if listed else None)

    def rows(self) -> list[tuple[str, ...]]:
        """One row of text per task: number, id, status, model, age, billed tokens."""
        now = time.time()
        return [
            (
                str(i),
                str(task.id),
                str(task.status),
                str(task.model or ""),
                _age(task.created_at, now),
                "" if task.usage_tokens is None else str(task.usage_tokens),
            )
            for i, task in enumerate(self)
        ]

    def __repr__(self) -> str:
        if not self:
            return "<RemoteTasks: no recent tasks>"
        table = [_HEADERS, *self.rows()]
        widths = [max(len(row[c]) for row in table) for c in range(len(_HEADERS))]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table
        ]
        return "\n".join([*lines, "attach one: tasks.attach(i) or seedance_widgets.attach(task_id)"])

    def _repr_html_(self) -> str:
        # Every cell comes from the provider: escaped, never trusted as markup.
        head = "".join(f"<th>{html.escape(h)}</th>" for h in _HEADERS)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in self.rows()
        )
        return (
            f'<table class="seedance-remote-tasks"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>"
            "<p>attach one: <code>tasks.attach(i)</code> or <code>seedance_widgets.attach(task_id)</code></p>"
        )


_HEADERS = ("#", "task id", "status", "model", "age", "tokens")


def _created_at(task: Any) -> float | None:
    value = getattr(task, "created_at", None)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _age(created_at: Any, now: float) -> str:
    """How long ago, in words (``3m``, ``2h``, ``5d``); empty when unknown."""
    if isinstance(created_at, bool) or not isinstance(created_at, (int, float)):
        return ""
    seconds = max(0.0, now - float(created_at))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


def jobs(*, manager: JobManager | None = None) -> list[Job]:
    """Every job of the shared manager (this session's and the output folder's history)."""
    return (manager or default_manager()).jobs()


__all__ = [
    "MediaInput",
    "RemoteTasks",
    "ValidationError",
    "attach",
    "check_local_media",
    "checked_request",
    "generate",
    "image_inputs",
    "jobs",
    "media_inputs",
    "media_kwargs",
    "remote_tasks",
]
