"""One output folder, several managers (two kernels, two processes, two managers in one
process): exactly one paid task per request; the others follow it and end with the same file.

The cross-process tests run real child processes, each with its own JobManager on the same
folder and the same emulator; a pipe is their barrier (the test writes one line to every
child's stdin once all are ready), so they ask at the same moment. Nothing here sleeps to
prove something did not happen: tests wait on job observers and on ledger records.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import quick_request

from seedance_widgets.api import GenerationRequest, SeedanceClient
from seedance_widgets.emulator import Emulator
from seedance_widgets.engine import Job, JobManager, JobMayExistError, JobState, Store
from seedance_widgets.engine.ledger import Ledger
from seedance_widgets.engine.store import request_key

WAIT = 60.0
ROOT = Path(__file__).resolve().parents[2]

# A child process: its own manager on the shared folder; asks once the test says "go".
_CHILD = """
import json, sys
from pathlib import Path
from seedance_widgets.api import GenerationRequest, SeedanceClient
from seedance_widgets.engine import JobError, JobManager
url, key, out, scale, *prompts = sys.argv[1:]
manager = JobManager(Path(out), client=SeedanceClient(api_key=key, base_url=url), time_scale=float(scale))
print("ready", flush=True)
sys.stdin.readline()  # the barrier
jobs = [manager.submit(GenerationRequest(prompt=p, duration=4, resolution="480p")) for p in prompts]
asked = [job.snapshot() for job in jobs]
for job in jobs:
    try:
        job.wait(120)
    except JobError:
        pass
rows = []
for job, first in zip(jobs, asked):
    snap = job.snapshot()
    rows.append({
        "prompt": snap.prompt, "local_id": snap.local_id, "state": snap.state, "error": snap.error,
        "task_id": snap.task_id, "sha256": snap.sha256, "path": str(snap.path),
        "asked_state": first.state, "asked_from_cache": first.from_cache,
    })
print(json.dumps(rows), flush=True)
manager.shutdown()
"""


class Child:
    """One child process with its own manager, held at the barrier until :meth:`go`."""

    def __init__(self, emulator: Emulator, out: Path, prompts: list[str], scale: float) -> None:
        args = [emulator.base_url, emulator.api_key, str(out), str(scale), *prompts]
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, *args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_ready(self) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.strip() == "ready", f"child did not start: {line!r} {self._stderr()}"

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def result(self) -> list[dict[str, Any]]:
        out, err = self.proc.communicate(timeout=180)
        assert self.proc.returncode == 0, err
        return json.loads(out.strip().splitlines()[-1])

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()

    def _stderr(self) -> str:
        self.kill()
        return self.proc.stderr.read() if self.proc.stderr else ""


@pytest.fixture
def children() -> Any:
    made: list[Child] = []
    yield made
    for child in made:
        child.kill()


def wait_until(condition: Callable[[], bool], timeout: float = WAIT) -> None:
    """Wait for something that is bound to happen (an engine thread or another process does it)."""
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.02)


def wait_for_state(job: Job, states: Collection[str], timeout: float = WAIT) -> None:
    """Block until the job's observers see one of ``states``."""
    reached = threading.Event()
    unsubscribe = job.subscribe(lambda snap: reached.set() if snap.state in states else None)
    try:
        if job.snapshot().state not in states:
            assert reached.wait(timeout), f"{job!r} never reached {sorted(states)}"
    finally:
        unsubscribe()


def records(out: Path) -> list[dict[str, Any]]:
    return Ledger(out / "ledger.jsonl").read()


def request_hash(request: GenerationRequest) -> str:
    return request_key(request)


def assert_same_file(*jobs: Job) -> None:
    snaps = [job.snapshot() for job in jobs]
    assert all(s.state == JobState.DONE for s in snaps), [s.status_line() for s in snaps]
    assert len({s.sha256 for s in snaps}) == 1
    assert len({s.path for s in snaps}) == 1
    assert snaps[0].path is not None
    assert snaps[0].path.is_file()


