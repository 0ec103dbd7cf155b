"""A long ledger opens fast and reads the same (issue 16): the chunked parser, the incremental
fold with requests built on demand, and finished jobs adopted when asked for.

The ledgers are those of ``benchmarks/bench_ledger.py`` (months of jobs by many kernels, records
of both versions, in the engine's own shapes), smaller.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest

from benchmarks.bench_ledger import build_ledger
from seedance_widgets.api import GenerationRequest
from seedance_widgets.engine import Job, JobManager, JobState
from seedance_widgets.engine import ledger as ledger_module
from seedance_widgets.engine.ledger import Ledger
from seedance_widgets.engine.restore import LedgerJob, LedgerView, fold


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
