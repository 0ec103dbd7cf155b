"""Ledger records -> jobs: what the ledger says about each job, tolerant of damaged records.

A new manager on an existing output folder rebuilds its jobs from this alone (adoption.py), and
:class:`LedgerView` keeps the fold of every manager's records of the folder up to date.

Two record versions are read (see ``ledger.LEDGER_VERSION``). Version 2 holds neutral requests
(``GenerationRequest.to_dict()``) and the key of the neutral request. Version 1 (earlier
releases) holds ToAPIs bodies and a hash of the body: the request is parsed from the body and
its key computed again here, so an old folder's videos answer the same request asked today.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seedance_widgets.api import GenerationRequest

from .state import ALL_STATES, FINAL_STATES, JobState
from .store import LOCAL_IMAGE_PREFIX, request_key

log = logging.getLogger("seedance_widgets.engine")


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
    #: None: no estimate (or none recorded).
    cost_estimate: float | None = None
    #: The manager that wrote the latest record (lock file under .owners/ while it lives).
    owner: str | None = None
    #: The id its create carried (version 2), to find its task when the reply was lost.
    client_business_id: str | None = None
    #: Wall time its create was (last) sent: the ``submitting`` record's time.
    sent_at: float | None = None
    #: Where its last frame can be fetched, and where it was saved.
    last_frame_url: str | None = None
    last_frame: Path | None = None
    #: True while ``request_hash`` is a version-1 hash (of the body): computed again after the fold.
    old_hash: bool = False


def _version(rec: dict[str, Any]) -> int:
    """The record's version (1 when absent or not a number: the earliest records)."""
    v = rec.get("v")
    return v if isinstance(v, int) and not isinstance(v, bool) else 1


