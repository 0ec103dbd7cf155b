"""Bytes in and out: uploads before a create, the video download after it (and its last frame),
and the temporary files crashed transfers leave behind.

Uploads: an image or reference video is uploaded once per manager (by content hash); jobs that
need one being uploaded wait for that one upload. Downloads: written to a temporary file, checked,
then renamed into the store (content-addressed); retried a few times with a growing wait; only the
gateway's 404/410 says the URL expired (our clock may be off, so ``expires_at`` alone decides
nothing). A last frame (when asked for) is fetched after the video, beside it; only the video
decides whether the job is done.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path
from typing import Any

from seedance_widgets.api import VIDEO_ROLE, DownloadError, SeedanceError, URLExpiredError

from .core import Engine
from .scheduler import DOWNLOAD
from .state import POLLED_STATES, JobState
from .tracked import Image, PendingUpload, Tracked

log = logging.getLogger("seedance_widgets.engine")

DOWNLOAD_ATTEMPTS = 3
#: A temporary file untouched for this long (s) is not being written by a live transfer.
STALE_TEMP_AGE = 60.0
#: Real seconds between two looks at a shared upload in flight (to notice a shutdown).
_UPLOAD_WAIT_SLICE = 0.25


# ---- uploads ---------------------------------------------------------------------------------------
def upload_images(core: Engine, tracked: Tracked) -> list[tuple[str, str]] | None:
    """The request's inputs as (role, gateway URL) (local ones uploaded); None: the job ended or
    the manager is shutting down meanwhile."""
    inputs: list[tuple[str, str]] = []
    for image in tracked.images:
        if image.data is None:
            assert image.url is not None
            inputs.append((image.role, image.url))
            continue
        url = _uploaded_url(core, tracked, image)
        if url is None:
            return None  # shutting down
        image.url = url
        inputs.append((image.role, url))
        if tracked.job.snapshot().is_final or core.stopping:
            return None
    return inputs


def _uploaded_url(core: Engine, tracked: Tracked, image: Image) -> str | None:
    """The gateway URL of a local image or video: known already, or uploaded once. Jobs that need
    the same file at the same time wait for the one upload in flight (None: shutting down)."""
    sha256, data = image.sha256, image.data
    assert sha256 is not None
    assert data is not None
    job = tracked.job
    with core.lock:
        url = core.uploaded.get(sha256)
        if url is not None:
            return url
        pending = core.uploads_in_flight.get(sha256)
        mine = pending is None
        if pending is None:
            pending = core.uploads_in_flight[sha256] = PendingUpload()
    if job._update(when=(JobState.INTENT,), state=JobState.UPLOADING) is not None:
        core.record("status", job=job.local_id, state=JobState.UPLOADING)
    if not mine:
        return _wait_for_upload(core, pending)
    try:
        path, _ = core.store.save_upload(data)
        client = core.client_for(tracked)
        if image.role == VIDEO_ROLE:
            spec = job.request.spec if job.request is not None else None
            url = client.upload_video(data, filename=path.name, refs=spec.video_refs if spec else None)
        else:
            url = client.upload_image(data, filename=path.name)
    except BaseException as err:
        pending.error = err
        raise
    else:
        pending.url = url
        relative = str(path.relative_to(core.store.root))
        core.record("uploaded", job=job.local_id, sha256=sha256, url=url, path=relative)
        with core.lock:
            core.uploaded[sha256] = url
        return url
    finally:
        with core.lock:
            core.uploads_in_flight.pop(sha256, None)
        pending.done.set()


def _wait_for_upload(core: Engine, pending: PendingUpload) -> str | None:
    """The URL another job's upload of the same image gave (None: shutting down)."""
    while not pending.done.wait(_UPLOAD_WAIT_SLICE):
        if core.stopping:
            return None
    if pending.error is not None or pending.url is None:
        raise SeedanceError(str(pending.error or "the upload was interrupted")) from pending.error
    return pending.url


