"""A long ledger opens fast and reads the same (issue 16): the chunked parser, the incremental
fold with requests built on demand, and finished jobs adopted when asked for.

The ledgers are those of ``benchmarks/bench_ledger.py`` (months of jobs by many kernels, records
of both versions, in the engine's own shapes), smaller.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from benchmarks.bench_ledger import build_ledger
from seedance_widgets.api import GenerationRequest
from seedance_widgets.engine import Job, JobManager, JobState, ledger_index
from seedance_widgets.engine import ledger as ledger_module
from seedance_widgets.engine.ledger import Ledger
from seedance_widgets.engine.restore import LedgerJob, LedgerView, fold

ROOT = Path(__file__).resolve().parents[2]


def _no_client() -> Any:
    raise AssertionError("a manager serving saved videos must not make a client (no HTTP)")


def _lines_one_by_one(path: Path) -> list[dict[str, Any]]:
    """What reading the ledger means: every line that is one JSON record, in order."""
    records = []
    for raw in path.read_bytes().split(b"\n"):
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict) and "event" in record:
            records.append(record)
    return records


def _facts(job: LedgerJob) -> dict[str, Any]:
    facts = dataclasses.asdict(job)
    facts.pop("raw_requests")
    facts["built_request"] = job.request
    return facts


def test_chunked_parse_reads_exactly_the_whole_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_ledger(tmp_path, 600)
    path = tmp_path / "ledger.jsonl"
    lines = path.read_bytes().split(b"\n")
    # Damage of every kind a crash or a hand edit leaves, spread over many chunks.
    lines[10] = lines[10][: len(lines[10]) // 2]  # cut short
    lines[50] = b""  # blank
    lines[90] = b"   "
    lines[130] = b'{"event":"status","job":"a"},{"event":"status","job":"b"}'  # two records on one line
    lines[170] = b"[1, 2]"
    lines[210] = b'"text"'
    lines[250] = lines[250] + b"\r"
    lines[290] = b'{"no_event": 1}'
    path.write_bytes(b"\n".join(lines))
    expected = _lines_one_by_one(path)
    for chunk in (64, 1000, 1 << 20):
        monkeypatch.setattr(ledger_module, "_PARSE_CHUNK", chunk)
        assert Ledger(path).read() == expected, chunk


def test_folding_in_pieces_is_folding_at_once(tmp_path: Path) -> None:
    build_ledger(tmp_path, 3000)
    records = Ledger(tmp_path / "ledger.jsonl").read()
    whole, uploads = fold(records, tmp_path)
    rng = random.Random(7)
    for _ in range(3):
        view, start, seen = LedgerView(tmp_path), 0, {}
        while start < len(records):
            end = start + rng.randint(1, 400)
            seen.update(view.absorb(records[start:end]))
            start = end
        assert seen == uploads
        assert list(view.jobs) == list(whole)
        for local_id, job in whole.items():
            assert _facts(view.jobs[local_id]) == _facts(job), local_id
        some = next(j for j in whole.values() if j.request_hash)
        assert [j.local_id for j in view.with_hash(some.request_hash or "")] == [
            j.local_id for j in whole.values() if j.request_hash == some.request_hash
        ]


def test_a_job_handed_out_never_changes_under_its_reader(tmp_path: Path) -> None:
    view = LedgerView(tmp_path)
    view.absorb([{"v": 2, "at": 1.0, "event": "intent", "job": "j1", "state": "intent"}])
    before = view.jobs["j1"]
    view.absorb([{"v": 2, "at": 2.0, "event": "created", "job": "j1", "task_id": "t1", "state": "queued"}])
    assert (before.state, before.task_id) == ("intent", None)
    assert (view.jobs["j1"].state, view.jobs["j1"].task_id) == ("queued", "t1")


def test_the_newest_request_that_still_validates_is_the_jobs(tmp_path: Path) -> None:
    good = GenerationRequest(prompt="a fox at dusk", duration=5, resolution="480p").to_dict()
    newer = {**good, "duration": 4}
    broken = {**good, "duration": 999}
    jobs, _ = fold(
        [
            {"v": 2, "at": 1.0, "event": "intent", "job": "j1", "request": good, "state": "intent"},
            {"v": 2, "at": 2.0, "event": "status", "job": "j1", "request": newer, "state": "submitting"},
            {"v": 2, "at": 3.0, "event": "status", "job": "j1", "request": broken},
        ],
        tmp_path,
    )
    request = jobs["j1"].request
    assert request is not None
    assert request.duration == 4
    assert jobs["j1"].sent_at == 2.0


def test_a_new_manager_serves_the_saved_videos_and_lists_every_job(tmp_path: Path) -> None:
    probes = build_ledger(tmp_path, 4000)
    ids = list(dict.fromkeys(r["job"] for r in Ledger(tmp_path / "ledger.jsonl").read() if r.get("job")))
    manager = JobManager(tmp_path, client_factory=_no_client)
    try:
        for probe in probes:
            request = GenerationRequest.from_dict(probe)
            assert manager.is_cached(request)
            job = manager.submit(request)
            assert isinstance(job, Job)
            assert job.snapshot().from_cache
            assert job.status == JobState.DONE
        old = manager.get(ids[0])
        assert old is not None
        assert old.snapshot().is_final
        listed = [job.local_id for job in manager.jobs()]
        # Oldest first: the ledger's jobs in its order, then this session's (the cache hits).
        assert listed[: len(ids)] == ids
        assert len(listed) == len(ids) + len(probes)
        assert len(set(listed)) == len(listed)
    finally:
        manager.shutdown()


def test_an_earlier_releases_job_answers_todays_request(tmp_path: Path) -> None:
    """A version-1 job's cache key is computed again from its body (the fold's last step)."""
    build_ledger(tmp_path, 2000)
    records = Ledger(tmp_path / "ledger.jsonl").read()
    done_v1 = next(r for r in records if r.get("v") == 1 and r.get("event") == "downloaded")
    body = next(r["body"] for r in records if r.get("job") == done_v1["job"] and "body" in r)
    request = GenerationRequest.from_body(body)
    video = tmp_path / done_v1["path"]
    video.parent.mkdir(parents=True, exist_ok=True)
    video.write_bytes(b"not a real video, only its bytes")
    rewritten = [
        {**r, "sha256": hashlib.sha256(video.read_bytes()).hexdigest()} if r is done_v1 else r
        for r in records
    ]
    (tmp_path / "ledger.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rewritten))
    manager = JobManager(tmp_path, client_factory=_no_client)
    try:
        assert manager.is_cached(request)
        job = manager.submit(request)
        assert isinstance(job, Job)
        assert job.snapshot().from_cache
        assert job.snapshot().path == video
    finally:
        manager.shutdown()


# ---- the index beside the ledger ---------------------------------------------------------------
def _fold_with_index(folder: Path) -> LedgerView:
    """What a new manager folds: the index (when usable), then the ledger after it."""
    view = LedgerView(folder)
    uploads = ledger_index.load(view, folder / "ledger.jsonl")
    records, view.offset = Ledger(folder / "ledger.jsonl").iter_from(view.offset)
    uploads.update(view.absorb(records))
    view.uploads_seen = uploads
    return view


def _same_fold(view: LedgerView, folder: Path) -> None:
    whole, uploads = fold(Ledger(folder / "ledger.jsonl").read(), folder)
    assert list(view.jobs) == list(whole)
    for local_id, job in whole.items():
        assert _facts(view.jobs[local_id]) == _facts(job), local_id
    assert view.uploads_seen == uploads
    for request_hash in {j.request_hash for j in whole.values() if j.request_hash}:
        assert [j.local_id for j in view.with_hash(request_hash)] == [
            j.local_id for j in whole.values() if j.request_hash == request_hash
        ]


def _write_index_of_first(folder: Path, records: int) -> int:
    """Index the ledger's first ``records`` whole lines, as a manager would; returns the offset."""
    data = (folder / "ledger.jsonl").read_bytes()
    offset = 0
    for _ in range(records):
        offset = data.index(b"\n", offset) + 1
    view = LedgerView(folder)
    view.absorb(Ledger(folder / "ledger.jsonl").read_from(0)[0][:records])
    state = (list(view.jobs.values()), {k: list(v) for k, v in view._by_hash.items()}, view.uploads_seen)
    ledger_index.write(state, offset, folder, folder / "ledger.jsonl")
    return offset


