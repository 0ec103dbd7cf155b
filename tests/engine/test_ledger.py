"""The ledger: durable JSON Lines, truncation-tolerant, safe for two processes at once."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from seedance_widgets.engine.ledger import LEDGER_VERSION, Ledger


def test_append_and_read_round_trip(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ledger.append("intent", job="j1", request_hash="abc", state="intent")
    ledger.append("created", job="j1", task_id="task_1", state="queued", error=None)
    records = ledger.read()
    assert [r["event"] for r in records] == ["intent", "created"]
    assert records[1]["task_id"] == "task_1"
    assert "error" not in records[1]  # None fields are left out
    assert all(r["v"] == LEDGER_VERSION and isinstance(r["at"], float) for r in records)


def test_truncated_last_line_is_skipped_and_file_stays_appendable(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    ledger = Ledger(path)
    ledger.append("intent", job="j1")
    ledger.append("created", job="j1", task_id="task_1")
    # A crash mid-write: cut the last record in half (no trailing newline).
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 15])
    assert [r["event"] for r in ledger.read()] == ["intent"]
    ledger.append("status", job="j1", state="running")
    records = ledger.read()
    assert [r["event"] for r in records] == ["intent", "status"]
    # Every line but the damaged one is valid JSON.
    lines = path.read_bytes().split(b"\n")
    bad = [line for line in lines if line.strip() and not _is_json(line)]
    assert len(bad) == 1


def test_missing_file_reads_empty(tmp_path: Path) -> None:
    assert Ledger(tmp_path / "nope.jsonl").read() == []


def test_closed_ledger_refuses_appends(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ledger.append("intent", job="j1")
    ledger.close()
    assert ledger.append("status", job="j1") is None
    assert len(ledger.read()) == 1


def _writer(path: str, name: str, count: int) -> None:
    ledger = Ledger(path)
    for i in range(count):
        # Long records make torn writes likely if locking were broken.
        ledger.append("status", job=f"{name}-{i}", note="x" * 5000)


def test_two_processes_append_concurrently(tmp_path: Path) -> None:
    path = str(tmp_path / "ledger.jsonl")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, name, 150)) for name in ("a", "b")]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    lines = [line for line in Path(path).read_bytes().split(b"\n") if line]
    assert len(lines) == 300
    assert all(_is_json(line) for line in lines)
    jobs = {json.loads(line)["job"] for line in lines}
    assert len(jobs) == 300


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True