# ---- several processes ------------------------------------------------------------------------
@pytest.mark.reliability
def test_two_processes_asking_at_once_make_one_task_each_request(
    emulator: Emulator, tmp_outputs: Path, children: list[Child]
) -> None:
    prompts = ["shared folder, a lighthouse", "shared folder, a heron", "shared folder, a kettle"]
    children += [Child(emulator, tmp_outputs, prompts, emulator.config.speed) for _ in range(2)]
    for child in children:
        child.wait_ready()
    for child in children:
        child.go()  # both ask at the same moment
    first, second = (child.result() for child in children)
    assert emulator.stats()["create"] == len(prompts)
    for mine, theirs in zip(first, second, strict=True):
        assert mine["state"] == theirs["state"] == JobState.DONE, (mine, theirs)
        assert mine["task_id"] == theirs["task_id"]
        assert mine["sha256"] == theirs["sha256"]
        assert mine["path"] == theirs["path"]
        assert Path(mine["path"]).is_file()


@pytest.mark.reliability
def test_three_processes_storming_the_same_requests_make_one_task_each(
    emulator: Emulator, tmp_outputs: Path, children: list[Child]
) -> None:
    # Each request is a race between three processes; "failme" prompts fail part-way at the
    # emulator, so only creates are made and counted (no video to render).
    prompts = [f"process storm {n}, failme" for n in range(12)]
    children += [Child(emulator, tmp_outputs, prompts, emulator.config.speed) for _ in range(3)]
    for child in children:
        child.wait_ready()
    for child in children:
        child.go()
    results = [child.result() for child in children]
    assert emulator.stats()["create"] == len(prompts)
    for rows in zip(*results, strict=True):
        assert len({row["task_id"] for row in rows}) == 1, rows
        assert {row["state"] for row in rows} == {JobState.FAILED}, rows


@pytest.mark.reliability
def test_a_process_asking_while_another_ones_job_is_in_flight_follows_it(
    emulator: Emulator, tmp_outputs: Path, children: list[Child]
) -> None:
    emulator.configure(speed=2.0)  # ~2.5 s from create to done: the second asks well inside it
    prompt = "shared folder, a slow train"
    children += [Child(emulator, tmp_outputs, [prompt], 2.0) for _ in range(2)]
    first, second = children
    for child in children:
        child.wait_ready()
    first.go()
    wait_until(lambda: any(r["event"] == "created" for r in records(tmp_outputs)))
    second.go()
    (mine,), (theirs,) = first.result(), second.result()
    assert emulator.stats()["create"] == 1
    # The second asked while the first was in flight (not a cache hit), and said whom it followed.
    assert theirs["asked_state"] not in (JobState.DONE, JobState.FAILED), theirs
    assert not theirs["asked_from_cache"]
    followed = [r for r in records(tmp_outputs) if r.get("follows")]
    assert [(r["job"], r["follows"]) for r in followed] == [(theirs["local_id"], mine["local_id"])]
    assert mine["state"] == theirs["state"] == JobState.DONE
    assert (mine["task_id"], mine["sha256"], mine["path"]) == (
        theirs["task_id"],
        theirs["sha256"],
        theirs["path"],
    )


