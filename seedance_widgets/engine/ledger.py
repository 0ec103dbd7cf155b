"""The ledger: an append-only JSON Lines file, one record per job transition.

Each append takes an exclusive ``fcntl`` lock on the file, writes one whole line,
flushes and fsyncs before releasing it, so two kernels sharing an output folder
interleave whole records and never corrupt each other. A line cut short by a crash
is skipped when reading; the next append first ends it with a newline so the file
stays appendable. Records never hold the API key (only request bodies, task ids,
URLs, paths and hashes are written).

Several managers (in one process or many) share one ledger as their common memory:
:meth:`Ledger.read_from` returns only the records appended since a byte offset (the
"tail" a manager has not seen yet), and :meth:`Ledger.exclusive` holds the exclusive
lock across several reads and appends, so "read the tail, decide, append the intent"
is one atomic step across processes. Inside it, this thread's appends and reads use
the held descriptor (a second ``flock`` on the same file would wait for ourselves).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger("seedance_widgets.engine")

#: The record version written. 2: requests are neutral (``GenerationRequest.to_dict()``, with
#: ``model`` and ``protocol``), ``request_hash`` is the key of the neutral request, and an intent
#: carries its create's ``client_business_id``. 1 (earlier releases): requests are ToAPIs bodies
#: and hashes are of the body; restore reads both (see restore.py).
LEDGER_VERSION = 2


class Ledger:
    """Append and read records of ``path`` (created on first append)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        # Re-entrant: the thread inside `exclusive()` appends and reads through the held lock.
        self._thread_lock = threading.RLock()
        self._closed = False
        #: The descriptor of the `exclusive()` section; only its thread (holding the RLock) sees it.
        self._held: int | None = None

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r})"

    @contextlib.contextmanager
    def _locked_fd(self, *, shared: bool = False) -> Iterator[int]:
        """The file, locked: shared for readers, exclusive for the one writer at a time."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as err:
            # A read-only ledger (or folder) can still be read and locked; an append through this
            # descriptor then fails with OSError, which the manager keeps for later.
            if err.errno not in (errno.EACCES, errno.EPERM, errno.EROFS) or not self.path.exists():
                raise
            fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            yield fd
        finally:
            # Closing the descriptor also releases the flock.
            os.close(fd)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the exclusive lock (threads of this process and other processes) until the block ends.

        Appends and reads made by this thread inside the block go through the held lock, so a
        caller can read the tail, decide and append with nobody writing in between. Re-entrant.
        Keep the block short: every other writer of the folder waits for it.
        """
        with self._thread_lock:
            if self._held is not None:
                yield
                return
            with self._locked_fd() as fd:
                self._held = fd
                try:
                    yield
                finally:
                    self._held = None

    def append(self, event: str, **fields: Any) -> dict[str, Any] | None:
        """Write one record durably and return it (None once the ledger is closed at exit)."""
        record: dict[str, Any] = {"v": LEDGER_VERSION, "at": round(time.time(), 3), "event": event}
        record.update({k: v for k, v in fields.items() if v is not None})
        line = (json.dumps(record, separators=(",", ":"), ensure_ascii=False, default=str) + "\n").encode()
        with self._thread_lock:
            if self._closed:
                log.info("ledger closed (interpreter exiting): %s record not written", event)
                return None
            if self._held is not None:
                _append_line(self._held, line)
            else:
                with self._locked_fd() as fd:
                    _append_line(fd, line)
        return record

    def read(self) -> list[dict[str, Any]]:
        """Every whole, parseable record in file order (a broken line is skipped with a log)."""
        return self.read_from(0)[0]

    def read_from(self, offset: int) -> tuple[list[dict[str, Any]], int]:
        """The records appended after byte ``offset``, and the offset to pass next time.

        Only whole lines are consumed: a last line without its newline (a writer killed
        mid-record) is left for later unless it already parses, so it is read exactly once
        after the next append ends it. A file shorter than ``offset`` (replaced or cut by
        hand) is read again from the start.
        """
        records, new_offset = self.iter_from(offset)
        return list(records), new_offset

    def iter_from(self, offset: int) -> tuple[Iterator[dict[str, Any]], int]:
        """:meth:`read_from`, with the records parsed as they are iterated (a chunk of lines at
        a time), so a long tail (a folder's first read) is never held parsed all at once.
        The bytes are read at once, under the lock; iterating needs no lock."""
        with self._thread_lock:
            if self._held is not None:
                data, start = _read_after(self._held, offset, self.path)
            elif not self.path.exists():
                return iter(()), 0
            else:
                with self._locked_fd(shared=True) as fd:
                    data, start = _read_after(fd, offset, self.path)
        end = data.rfind(b"\n") + 1
        fragment = data[end:]
        if fragment.strip() and _parse_line(fragment) is not None:
            end = len(data)  # a whole record that only lacks its newline
        return _parse(data[:end], self.path), start + end

    def close(self) -> None:
        """Refuse further appends (after any append in progress has finished)."""
        with self._thread_lock:
            self._closed = True


def _append_line(fd: int, line: bytes) -> None:
    """Write one record at the end of the locked file, durably."""
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
        # A crash mid-line left no newline: end that line so ours stands alone.
        line = b"\n" + line
    _write_all(fd, line)
    os.fsync(fd)


def _read_after(fd: int, offset: int, path: Path) -> tuple[bytes, int]:
    """The bytes after ``offset`` of the locked file, and where they start."""
    size = os.fstat(fd).st_size
    if size < offset:
        log.warning("ledger %s is shorter than already read (replaced?); reading it again", path)
        offset = 0
    chunks: list[bytes] = []
    position = offset
    while position < size:
        chunk = os.pread(fd, size - position, position)
        if not chunk:
            break
        chunks.append(chunk)
        position += len(chunk)
    return b"".join(chunks), offset


def _parse_line(raw: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    return record if isinstance(record, dict) and "event" in record else None


#: Bytes of whole lines parsed at a time: small enough that a long ledger is never held parsed
#: all at once, large enough that a chunk is one ``json.loads`` call.
_PARSE_CHUNK = 1 << 20


def _parse(data: bytes, path: Path) -> Iterator[dict[str, Any]]:
    """The records of the whole lines ``data``, a chunk of lines at a time, in file order."""
    start, size = 0, len(data)
    while start < size:
        end = data.find(b"\n", start + _PARSE_CHUNK) if start + _PARSE_CHUNK < size else -1
        end = size if end < 0 else end
        yield from _parse_chunk(data[start:end], path)
        start = end + 1


def _parse_chunk(chunk: bytes, path: Path) -> list[dict[str, Any]]:
    """Whole lines as records. Written lines are one JSON object each (``json.dumps`` writes no
    newline inside one), so the chunk is parsed as one array, which is much faster than a
    ``json.loads`` per line. Anything unusual (a blank or damaged line, a line that is not one
    record) falls back to reading line by line, which skips exactly the bad lines."""
    chunk = chunk.rstrip(b"\n")
    if not chunk.strip():
        return []
    try:
        records = json.loads(b"[" + chunk.replace(b"\n", b",") + b"]")
    except ValueError:
        records = None
    if (
        isinstance(records, list)
        and len(records) == chunk.count(b"\n") + 1
        and all(type(r) is dict and "event" in r for r in records)
    ):
        return records
    return _parse_lines(chunk, path)


def _parse_lines(data: bytes, path: Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        record = _parse_line(raw)
        if record is None:
            log.warning("ledger %s: a line is incomplete or damaged; skipped", path)
            continue
        records.append(record)
    return records


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
