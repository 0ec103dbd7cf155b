"""Ledger records -> jobs: what the ledger says about each job, tolerant of damaged records.

A new manager on an existing output folder rebuilds its jobs from this alone (adoption.py), and
:class:`LedgerView` keeps the fold of every manager's records of the folder up to date.

Two record versions are read (see ``ledger.LEDGER_VERSION``). Version 2 holds neutral requests
(``GenerationRequest.to_dict()``) and the key of the neutral request. Version 1 (earlier
releases) holds ToAPIs bodies and a hash of the body: the request is parsed from the body and
its key computed again here, so an old folder's videos answer the same request asked today.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import gc
import logging
import math
from collections.abc import Callable, Iterable, Iterator
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
    #: The request as built so far; see the ``request`` property.
    built_request: GenerationRequest | None = None
    #: Requests read but not built yet, oldest first: (value as written, neutral form?).
    raw_requests: list[tuple[Any, bool]] | None = None
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
    #: The provider its task lives at (``toapis``/``ark``; None: an earlier release's, ToAPIs).
    protocol: str | None = None
    #: The provider's real bill of the finished task (tokens, and USD from the token price).
    usage_tokens: int | None = None
    cost_usd: float | None = None
    #: What the last cancel did (see ``JobSnapshot.cancel_outcome``).
    cancel_outcome: str | None = None

    @property
    def request(self) -> GenerationRequest | None:
        """What was asked: built (and validated) from the newest request read that still
        validates, on first use. A folder of months holds thousands of jobs whose requests
        nobody looks at when a manager opens it, so none is built before it is needed."""
        raws = self.raw_requests
        if raws:
            # Built before the raw ones are dropped: a reader in another thread (the index
            # writer) sees one or the other, never neither.
            for value, neutral in reversed(raws):
                built = _request_from(value, neutral=neutral)
                if built is not None:
                    self.built_request = built
                    break
            self.raw_requests = None
        return self.built_request

    @request.setter
    def request(self, value: GenerationRequest | None) -> None:
        self.built_request = value
        self.raw_requests = None

    def take_request(self, value: Any, neutral: bool) -> None:
        """A request read from a record (built later, when asked for; one that does not
        validate leaves the one before)."""
        self.raw_requests = [*(self.raw_requests or ()), (value, neutral)]


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


# The checks run for every field of every record (a long ledger: a million times), so each is
# one call: a bool is an int to isinstance, hence the test of the exact type.
def _is_number(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and type(value) is not bool


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and type(value) is not bool


def _is_percent(value: Any) -> bool:
    return isinstance(value, int) and type(value) is not bool and 0 <= value <= 100


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
    "progress": _is_percent,
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
    "protocol": _is_text,
    "usage_tokens": lambda v: _is_int(v) and v >= 0,
    "cost_usd": lambda v: _is_number(v) and v >= 0,
    "cancel_outcome": _is_text,
}
#: (job, field) pairs already reported (the log says each once, however often a job is read).
_reported: set[tuple[str, str]] = set()
_MAX_REPORTED = 1000

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
    "protocol",
    "usage_tokens",
    "cancel_outcome",
)
#: Fields kept as floats, and paths (relative ones are under the output folder).
_FLOAT_FIELDS = ("cost_estimate", "cost_usd")
_PATH_FIELDS = ("path", "last_frame")
#: What the fold does with each field, by name: set it as it is, as a float, as a path, or keep
#: it for the steps after the fields (the record's time, the request, the images).
_PLAIN, _FLOAT, _PATH, _AT, _REQUEST, _BODY, _IMAGES, _CHECK_ONLY = range(8)
_ACTIONS: dict[str, int] = {
    **dict.fromkeys(_PLAIN_FIELDS, _PLAIN),
    **dict.fromkeys(_FLOAT_FIELDS, _FLOAT),
    **dict.fromkeys(_PATH_FIELDS, _PATH),
    "at": _AT,
    "request": _REQUEST,
    "body": _BODY,
    "images": _IMAGES,
}
#: A record's fields, in its order, with their check and action: one plan per shape of record
#: (a ledger has a few dozen shapes), so a record costs one pass and no lookups by name.
_Plan = tuple[tuple[str, "Callable[[Any], bool] | None", int], ...]
_PLANS: dict[tuple[str, ...], _Plan] = {}
_MAX_PLANS = 4096


def _plan(keys: tuple[str, ...]) -> _Plan:
    plan = _PLANS.get(keys)
    if plan is None:
        plan = tuple(
            (name, _FIELD_CHECKS.get(name), _ACTIONS.get(name, _CHECK_ONLY))
            for name in keys
            if name in _FIELD_CHECKS or name in _ACTIONS
        )
        if len(_PLANS) < _MAX_PLANS:
            _PLANS[keys] = plan
    return plan


def fold(records: Iterable[dict[str, Any]], root: Path) -> tuple[dict[str, LedgerJob], dict[str, str]]:
    """Jobs by local id (in first-seen order) and uploaded image URLs by sha256.

    Never raises: a field of the wrong type is skipped (logged once), and a record that cannot
    be used at all is skipped with a log, so a damaged ledger still opens.
    """
    view = LedgerView(root)
    uploads = view.absorb(records)
    return view.jobs, uploads


def _report(local_id: str, rec: dict[str, Any], bad: list[str]) -> None:
    fresh = [name for name in bad if (local_id, name) not in _reported]
    if not fresh:
        return
    if len(_reported) < _MAX_REPORTED:
        _reported.update((local_id, name) for name in fresh)
    shown = ", ".join(f"{name}={rec[name]!r:.40}" for name in fresh)
    log.warning("ledger: a record of job %s has field(s) of the wrong type, skipped: %s", local_id, shown)


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


def _fold_one(job: LedgerJob, rec: dict[str, Any], root: Path) -> None:
    """Fold one record of ``job`` in: what it says now, what it asked, and when.

    One pass over the record's own fields, each checked against ``_FIELD_CHECKS``: a value of
    the wrong type is skipped (logged once) and the rest of the record still counts."""
    bad: list[str] = []
    kept: dict[int, Any] = {}
    for name, check, action in _plan(tuple(rec)):
        value = rec[name]
        if value is None:
            continue
        if check is not None and not check(value):
            bad.append(name)
        elif action == _PLAIN:
            setattr(job, name, value)
        elif action > _PATH:
            kept[action] = value
        elif action == _FLOAT:
            setattr(job, name, float(value))
        elif action == _PATH and value:
            path = Path(value)
            setattr(job, name, path if path.is_absolute() else root / path)
    if bad:
        _report(job.local_id, rec, bad)
    at = kept.pop(_AT, None)
    if kept or "request_hash" in rec:
        _take_request(job, rec, kept, bad)
    _take_times(job, rec, at)


def _take_request(job: LedgerJob, rec: dict[str, Any], kept: dict[int, Any], bad: list[str]) -> None:
    """What was asked: the request's hash, the request itself (built when asked for), its images."""
    neutral = _version(rec) >= 2
    if rec.get("request_hash") and "request_hash" not in bad:
        job.request_hash = rec["request_hash"]
        job.old_hash = not neutral
    if _REQUEST in kept:
        job.take_request(kept[_REQUEST], neutral)
    if _BODY in kept and not neutral:
        # The exact body sent (images as uploaded URLs) supersedes the intent's request. A
        # version-2 record has the request sent under "request"; its body is for people only.
        job.take_request(kept[_BODY], False)
    if _IMAGES in kept:
        job.images = [i for i in kept[_IMAGES] if _is_image(i)]


