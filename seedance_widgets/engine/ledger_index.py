"""``ledger.index.json``: the fold of a long ledger, kept beside it so a new manager opens at once.

The ledger stays the only source of truth. The index holds what :class:`restore.LedgerView`
made of the ledger's first ``offset`` bytes, with the sha256 of those bytes: a manager uses it
only when the ledger still begins with exactly those bytes and the folding code is the one that
wrote it (a fingerprint of restore.py, store.py and ledger.py), then folds the records after
``offset`` as usual. Anything else (no index, a damaged or foreign one, a ledger cut or replaced)
means folding the whole ledger, as without an index.

Written by a background thread once a manager has folded ``INDEX_EVERY`` records beyond the
index it found: to a temporary file, flushed to disk, then renamed over the old index, so a
process killed at any point leaves the old index or the new one, never a part of one (a
left-over temporary file is ignored, and removed by the next write).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from .ledger import LEDGER_VERSION
from .restore import LedgerJob, LedgerView, collector_paused

log = logging.getLogger("seedance_widgets.engine")

INDEX_NAME = "ledger.index.json"
#: Records folded beyond the index before a manager writes a new one.
INDEX_EVERY = 5000
_FORMAT = 1
_PATH_FIELDS = ("path", "last_frame")
_HERE = Path(__file__).resolve().parent
#: What an index holds: the jobs in order, the job ids by request hash, uploaded URLs by sha256.
_State = tuple[list[LedgerJob], dict[str, list[str]], dict[str, str]]


@functools.cache
def fingerprint() -> str:
    """Which folding code wrote an index: another one (an upgrade) folds the ledger again."""
    digest = hashlib.sha256(f"{_FORMAT}/{LEDGER_VERSION}".encode())
    for name in ("restore.py", "store.py", "ledger.py", "ledger_index.py"):
        digest.update((_HERE / name).read_bytes())
    return digest.hexdigest()


def index_path(ledger_path: Path) -> Path:
    return ledger_path.with_name(INDEX_NAME)


def load(view: LedgerView, ledger_path: Path) -> dict[str, str]:
    """Fill an empty ``view`` from the index when it still describes the ledger's beginning;
    returns the uploaded image URLs it holds. Never raises: an unusable index is ignored."""
    with collector_paused():
        return _load(view, ledger_path)


def _load(view: LedgerView, ledger_path: Path) -> dict[str, str]:
    try:
        data = json.loads(index_path(ledger_path).read_bytes())
        offset = data["offset"]
        if data.get("format") != _FORMAT or data.get("fingerprint") != fingerprint() or offset <= 0:
            return {}
        with ledger_path.open("rb") as handle:
            prefix = handle.read(offset)
        if len(prefix) != offset or not prefix.endswith(b"\n"):
            return {}
        if hashlib.sha256(prefix).hexdigest() != data["prefix_sha256"]:
            return {}  # the ledger was cut or replaced: it alone is read
        jobs = {row[0]: _job(data["fields"], row, view.root) for row in data["jobs"]}
        by_hash = {str(k): [str(i) for i in v] for k, v in data["by_hash"].items()}
        uploads = {str(k): str(v) for k, v in data["uploads"].items()}
    except FileNotFoundError:
        return {}
    except Exception:  # damaged, foreign, or of another shape: the ledger is read instead
        log.info("ledger index %s is unusable; reading the whole ledger", index_path(ledger_path))
        return {}
    view.jobs, view._by_hash, view.offset = jobs, by_hash, offset
    view.uploads_seen = dict(uploads)
    view.indexed_offset = offset
    return uploads


def _job(fields: list[str], row: list[Any], root: Path) -> LedgerJob:
    values = dict(zip(fields, row, strict=True))
    for name in _PATH_FIELDS:
        if values.get(name) is not None:
            path = Path(values[name])
            values[name] = path if path.is_absolute() else root / path
    raws = values.get("raw_requests")
    values["raw_requests"] = [(value, bool(neutral)) for value, neutral in raws] if raws else None
    return LedgerJob(**values)


def _row(fields: list[str], job: LedgerJob, root: Path) -> list[Any]:
    values = {f: getattr(job, f) for f in fields}
    raws = job.raw_requests
    if raws is None and job.built_request is not None:
        raws = [(job.built_request.to_dict(), True)]
    values["raw_requests"] = [[value, neutral] for value, neutral in raws] if raws else None
    values["built_request"] = None
    for name in _PATH_FIELDS:
        path = values.get(name)
        if path is not None:
            # Inside the folder: relative, as the ledger says it (the folder may move).
            values[name] = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    return [values[f] for f in fields]


def save_later(view: LedgerView, ledger_path: Path) -> None:
    """Write a new index in the background when the view has folded ``INDEX_EVERY`` records
    beyond the one it started from. Caller holds the ledger's exclusive lock (the view is
    taken as it is now: its jobs are never changed once handed out, see ``LedgerView``)."""
    if view.records_seen - view.indexed_records < INDEX_EVERY:
        return
    state = (
        list(view.jobs.values()),
        {k: list(v) for k, v in view._by_hash.items()},
        dict(view.uploads_seen),
    )
    offset = view.offset
    view.indexed_records = view.records_seen
    thread = threading.Thread(
        target=_save, args=(state, offset, view.root, ledger_path), name="seedance-ledger-index", daemon=True
    )
    thread.start()


def _save(
    state: tuple[list[LedgerJob], dict[str, list[str]], dict[str, str]],
    offset: int,
    root: Path,
    ledger_path: Path,
) -> None:
    try:
        write(state, offset, root, ledger_path)
    except Exception:  # an index is only a shortcut: a folder that cannot hold one still works
        log.info("ledger index not written beside %s", ledger_path, exc_info=True)


def write(
    state: tuple[list[LedgerJob], dict[str, list[str]], dict[str, str]],
    offset: int,
    root: Path,
    ledger_path: Path,
) -> Path:
    """Write the index of the ledger's first ``offset`` bytes atomically; returns its path."""
    jobs, by_hash, uploads = state
    with ledger_path.open("rb") as handle:
        prefix = handle.read(offset)
    if len(prefix) != offset:
        raise ValueError(f"the ledger is shorter than {offset} bytes")
    fields = [f.name for f in dataclasses.fields(LedgerJob)]
    body = {
        "format": _FORMAT,
        "fingerprint": fingerprint(),
        "offset": offset,
        "prefix_sha256": hashlib.sha256(prefix).hexdigest(),
        "fields": fields,
        "jobs": [_row(fields, job, root) for job in jobs],
        "by_hash": by_hash,
        "uploads": uploads,
    }
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    final = index_path(ledger_path)
    for stale in final.parent.glob(f".{INDEX_NAME}.*.tmp"):
        with contextlib.suppress(OSError):
            if stale.stat().st_mtime < os.path.getmtime(ledger_path) - 3600:
                stale.unlink()  # left by a process killed while writing
    tmp = final.with_name(f".{INDEX_NAME}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    with contextlib.suppress(OSError):
        folder = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    return final