def _request_from(value: Any, *, neutral: bool) -> GenerationRequest | None:
    """A request from a version-2 record (``to_dict`` form) or a version-1 one (a ToAPIs body)."""
    if not isinstance(value, dict):
        return None
    try:
        return GenerationRequest.from_dict(value) if neutral else GenerationRequest.from_body(value)
    except Exception:  # a request that no longer validates, or a damaged one: never fatal
        log.warning("ledger holds a request that no longer validates; shown without it")
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_path(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and "\x00" not in value


def _is_image(value: Any) -> bool:
    """An image entry of an intent: a role, and a URL and/or the local file's sha256, as text."""
    if not isinstance(value, dict) or not isinstance(value.get("role"), str):
        return False
    return all(value.get(k) is None or isinstance(value.get(k), str) for k in ("url", "sha256"))


#: What each field a record may carry must look like; a value that does not fit is skipped
#: (the rest of the record still counts), so one bad line never locks the folder.
_FIELD_CHECKS: dict[str, Callable[[Any], bool]] = {
    "event": _is_text,
    "at": _is_number,
    "request_hash": _is_text,
    "task_id": lambda v: isinstance(v, str) and bool(v.strip()),
    "error": _is_text,
    "error_code": _is_text,
    "video_url": _is_text,
    "expires_at": _is_number,
    "sha256": _is_text,
    "seed": _is_int,
    "owner": _is_text,
    "progress": lambda v: _is_int(v) and 0 <= v <= 100,
    "cost_estimate": lambda v: _is_number(v) and v >= 0,
    "path": _is_path,
    "state": lambda v: v in ALL_STATES,
    "finished_at": _is_number,
    "images": lambda v: isinstance(v, list),
    "request": lambda v: isinstance(v, dict),
    "body": lambda v: isinstance(v, dict),
    "client_business_id": _is_text,
    "last_frame_url": _is_text,
    "last_frame": _is_path,
}
#: (job, field) pairs already reported: a job is folded again on each new record of it.
_reported: set[tuple[str, str]] = set()
_MAX_REPORTED = 1000


def _clean(rec: dict[str, Any], local_id: str) -> dict[str, Any]:
    """The record without fields of the wrong type (each reported once per job and field)."""
    clean: dict[str, Any] = {}
    bad: list[str] = []
    for name, value in rec.items():
        check = _FIELD_CHECKS.get(name)
        if value is None or check is None or check(value):
            clean[name] = value
        else:
            bad.append(name)
    fresh = [name for name in bad if (local_id, name) not in _reported]
    if fresh:
        if len(_reported) < _MAX_REPORTED:
            _reported.update((local_id, name) for name in fresh)
        shown = ", ".join(f"{name}={rec[name]!r:.40}" for name in fresh)
        log.warning("ledger: a record of job %s has field(s) of the wrong type, skipped: %s", local_id, shown)
    return clean


def fold(records: list[dict[str, Any]], root: Path) -> tuple[dict[str, LedgerJob], dict[str, str]]:
    """Jobs by local id (in first-seen order) and uploaded image URLs by sha256.

    Never raises: a field of the wrong type is skipped (logged once), and a record that cannot
    be used at all is skipped with a log, so a damaged ledger still opens.
    """
    jobs: dict[str, LedgerJob] = {}
    uploads: dict[str, str] = {}
    for rec in records:
        if not isinstance(rec, dict):
            continue
        try:
            _fold_one(rec, root, jobs, uploads)
        except Exception:
            log.exception("ledger: a record could not be read and was skipped: %.200r", rec)
    for job in jobs.values():
        _rekey(job)
    return jobs, uploads


def _rekey(job: LedgerJob) -> None:
    """A version-1 job's cache key, computed again from its request as today's submit would:
    the neutral request, with the inputs given apart from it (local ones by content)."""
    if not job.old_hash or job.request is None:
        return
    inputs = [
        (i["role"], LOCAL_IMAGE_PREFIX + i["sha256"] if i.get("sha256") else i.get("url") or "")
        for i in job.images
    ]
    try:
        # The request may hold the uploaded URLs (the "body" sent): its inputs are those given apart.
        request = job.request.replace(image_with_roles=(), image_urls=()) if inputs else job.request
        job.request_hash = request_key(request, inputs)
    except Exception:  # never fatal: the job keeps its old hash (no cache hit, still listed)
        log.warning("ledger: the cache key of job %s could not be computed again", job.local_id)
        return
    job.old_hash = False


def _fold_one(rec: dict[str, Any], root: Path, jobs: dict[str, LedgerJob], uploads: dict[str, str]) -> None:
    event = rec.get("event")
    if event == "uploaded":
        if isinstance(rec.get("sha256"), str) and isinstance(rec.get("url"), str):
            uploads[rec["sha256"]] = rec["url"]
        return
    local_id = rec.get("job")
    if not isinstance(local_id, str) or not local_id:
        return
    rec = _clean(rec, local_id)
    job = jobs.get(local_id)
    if job is None:
        job = jobs[local_id] = LedgerJob(local_id=local_id)
    _take_request(job, rec)
    _take_fields(job, rec, root)
    _take_times(job, rec, event)


def _take_request(job: LedgerJob, rec: dict[str, Any]) -> None:
    """What was asked: the request's hash, the request itself, its images."""
    neutral = _version(rec) >= 2
    if rec.get("request_hash"):
        job.request_hash = rec["request_hash"]
        job.old_hash = not neutral
    if "request" in rec:
        job.request = _request_from(rec["request"], neutral=neutral) or job.request
    if "body" in rec and not neutral:
        # The exact body sent (images as uploaded URLs) supersedes the intent's request. A
        # version-2 record has the request sent under "request"; its body is for people only.
        job.request = _request_from(rec["body"], neutral=False) or job.request
    if isinstance(rec.get("images"), list):
        job.images = [i for i in rec["images"] if _is_image(i)]


#: Fields a record sets on its job as they are, when present.
_PLAIN_FIELDS = (
    "task_id",
    "error",
    "error_code",
    "video_url",
    "expires_at",
    "sha256",
    "seed",
    "owner",
    "progress",
    "state",
    "finished_at",
    "client_business_id",
    "last_frame_url",
)


def _take_fields(job: LedgerJob, rec: dict[str, Any], root: Path) -> None:
    """What the record says about the job now (fields already checked by ``_clean``)."""
    for name in _PLAIN_FIELDS:
        if rec.get(name) is not None:
            setattr(job, name, rec[name])
    if rec.get("cost_estimate") is not None:
        job.cost_estimate = float(rec["cost_estimate"])
    for name in ("path", "last_frame"):
        if rec.get(name):
            path = Path(rec[name])
            setattr(job, name, path if path.is_absolute() else root / path)


def _take_times(job: LedgerJob, rec: dict[str, Any], event: Any) -> None:
    """When it was asked, created, and started running (the record's own time)."""
    at = rec.get("at")
    if event == "intent":
        job.submitted_at = at
    elif event in ("created", "attached"):
        job.created_at = at
    if rec.get("state") == JobState.SUBMITTING:
        job.sent_at = at
    if job.state == JobState.RUNNING and job.started_at is None:
        job.started_at = at


@dataclasses.dataclass
class LedgerView:
    """Every job of the ledger as folded so far, grown by the tail each time it is read.

    ``offset`` is the byte offset already read. Jobs are re-folded from all their records
    whenever a new one arrives, so the folding rules stay those of :func:`restore.fold`.
    Mutated only under the ledger's exclusive lock (see ``Engine.refresh``).
    """

    root: Path
    offset: int = 0
    jobs: dict[str, LedgerJob] = dataclasses.field(default_factory=dict)
    _records: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    _by_hash: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    def absorb(self, records: list[dict[str, Any]]) -> dict[str, str]:
        """Fold new records in; returns the uploaded image URLs they name (by sha256)."""
        touched: dict[str, None] = {}
        uploads: dict[str, str] = {}
        for record in records:
            if record.get("event") == "uploaded":
                if isinstance(record.get("sha256"), str) and isinstance(record.get("url"), str):
                    uploads[record["sha256"]] = record["url"]
                continue
            local_id = record.get("job")
            if isinstance(local_id, str):
                self._records.setdefault(local_id, []).append(record)
                touched[local_id] = None
        for local_id in touched:
            entry = fold(self._records[local_id], self.root)[0].get(local_id)
            if entry is None:
                continue
            before = self.jobs.get(local_id)
            self.jobs[local_id] = entry
            if entry.request_hash and (before is None or before.request_hash != entry.request_hash):
                self._by_hash.setdefault(entry.request_hash, []).append(local_id)
        return uploads

    def with_hash(self, request_hash: str) -> list[LedgerJob]:
        """The ledger's jobs for one request, in the order they first appeared."""
        return [
            self.jobs[i]
            for i in self._by_hash.get(request_hash, [])
            if self.jobs[i].request_hash == request_hash
        ]


def is_in_flight(entry: LedgerJob) -> bool:
    return entry.state not in FINAL_STATES
