"""Rebuild jobs from the ledger alone (a new manager on an existing output folder)."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from seedance_widgets.api import GenerationRequest, SeedanceError

from .state import JobState

log = logging.getLogger("seedance_widgets.jobs")


@dataclasses.dataclass
class LedgerJob:
    """What the ledger says about one job, folded over its records in order."""

    local_id: str
    request_hash: str | None = None
    request: GenerationRequest | None = None
    images: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    state: str = JobState.INTENT
    task_id: str | None = None
    submitted_at: float | None = None
    created_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    progress: int = 0
    error: str | None = None
    error_code: str | None = None
    video_url: str | None = None
    expires_at: float | None = None
    path: Path | None = None
    sha256: str | None = None
    seed: int | None = None
    cost_estimate: float = 0.0
    #: The manager that wrote the latest record (lock file under .owners/ while it lives).
    owner: str | None = None


def _request_from(body: Any) -> GenerationRequest | None:
    if not isinstance(body, dict):
        return None
    try:
        return GenerationRequest.from_body(body)
    except SeedanceError:
        log.warning("ledger holds a request that no longer validates; shown without it")
        return None


def fold(records: list[dict[str, Any]], root: Path) -> tuple[dict[str, LedgerJob], dict[str, str]]:
    """Jobs by local id (in first-seen order) and uploaded image URLs by sha256."""
    jobs: dict[str, LedgerJob] = {}
    uploads: dict[str, str] = {}
    for rec in records:
        event = rec.get("event")
        if event == "uploaded":
            if isinstance(rec.get("sha256"), str) and isinstance(rec.get("url"), str):
                uploads[rec["sha256"]] = rec["url"]
            continue
        local_id = rec.get("job")
        if not isinstance(local_id, str):
            continue
        job = jobs.get(local_id)
        if job is None:
            job = jobs[local_id] = LedgerJob(local_id=local_id)
        at = rec.get("at")
        if rec.get("request_hash"):
            job.request_hash = rec["request_hash"]
        if "request" in rec:
            job.request = _request_from(rec["request"]) or job.request
        if "body" in rec:
            # The exact body sent (images as uploaded URLs) supersedes the intent's request.
            job.request = _request_from(rec["body"]) or job.request
        if isinstance(rec.get("images"), list):
            job.images = rec["images"]
        for name in ("task_id", "error", "error_code", "video_url", "expires_at", "sha256", "seed", "owner"):
            if rec.get(name) is not None:
                setattr(job, name, rec[name])
        if isinstance(rec.get("progress"), int):
            job.progress = rec["progress"]
        if isinstance(rec.get("cost_estimate"), (int, float)):
            job.cost_estimate = float(rec["cost_estimate"])
        if rec.get("path"):
            path = Path(rec["path"])
            job.path = path if path.is_absolute() else root / path
        if event == "intent":
            job.submitted_at = at
        elif event in ("created", "attached"):
            job.created_at = at
        if isinstance(rec.get("state"), str):
            job.state = rec["state"]
        if job.state == JobState.RUNNING and job.started_at is None:
            job.started_at = at
        if rec.get("finished_at") is not None:
            job.finished_at = rec["finished_at"]
    return jobs, uploads
