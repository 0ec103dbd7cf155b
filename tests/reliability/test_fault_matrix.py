"""The fault matrix: every emulator fault at every kind of request, one job each, through the engine.

Each cell runs one real job (a local first frame, so it uploads, creates, polls and downloads) with
ONE fault injected into the first request of one kind, and checks the promises that hold whatever
happens: never more than one task per job, a create re-sent only when the gateway proved no task
was made, no file under a final name that is not a whole MP4, no temp file left behind, a ledger
that parses, and a job that ends. The expected ending of each cell is written down below, so a
change of verdict (say, a lost create reply whose task exists called "failed", which invites
paying twice) fails.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from seedance_widgets.api import GenerationRequest, RetryPolicy, SeedanceClient
from seedance_widgets.api.media import mp4_problem
from seedance_widgets.emulator import FAULTS, KINDS, Emulator, EmulatorConfig
from seedance_widgets.engine import JobManager, JobState

SPEED = 20.0
WAIT = 60.0
DONE, MAY_EXIST, FAILED = JobState.DONE, JobState.MAY_EXIST, JobState.FAILED
# (kind, fault) -> (ending, creates the emulator receives, tasks it makes).
EXPECTED: dict[tuple[str, str], tuple[str, int, int]] = {
    # create: re-sent only after a reply that proves no task was made (429; 503 + Retry-After).
    # A lost or unusable reply is looked up by the create's client_business_id: the task found is
    # watched (done, still one create); the gateway's 404 after a grace means none was made.
    ("create", "402"): (FAILED, 1, 0),
    ("create", "429"): (DONE, 2, 1),
    ("create", "500"): (FAILED, 1, 0),  # no task for its business id: "not created"
    ("create", "503"): (DONE, 2, 1),
    ("create", "reset"): (DONE, 1, 1),  # the task is made, the reply lost: found by business id
    ("create", "hang"): (DONE, 1, 1),
    ("create", "truncate"): (DONE, 1, 1),  # half a reply is a lost reply
    ("create", "slow"): (DONE, 1, 1),
    ("create", "chunked_truncate"): (DONE, 1, 1),  # a short reply, cleanly ended: still lost
    ("create", "broken_mp4"): (DONE, 1, 1),  # only MP4 bodies are touched
    # polls are free: every fault is waited out
    ("get", "402"): (FAILED, 1, 1),
    ("get", "429"): (DONE, 1, 1),
    ("get", "500"): (DONE, 1, 1),
    ("get", "503"): (DONE, 1, 1),
    ("get", "reset"): (DONE, 1, 1),
    ("get", "hang"): (DONE, 1, 1),
    ("get", "truncate"): (DONE, 1, 1),
    ("get", "slow"): (DONE, 1, 1),
    ("get", "chunked_truncate"): (DONE, 1, 1),
    ("get", "broken_mp4"): (DONE, 1, 1),
    # an upload is safe to repeat (nothing is billed); quota says stop
    ("upload", "402"): (FAILED, 0, 0),
    ("upload", "429"): (DONE, 1, 1),
    ("upload", "500"): (DONE, 1, 1),
    ("upload", "503"): (DONE, 1, 1),
    ("upload", "reset"): (DONE, 1, 1),
    ("upload", "hang"): (DONE, 1, 1),
    ("upload", "truncate"): (DONE, 1, 1),
    ("upload", "slow"): (DONE, 1, 1),
    ("upload", "chunked_truncate"): (DONE, 1, 1),
    ("upload", "broken_mp4"): (DONE, 1, 1),
    # downloads retry; the finished task is never paid for again
    ("download", "402"): (DONE, 1, 1),
    ("download", "429"): (DONE, 1, 1),
    ("download", "500"): (DONE, 1, 1),
    ("download", "503"): (DONE, 1, 1),
    ("download", "reset"): (DONE, 1, 1),
    ("download", "hang"): (DONE, 1, 1),
    ("download", "truncate"): (DONE, 1, 1),
    ("download", "slow"): (DONE, 1, 1),
    ("download", "chunked_truncate"): (DONE, 1, 1),
    ("download", "broken_mp4"): (DONE, 1, 1),
}

CELLS = [(kind, fault) for kind in KINDS for fault in FAULTS]


def test_every_fault_has_a_written_down_verdict() -> None:
    """A new emulator fault must be classified here before the matrix can pass."""
    missing = [cell for cell in CELLS if cell not in EXPECTED]
    assert not missing, f"classify these fault cells in EXPECTED: {missing}"


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 36), (200, 80, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def matrix_emulator() -> Iterator[Emulator]:
    config = EmulatorConfig(speed=SPEED, retry_after=0.2, hang_seconds=4.0, slow_bytes_per_second=400_000.0)
    with Emulator(config) as emu:
        yield emu


def _client(emu: Emulator) -> SeedanceClient:
    # Short read timeouts so a held reply is a lost reply within a second, and short back-offs.
    retry = RetryPolicy(attempts=4, base_delay=0.05, max_delay=0.3, jitter=0.0, max_retry_after=1.0)
    return SeedanceClient(api_key=emu.api_key, base_url=emu.base_url, timeout=(2.0, 1.0), retry=retry)


def _whole_files(out: Path) -> tuple[list[str], list[str]]:
    """(names under final names that are not whole MP4s, temp files left anywhere)."""
    broken = [p.name for p in (out / "videos").glob("*.mp4") if mp4_problem(p) is not None]
    temps = [p.name for p in out.rglob("*") if p.is_file() and p.suffix in (".part", ".tmp", ".incoming")]
    return broken, temps


@pytest.mark.parametrize(("kind", "fault"), CELLS, ids=[f"{k}-{f}" for k, f in CELLS])
def test_fault_cell(kind: str, fault: str, matrix_emulator: Emulator, tmp_path: Path, report: object) -> None:
    emu = matrix_emulator
    emu.configure(fail_next={})
    emu.reset_stats()
    tasks_before = len(emu.task_ids())  # the emulator's task list lives as long as it does
    ending, creates, tasks = EXPECTED[kind, fault]
    out = tmp_path / "seedance_outputs"
    manager = JobManager(out, client=_client(emu), time_scale=SPEED)
    try:
        emu.fail_next(kind, fault)
        request = GenerationRequest(prompt=f"matrix {kind} {fault}", duration=4, resolution="480p")
        job = manager.submit(request, images=[("first_frame", _png())])
        with pytest.raises(Exception) if ending != DONE else contextlib.nullcontext():
            job.wait(WAIT)  # type: ignore[union-attr]
        snap = job.snapshot()  # type: ignore[union-attr]
    finally:
        manager.shutdown()
    stats = {**emu.stats(), "tasks": len(emu.task_ids()) - tasks_before}
    broken, temps = _whole_files(out)
    records = [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]
    report.add(  # type: ignore[attr-defined]
        kind=kind,
        fault=fault,
        ending=snap.state,
        code=snap.error_code or "",
        creates=stats["create"],
        tasks=stats["tasks"],
        task_id_kept="yes" if (stats["tasks"] == 0 or snap.task_id or snap.state == MAY_EXIST) else "NO",
    )
    assert snap.state == ending, f"{kind}/{fault}: ended {snap.state} ({snap.error}), expected {ending}"
    assert stats["create"] == creates, f"{kind}/{fault}: {stats['create']} creates, expected {creates}"
    assert stats["tasks"] == tasks
    assert not broken, f"not whole MP4s under final names: {broken}"
    assert not temps, f"temp files left behind: {temps}"
    assert records, "the ledger is empty"
    if stats["tasks"] and snap.state != MAY_EXIST:
        assert snap.task_id, "a created task's id was lost"