# ---- downloads -------------------------------------------------------------------------------------
def start_download(
    core: Engine, tracked: Tracked, url: str | None, expires_at: float | None, common: dict[str, Any]
) -> None:
    """The task is completed: record where its video is, then fetch it in the pool."""
    job = tracked.job
    if not url:
        error = "the gateway says completed but gives no video URL"
        core.finish(tracked, JobState.FAILED, error=error, error_code="no_video_url", **common)
        return
    core.record(
        "status",
        job=job.local_id,
        task_id=job.task_id,
        state=JobState.DOWNLOADING,
        video_url=url,
        expires_at=expires_at,
        last_frame_url=tracked.last_frame_url,
        seed=common.get("seed"),
        progress=100,
        usage_tokens=common.get("usage_tokens"),
        cost_usd=common.get("cost_usd"),
    )
    applied = job._update(
        when=POLLED_STATES,
        state=JobState.DOWNLOADING,
        video_url=url,
        expires_at=expires_at,
        eta_seconds=0.0,
        **{**common, "progress": 100},
        **core.live_notice(job.local_id, rate_limit=False),
    )
    if applied is not None:
        core.run_in_pool(lambda: download(core, tracked), DOWNLOAD)


def fetch_again(core: Engine, tracked: Tracked) -> None:
    """Download a finished task's video again (the saved file is gone or altered)."""
    tracked.job._update(
        state=JobState.DOWNLOADING, path=None, sha256=None, last_frame=None, error=None, finished_at=None
    )
    core.run_in_pool(lambda: download(core, tracked), DOWNLOAD)


def download(core: Engine, tracked: Tracked) -> None:
    """One attempt at saving the job's video (the next one is queued after a growing wait)."""
    job = tracked.job
    snap = job.snapshot()
    if snap.state != JobState.DOWNLOADING or snap.video_url is None or core.stopping:
        return
    incoming = core.store.incoming_path(job.local_id)
    if tracked.inherited and tracked.download_attempts == 0:
        # Listing the folder costs O(videos); doing it for every job made 10,000 jobs O(n^2).
        _remove_parts_of(incoming)
    tracked.download_attempts += 1
    try:
        core.client_for(tracked).download(snap.video_url, incoming)
        path, digest = core.store.keep_video(incoming, snap.prompt)
    except URLExpiredError:
        _expired(core, tracked)
        return
    except Exception as err:
        _download_failed(core, tracked, err)
        return
    if job.snapshot().state != JobState.DOWNLOADING:
        return  # cancelled meanwhile; the file stays in the store
    last_frame, note = _save_last_frame(core, tracked, path)
    now = core.clock.time()
    core.record(
        "downloaded",
        job=job.local_id,
        task_id=snap.task_id,
        state=JobState.DONE,
        path=str(path.relative_to(core.store.root)),
        sha256=digest,
        last_frame=str(last_frame.relative_to(core.store.root)) if last_frame else None,
        request_hash=snap.request_hash,
        finished_at=round(now, 3),
        usage_tokens=snap.usage_tokens,
        cost_usd=snap.cost_usd,
        **note,
    )
    job._update(
        when=(JobState.DOWNLOADING,),
        state=JobState.DONE,
        path=path,
        sha256=digest,
        last_frame=last_frame,
        finished_at=now,
        reconnecting=False,
        eta_seconds=None,
        **(note or core.live_notice(job.local_id, rate_limit=False)),
    )


def _save_last_frame(core: Engine, tracked: Tracked, video: Path) -> tuple[Path | None, dict[str, str]]:
    """Fetch the clip's last frame beside its video, when the request asked for it. The video is
    what the job is for: a last frame that cannot be saved is said (``error``), not a failure."""
    request = tracked.job.request
    if request is None or not request.return_last_frame:
        return None, {}
    task_id = tracked.job.task_id
    if not tracked.last_frame_url:
        return None, _frame_note(f"the gateway gave no last-frame URL for task {task_id}")
    incoming = core.store.incoming_frame_path(tracked.job.local_id)
    try:
        core.client_for(tracked).download_image(tracked.last_frame_url, incoming)
        return core.store.keep_last_frame(incoming, video), {}
    except (SeedanceError, OSError) as err:
        with contextlib.suppress(OSError):
            incoming.unlink()
        log.info("the last frame of %s could not be saved: %s", task_id, err)
        return None, _frame_note(str(err))


def _frame_note(why: str) -> dict[str, str]:
    return {
        "error": f"the video is saved, but its last frame could not be: {why}",
        "error_code": "last_frame_failed",
    }


