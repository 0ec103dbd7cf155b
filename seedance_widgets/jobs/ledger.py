"""The ledger: an append-only JSON Lines file, one record per job transition.

Each append takes an exclusive ``fcntl`` lock on the file, writes one whole line,
flushes and fsyncs before releasing it, so two kernels sharing an output folder
interleave whole records and never corrupt each other. A line cut short by a crash
is skipped when reading; the next append first ends it with a newline so the file
stays appendable. Records never hold the API key (only request bodies, task ids,
URLs, paths and hashes are written).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger("seedance_widgets.jobs")

LEDGER_VERSION = 1


class Ledger:
    """Append and read records of ``path`` (created on first append)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._thread_lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r})"

    @contextlib.contextmanager
    def _locked_fd(self, *, shared: bool = False) -> Iterator[int]:
        """The file, locked: shared for readers, exclusive for the one writer at a time."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            yield fd
        finally:
            # Closing the descriptor also releases the flock.
            os.close(fd)

    def append(self, event: str, **fields: Any) -> dict[str, Any] | None:
        """Write one record durably and return it (None once the ledger is closed at exit)."""
        record: dict[str, Any] = {"v": LEDGER_VERSION, "at": round(time.time(), 3), "event": event}
        record.update({k: v for k, v in fields.items() if v is not None})
        line = (json.dumps(record, separators=(",", ":"), ensure_ascii=False, default=str) + "\n").encode()
        with self._thread_lock:
            if self._closed:
                log.info("ledger closed (interpreter exiting): %s record not written", event)
                return None
            with self._locked_fd() as fd:
                size = os.fstat(fd).st_size
                if size:
                    os.lseek(fd, size - 1, os.SEEK_SET)
                    # A crash mid-line left no newline: end that line so ours stands alone.
                    if os.read(fd, 1) != b"\n":
                        line = b"\n" + line
                _write_all(fd, line)
                os.fsync(fd)
        return record

    def read(self) -> list[dict[str, Any]]:
        """Every whole, parseable record in file order (a broken line is skipped with a log)."""
        if not self.path.exists():
            return []
        with self._locked_fd(shared=True) as fd, os.fdopen(os.dup(fd), "rb") as handle:
            handle.seek(0)
            data = handle.read()
        records: list[dict[str, Any]] = []
        for number, raw in enumerate(data.split(b"\n"), start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                log.warning("ledger %s: line %d is incomplete or damaged; skipped", self.path, number)
                continue
            if isinstance(record, dict) and "event" in record:
                records.append(record)
        return records

    def close(self) -> None:
        """Refuse further appends (after any append in progress has finished)."""
        with self._thread_lock:
            self._closed = True


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