def test_the_index_and_the_records_after_it_fold_as_the_whole_ledger(tmp_path: Path) -> None:
    build_ledger(tmp_path, 3000)
    offset = _write_index_of_first(tmp_path, 1700)
    view = _fold_with_index(tmp_path)
    assert view.indexed_offset == offset  # the index was used
    _same_fold(view, tmp_path)


def test_an_index_that_no_longer_describes_the_ledger_is_ignored(tmp_path: Path) -> None:
    build_ledger(tmp_path, 2000)
    ledger = tmp_path / "ledger.jsonl"
    original = ledger.read_bytes()
    _write_index_of_first(tmp_path, 1500)
    index = tmp_path / ledger_index.INDEX_NAME
    kept = index.read_bytes()
    changed = original.replace(b'"state":"failed"', b'"state":"done"  ', 1)  # same length, earlier bytes
    assert changed != original
    for ledger_bytes, index_bytes in [
        (changed, kept),  # edited by hand before the offset
        (original[:1000], kept),  # cut short
        (original, kept[: len(kept) // 2]),  # an index cut short (cannot happen: written atomically)
        (original, kept.replace(b'"format":1', b'"format":99')),
    ]:
        ledger.write_bytes(ledger_bytes)
        index.write_bytes(index_bytes)
        view = _fold_with_index(tmp_path)
        assert view.indexed_offset == 0
        _same_fold(view, tmp_path)


_WRITER = """
import sys
from pathlib import Path
from seedance_widgets.engine import ledger_index
from seedance_widgets.engine.ledger import Ledger
from seedance_widgets.engine.restore import LedgerView
folder = Path(sys.argv[1])
view = LedgerView(folder)
records, view.offset = Ledger(folder / "ledger.jsonl").iter_from(0)
view.absorb(records)
state = (list(view.jobs.values()), {k: list(v) for k, v in view._by_hash.items()}, view.uploads_seen)
print("ready", flush=True)
while True:
    ledger_index.write(state, view.offset, folder, folder / "ledger.jsonl")
"""


def _index_files(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.glob("*ledger.index.json*")}


def _wait_for_index_bytes(folder: Path) -> None:
    """Return as soon as a file of the index (its temporary one, or itself) gains bytes."""
    before = _index_files(folder)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            now = _index_files(folder)
            if any(size and now[name] != before.get(name) for name, (size, _) in now.items()):
                return
        time.sleep(0.0002)
    raise AssertionError("the writer never wrote an index")


def test_an_index_writer_killed_at_any_point_leaves_a_correct_open(tmp_path: Path) -> None:
    build_ledger(tmp_path, 20_000)
    rng = random.Random(16)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    index = tmp_path / ledger_index.INDEX_NAME
    for attempt in range(8):
        child = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        if attempt % 2:
            time.sleep(rng.uniform(0.0, 0.4))  # anywhere: making the index, writing it, renaming
        else:
            _wait_for_index_bytes(tmp_path)  # in the middle of writing the index's bytes
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdout.close()
        view = _fold_with_index(tmp_path)
        if index.exists():
            assert view.indexed_offset > 0, f"kill {attempt}: an index that is there must be whole"
        _same_fold(view, tmp_path)
    assert index.exists()
    # Left-over temporary files of killed writers are not indexes: the next open is still right.
    _same_fold(_fold_with_index(tmp_path), tmp_path)