def _remove_parts_of(incoming: Path) -> None:
    """Delete half downloads of this job left by a writer that died (a killed kernel): the job is
    this manager's now, so nobody else writes its download."""
    with contextlib.suppress(OSError):
        for part in incoming.parent.glob(f".{incoming.name}.*.part"):
            with contextlib.suppress(OSError):
                part.unlink()


def _download_failed(core: Engine, tracked: Tracked, err: Exception) -> None:
    """Retry a failed download after a growing wait, or end the job when it is hopeless."""
    job = tracked.job
    task_id = job.task_id
    hopeless = isinstance(err, DownloadError) and not err.retryable  # e.g. not an MP4 at all
    if not isinstance(err, (SeedanceError, OSError)):
        log.exception("saving the video of %s failed unexpectedly", task_id)
        hopeless = True
    if hopeless or tracked.download_attempts >= DOWNLOAD_ATTEMPTS:
        error = (
            f"could not save the video of task {task_id}: {err}. "
            f"attach({task_id!r}) tries again while the URL lives"
        )
        core.finish(tracked, JobState.FAILED, error=error, error_code="download_failed")
        return
    log.info("download of %s failed (%s); retrying", task_id, err)
    job._update(when=(JobState.DOWNLOADING,), reconnecting=True)
    tracked.failures += 1
    if not core.scheduler.sleep(core.scheduler.reconnect_wait(tracked.failures)):
        core.run_in_pool(lambda: download(core, tracked), DOWNLOAD)


def _expired(core: Engine, tracked: Tracked) -> None:
    task_id = tracked.job.task_id
    error = (
        f"the video URL of task {task_id} expired before it could be saved; the gateway no longer "
        "has it. Only a new (paid) task can make it again: run with rerun=True."
    )
    core.finish(tracked, JobState.EXPIRED, error=error, error_code="url_expired")


# ---- leftovers of crashed transfers ----------------------------------------------------------------
def remove_stale_temp_files(core: Engine) -> None:
    """Delete temporary files left by crashed writers (half downloads, half image copies).

    Only files no live writer can own: a download's files belong to its job, whose last ledger
    owner must be gone; an image copy names its process, which must be gone too. Both must also
    be older than STALE_TEMP_AGE, in case the writer is on another machine.
    """
    store = core.store
    try:
        downloads = [
            *store.videos.glob(".incoming-*.mp4"),
            *store.videos.glob(".incoming-*.last"),
            *store.videos.glob("..incoming-*.part"),
        ]
        copies = list(store.uploads.glob(".*.part"))
    except OSError:
        return
    owners = _DownloadOwners(core) if downloads else None
    removed = 0
    for path in downloads + copies:
        if not _old_enough(path):
            continue
        if path in copies:
            in_use = _pid_alive(path.name.rsplit(".", 2)[-2])
        else:
            in_use = owners is not None and owners.alive(path)
        if in_use:
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            removed += 1
    if removed:
        log.info("removed %d temporary file(s) left by an earlier crash in %s", removed, store.root)


class _DownloadOwners:
    """Whether the manager that last wrote a download's job is alive (each owner asked once)."""

    def __init__(self, core: Engine) -> None:
        self._store = core.store
        self._owners: dict[str, str] = {}
        for record in self._store.ledger.read():
            if isinstance(record.get("job"), str) and isinstance(record.get("owner"), str):
                self._owners[record["job"]] = record["owner"]
        self._alive: dict[str, bool] = {}

    def alive(self, path: Path) -> bool:
        owner = self._owners.get(_download_job(path.name))
        if owner is None:
            return False
        if owner not in self._alive:
            self._alive[owner] = self._store.owner_alive(owner)
        return self._alive[owner]


def _old_enough(path: Path) -> bool:
    """True when ``path`` was last written more than STALE_TEMP_AGE seconds ago."""
    try:
        return time.time() - path.stat().st_mtime > STALE_TEMP_AGE
    except OSError:
        return False


def _pid_alive(text: str) -> bool:
    """Whether the process numbered ``text`` runs on this machine (one we may not signal counts)."""
    if not text.isdigit():
        return False  # not a name we write
    pid = int(text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _download_job(name: str) -> str:
    """The local job id in a download's file name (``.incoming-<id>.mp4``, ``.incoming-<id>.last``
    or their ``.part``): local ids hold no dot."""
    return name.lstrip(".").removeprefix("incoming-").split(".", 1)[0]