# ---- several managers in one process ----------------------------------------------------------
def test_two_managers_in_one_process_asking_at_once_make_one_task(
    make_manager: Callable[..., JobManager], emulator: Emulator
) -> None:
    managers = [make_manager(), make_manager()]
    requests = [quick_request(f"two managers, scene {n}") for n in range(3)]
    barrier = threading.Barrier(len(managers))
    asked: dict[int, list[Job]] = {}

    def ask(index: int) -> None:
        barrier.wait()
        asked[index] = [managers[index].submit(r) for r in requests]  # type: ignore[misc]

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(managers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    for pair in zip(asked[0], asked[1], strict=True):
        for job in pair:
            job.wait(WAIT)
        assert_same_file(*pair)
        assert pair[0].task_id == pair[1].task_id
    assert emulator.stats()["create"] == len(requests)


@pytest.mark.reliability
def test_three_managers_storming_the_same_requests_make_one_task_each(
    make_manager: Callable[..., JobManager], emulator: Emulator
) -> None:
    # Many asks at once, each one a race for the same request: the check and the intent must be
    # one step under the ledger's lock, or two managers both decide to create. The prompts make
    # the emulator fail the tasks part-way ("failme"): no video to render, only creates to count.
    managers = [make_manager() for _ in range(3)]
    requests = [quick_request(f"storm {n}, failme") for n in range(12)]
    barrier = threading.Barrier(len(managers))
    asked: dict[int, list[Job]] = {}

    def ask(index: int) -> None:
        barrier.wait()
        asked[index] = [managers[index].submit(r) for r in requests]  # type: ignore[misc]

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(managers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    # Creates run in the pool after submit returns: counted once every job has ended.
    for jobs in zip(*asked.values(), strict=True):
        for job in jobs:
            wait_for_state(job, (JobState.FAILED,))
        assert len({job.task_id for job in jobs}) == 1
    assert emulator.stats()["create"] == len(requests)


def test_check_and_intent_are_one_step_even_when_the_lock_is_slow(
    make_manager: Callable[..., JobManager], emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A slow file system: every exclusive lock of the ledger takes 0.2 s to get. A manager that
    # let the lock go between deciding to create and writing its intent would hand the other
    # manager that whole gap to decide the same.
    original = Ledger._locked_fd

    @contextlib.contextmanager
    def slow_lock(self: Ledger, *, shared: bool = False) -> Iterator[int]:
        if not shared:
            time.sleep(0.2)
        with original(self, shared=shared) as fd:
            yield fd

    monkeypatch.setattr(Ledger, "_locked_fd", slow_lock)
    managers = [make_manager(), make_manager()]
    request = quick_request("a slow lock, failme")
    barrier = threading.Barrier(len(managers))
    asked: list[Job] = []

    def ask(manager: JobManager) -> None:
        barrier.wait()
        job = manager.submit(request)
        assert isinstance(job, Job)
        asked.append(job)

    threads = [threading.Thread(target=ask, args=(m,)) for m in managers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert len(asked) == 2
    for job in asked:
        wait_for_state(job, (JobState.FAILED,))
    assert emulator.stats()["create"] == 1
    assert asked[0].task_id == asked[1].task_id


def test_a_manager_follows_another_ones_job_in_flight(
    make_manager: Callable[..., JobManager], emulator: Emulator
) -> None:
    emulator.configure(speed=2.0)  # slow enough that the first job is surely still running
    first, second = make_manager(time_scale=2.0), make_manager(time_scale=2.0)
    request = quick_request("a follower in the same process")
    leader = first.submit(request)
    assert isinstance(leader, Job)
    wait_for_state(leader, (JobState.QUEUED, JobState.RUNNING))
    follower = second.submit(request)
    assert isinstance(follower, Job)
    assert follower is not leader
    snap = follower.snapshot()
    assert not snap.is_final
    assert not snap.from_cache
    assert second.submit(request) is follower  # asking again in flight: the same job
    assert not second.is_cached(request)
    follower.wait(WAIT)
    leader.wait(WAIT)
    assert_same_file(leader, follower)
    assert follower.task_id == leader.task_id
    assert emulator.stats()["create"] == 1
    assert second.spent_usd == 0  # the follower paid for nothing


def test_a_job_finished_by_another_manager_is_a_cache_hit_with_zero_http(
    make_manager: Callable[..., JobManager], emulator: Emulator
) -> None:
    first = make_manager()
    second = make_manager()  # opened before the job exists: it must learn of it from the ledger tail
    request = quick_request("finished elsewhere")
    job = first.submit(request)
    assert isinstance(job, Job)
    job.wait(WAIT)
    before = emulator.stats()
    assert second.is_cached(request)
    cached = second.submit(request)
    assert isinstance(cached, Job)
    snap = cached.snapshot()
    assert snap.state == JobState.DONE
    assert snap.from_cache
    assert snap.path == job.snapshot().path
    after = emulator.stats()
    assert {k: after[k] for k in ("create", "get", "upload", "download")} == {
        k: before[k] for k in ("create", "get", "upload", "download")
    }


def test_rerun_still_makes_a_new_task_beside_another_managers_job(
    make_manager: Callable[..., JobManager], emulator: Emulator
) -> None:
    first, second = make_manager(), make_manager()
    request = quick_request("rerun beside another manager")
    one = first.submit(request)
    two = second.submit(request, rerun=True)
    assert isinstance(one, Job)
    assert isinstance(two, Job)
    one.wait(WAIT)
    two.wait(WAIT)
    assert emulator.stats()["create"] == 2
    assert one.task_id != two.task_id


# ---- the other manager stops before naming a task -----------------------------------------------
class FakeLeader:
    """Another manager's job as the ledger shows it: its records, and an owner lock held
    (alive) until :meth:`die`. Lets a test stop the leader at an exact point."""

    def __init__(self, out: Path, request: GenerationRequest) -> None:
        self.store = Store(out)
        self.owner = "fakeleader01"
        self.fd = self.store.hold_owner_lock(self.owner)
        self.local_id = "job-fakeleader"
        self.request = request
        self.record("intent", request_hash=request_hash(request), request=request.to_dict(), state="intent")

    def record(self, event: str, **fields: Any) -> None:
        self.store.ledger.append(event, job=self.local_id, owner=self.owner, **fields)

    def die(self) -> None:
        # What the OS does for a killed process: the lock goes, the file may stay.
        os.close(self.fd)


def test_a_follower_polls_the_task_its_leader_created(
    make_manager: Callable[..., JobManager], emulator: Emulator, tmp_outputs: Path
) -> None:
    request = quick_request("the leader creates, the follower watches")
    leader = FakeLeader(tmp_outputs, request)
    manager = make_manager()
    follower = manager.submit(request)
    assert isinstance(follower, Job)
    assert follower.snapshot().state == JobState.INTENT
    assert emulator.stats()["create"] == 0
    # The leader's create, done by the test, then its record.
    leader.record("status", state="submitting", body=request.to_body())
    task = SeedanceClient(api_key=emulator.api_key, base_url=emulator.base_url).create(request)
    leader.record("created", task_id=task.id, state="queued")
    follower.wait(WAIT)
    assert follower.task_id == task.id
    assert emulator.stats()["create"] == 1
    leader.die()


def test_a_follower_sends_the_create_when_its_leader_dies_before_sending(
    make_manager: Callable[..., JobManager], emulator: Emulator, tmp_outputs: Path
) -> None:
    request = quick_request("the leader dies before sending")
    leader = FakeLeader(tmp_outputs, request)
    manager = make_manager()
    follower = manager.submit(request)
    assert isinstance(follower, Job)
    leader.die()
    follower.wait(WAIT)
    assert emulator.stats()["create"] == 1
    ledger = records(tmp_outputs)
    # The dead leader's job is closed (nothing was sent), and the follower wrote its own intent.
    assert any(r["job"] == leader.local_id and r["event"] == "cancelled" for r in ledger)
    assert any(r["job"] == follower.local_id and r["event"] == "intent" for r in ledger)


def test_a_follower_turns_may_exist_when_its_leader_dies_while_submitting(
    make_manager: Callable[..., JobManager], emulator: Emulator, tmp_outputs: Path
) -> None:
    request = quick_request("the leader dies while submitting")
    leader = FakeLeader(tmp_outputs, request)
    leader.record("status", state="submitting", body=request.to_body())
    manager = make_manager()
    follower = manager.submit(request)
    assert isinstance(follower, Job)
    assert follower.snapshot().state == JobState.SUBMITTING  # shows what the leader is doing
    leader.die()
    with pytest.raises(JobMayExistError):
        follower.wait(WAIT)
    assert emulator.stats()["create"] == 0  # never a silent second create
    again = manager.submit(request)
    assert isinstance(again, Job)
    assert again.snapshot().state == JobState.MAY_EXIST
    assert emulator.stats()["create"] == 0


def test_a_dead_managers_created_task_is_watched_not_created_again(
    make_manager: Callable[..., JobManager], emulator: Emulator, tmp_outputs: Path
) -> None:
    request = quick_request("the leader created, then died")
    leader = FakeLeader(tmp_outputs, request)
    task = SeedanceClient(api_key=emulator.api_key, base_url=emulator.base_url).create(request)
    leader.record("created", task_id=task.id, state="queued")
    manager = make_manager()  # opened while the leader lives: it leaves that job alone
    leader.die()
    job = manager.submit(request)
    assert isinstance(job, Job)
    job.wait(WAIT)
    assert job.task_id == task.id
    assert emulator.stats()["create"] == 1
