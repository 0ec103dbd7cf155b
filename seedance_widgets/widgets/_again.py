"""'Generate again (paid)': the same settings, a new seed, a new task; and 'Continue from here
(paid)': the same model and settings, a new task whose first frame is the job's last frame.

The page asks before anything is spent (js/lib/job_card.js shows a confirmation in the card; no
kernel-side prompt, which would block the kernel). Only the confirmed click sends
``MSG_GENERATE_AGAIN``; the kernel then submits with ``rerun=True``, so the output folder's copy of
an identical request is never handed back instead of the new video.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from seedance_widgets.api import MAX_SEED, SeedanceError
from seedance_widgets.engine.job import Job

from ._cards import can_continue, last_frame_path, seed_used


def new_seed(old: int | None) -> int:
    """A random seed (0 to MAX_SEED) other than ``old``."""
    while True:
        seed = secrets.randbelow(MAX_SEED + 1)
        if seed != old:
            return seed


def manager_of(job: Job, manager: Any = None) -> Any:
    """The JobManager that runs ``job``: ``manager`` when given, else the process's default one
    (when its folder has a ledger). Checked: a job is only ever generated again by its own manager.

    The engine does not say which manager a job belongs to (wanted: a public ``Job.manager``), so a
    widget showing jobs of another manager must be given it (``JobView(job, manager=...)``).
    """
    if manager is None:
        from seedance_widgets.engine import default_manager
        from seedance_widgets.engine.store import resolve_output_dir

        if (resolve_output_dir(None) / "ledger.jsonl").is_file():
            manager = default_manager()
    if manager is None or manager.get(job.local_id) is not job:
        raise SeedanceError(
            f"job {job.local_id} belongs to a JobManager this widget was not given, so it cannot be "
            "generated again from here: show it with JobView(job, manager=...) or "
            "Gallery(jobs, manager=...), or call sw.generate(...) with its settings"
        )
    return manager


def job_images(manager: Any, job: Job) -> list[tuple[str, Any]]:
    """The images a job was submitted with, as ``submit(images=...)`` takes them ([] when its
    request carries them itself, or it had none): local files as bytes from the output folder's
    uploads, URLs as given. Works after a restart too.

    Read from the job's records in the ledger (their ``images``: role, url, sha256) and the
    folder's ``uploads/<sha256[:16]>.*`` files, the documented on-disk format, because the engine
    has no public call for it yet (wanted: ``JobManager.images_of(job)``, or
    ``resubmit(job, confirm=True, seed=...)``).
    """
    store = manager.store
    records = [r for r in store.ledger.read() if r.get("job") == job.local_id and r.get("images")]
    if not records:
        return []
    inputs: list[tuple[str, Any]] = []
    for image in records[-1]["images"]:
        if not isinstance(image, dict) or not image.get("role"):
            continue
        source: Any = image.get("url")
        digest = image.get("sha256")
        if isinstance(digest, str) and digest:
            kept = sorted(Path(store.uploads).glob(f"{digest[:16]}.*"))
            source = kept[0].read_bytes() if kept else source
        if not source:
            raise SeedanceError(
                f"the {image['role']} image of job {job.local_id} is no longer in {store.uploads}: "
                "add it again in the form and press Generate"
            )
        inputs.append((str(image["role"]), source))
    return inputs


def generate_again(job: Job, *, manager: Any = None, images: list[tuple[str, Any]] | None = None) -> Job:
    """Submit ``job``'s request again with a new seed as a new (paid) task; return the new Job.

    ``manager`` is the job's manager (see :func:`manager_of`); ``images`` overrides the job's images
    (the form passes the ones it kept), by default they come from the ledger. Raises SeedanceError
    (nothing sent) for a job attached by task id only, or one of a manager not given.
    """
    request = job.request
    if request is None:
        raise SeedanceError(
            f"job {job.local_id} was attached by task id: its settings are unknown, so it cannot be "
            "generated again"
        )
    manager = manager_of(job, manager)
    if images is None:
        images = job_images(manager, job)
    seed = new_seed(seed_used(job.snapshot()))
    again = (
        request.replace(seed=seed, image_with_roles=(), image_urls=())
        if images
        else request.replace(seed=seed)
    )
    new = manager.submit(again, images=images, rerun=True)
    if not isinstance(new, Job):  # pragma: no cover - submit returns a Job unless dry_run
        raise SeedanceError(f"submit returned {type(new).__name__}, not a Job")
    return new


def continue_from_here(job: Job, *, manager: Any = None) -> Job:
    """What a card's confirmed "Continue from here (paid)" does: a new job with ``job``'s model and
    settings whose first frame is ``job``'s saved last frame, asking for its own last frame again
    (so a story is built clip by clip). Its other images and reference media are left out (a first
    frame does not mix with references on these models). A random seed makes a new task each time
    (``rerun``); a fixed one may come from the output folder. Raises SeedanceError, nothing sent,
    when the job has no last frame or its model takes no first frame."""
    snap = job.snapshot()
    request = job.request
    frame = last_frame_path(snap)
    if request is None or frame is None or not can_continue(snap):
        why = (
            "its settings are unknown (attached by task id)"
            if request is None
            else "it has no saved last frame (generate with return_last_frame=True / --return-last-frame)"
            if frame is None
            else f"{request.spec.label} ({request.model}) takes no first frame"
        )
        raise SeedanceError(f"job {job.local_id} cannot be continued from its last frame: {why}")
    manager = manager_of(job, manager)
    following = request.replace(
        image_with_roles=(),
        image_urls=(),
        video_with_roles=(),
        audio_with_roles=(),
        return_last_frame=True,
    )
    new = manager.submit(following, images=[("first_frame", frame)], rerun=following.seed is None)
    if not isinstance(new, Job):  # pragma: no cover - submit returns a Job unless dry_run
        raise SeedanceError(f"submit returned {type(new).__name__}, not a Job")
    return new