def _take_times(job: LedgerJob, rec: dict[str, Any], at: Any) -> None:
    """When it was asked, created, and started running (the record's own time)."""
    event = rec.get("event")
    if event == "intent":
        job.submitted_at = at
    elif event in ("created", "attached"):
        job.created_at = at
    if rec.get("state") == JobState.SUBMITTING:
        job.sent_at = at
    if job.state == JobState.RUNNING and job.started_at is None:
        job.started_at = at


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a ledger is folded: the records and jobs it makes are
    not garbage, and a 100,000-record ledger would otherwise trigger full collections that cost
    more than reading it. Reference counting still frees what is dropped."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclasses.dataclass
class LedgerView:
    """Every job of the ledger as folded so far, grown by the tail each time it is read.

    ``offset`` is the byte offset already read. Each new record is folded onto its job's state
    so far (the fold is a left fold, so this is the same as folding all of the job's records
    again), and only the folded jobs are kept, not the records. A job a new record touches is
    replaced by a copy, so a ``LedgerJob`` handed out earlier never changes under its reader.
    Mutated only under the ledger's exclusive lock (see ``Engine.refresh``).
    """

    root: Path
    offset: int = 0
    jobs: dict[str, LedgerJob] = dataclasses.field(default_factory=dict)
    _by_hash: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    #: The local ids the ledger held when the manager opened it, in order, and those of them
    #: finished and not adopted yet (see ``adoption.restore_all``).
    opened: list[str] = dataclasses.field(default_factory=list)
    deferred: dict[str, None] = dataclasses.field(default_factory=dict)
    #: Every uploaded image URL seen, records folded so far, and how far the index the view
    #: started from (or last wrote) reaches (see ledger_index.py).
    uploads_seen: dict[str, str] = dataclasses.field(default_factory=dict)
    records_seen: int = 0
    indexed_records: int = 0
    indexed_offset: int = 0

    def absorb(self, records: Iterable[dict[str, Any]]) -> dict[str, str]:
        """Fold new records in; returns the uploaded image URLs they name (by sha256)."""
        touched: dict[str, str | None] = {}  # local id -> its request hash before
        uploads: dict[str, str] = {}
        jobs = self.jobs
        with collector_paused():
            for record in records:
                self.records_seen += 1
                if not isinstance(record, dict):
                    continue
                if record.get("event") == "uploaded":
                    if isinstance(record.get("sha256"), str) and isinstance(record.get("url"), str):
                        uploads[record["sha256"]] = record["url"]
                    continue
                local_id = record.get("job")
                if not isinstance(local_id, str) or not local_id:
                    continue
                job = jobs.get(local_id)
                if job is None:
                    job = jobs[local_id] = LedgerJob(local_id=local_id)
                    touched[local_id] = None
                elif local_id not in touched:
                    touched[local_id] = job.request_hash
                    job = jobs[local_id] = copy.copy(job)
                try:
                    _fold_one(job, record, self.root)
                except Exception:
                    log.exception("ledger: a record could not be read and was skipped: %.200r", record)
            for local_id, before in touched.items():
                job = jobs[local_id]
                _rekey(job)
                if job.request_hash and job.request_hash != before:
                    self._by_hash.setdefault(job.request_hash, []).append(local_id)
        self.uploads_seen.update(uploads)
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
