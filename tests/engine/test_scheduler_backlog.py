"""The worker pool under a deep backlog of transfers (issue 16: 10,000 jobs in one kernel).

Creates beyond their cap are parked in submit order. Each transfer that ends hands back only as
many parked ones as can start, oldest first, so a backlog of n costs O(n) queue work in all, not
O(n) per transfer: that CPU was taken from the user's cells while 10,000 jobs ran.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from seedance_widgets.engine.clock import SystemClock
from seedance_widgets.engine.policy import AdaptivePolicy
from seedance_widgets.engine.scheduler import CREATE, DOWNLOAD, Scheduler
from seedance_widgets.engine.settings import Settings


class _NoPolls:
    """Hooks of an engine with nothing to poll."""

    def poll_work(self, local_id: str, generation: int) -> None:
        return None

    def past_deadline(self) -> tuple[list[str], float | None]:
        return [], None

    def timed_out(self, local_id: str) -> None:
        raise AssertionError("no job has a deadline here")

    def rate_limit_over(self) -> None:
        return None


class _CountingQueue(queue.PriorityQueue):  # type: ignore[type-arg]
    """The pool's work queue, counting every item put in (new work and parked work handed back)."""

    def __init__(self) -> None:
        super().__init__()
        self.puts = 0

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        self.puts += 1
        super().put(item, block, timeout)


def _scheduler(creates: int) -> tuple[Scheduler, _CountingQueue]:
    scheduler = Scheduler(
        lock=threading.RLock(),
        clock=SystemClock(),
        settings=Settings(AdaptivePolicy(), deadline_s=60.0),
        hooks=_NoPolls(),
        max_concurrent_creates=creates,
    )
    counting = _CountingQueue()
    scheduler._work = counting  # before any work: the pool's workers read it from the scheduler
    return scheduler, counting


def _wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait for the pool's workers to reach a state (they get there on their own, in microseconds)."""
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "the pool never got there"
        time.sleep(0.001)


def _run_transfers(scheduler: Scheduler, kinds: list[int]) -> tuple[list[int], int]:
    """Queue transfers (all at once, as 10,000 submits do); return the order they ran in and the
    most that ran at once. Like a real create (an HTTP call of some milliseconds), each one lasts
    until every transfer not yet run is parked behind it, so the backlog is as deep as it gets."""
    lock = threading.Lock()
    order: list[int] = []
    running = [0, 0]  # now, most

    def parked() -> int:
        return sum(len(p) for p in scheduler._parked.values())

    def transfer(number: int) -> None:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
            still_to_run = len(kinds) - len(order) - 1
        _wait_until(lambda: parked() == still_to_run)
        with lock:
            order.append(number)
            running[0] -= 1

    for number, kind in enumerate(kinds):
        scheduler.run_in_pool(lambda n=number: transfer(n), kind)  # type: ignore[misc]
    _wait_until(lambda: len(order) == len(kinds), timeout=60)
    return order, running[1]


def test_a_deep_backlog_of_creates_costs_linear_queue_work() -> None:
    n = 400
    scheduler, work = _scheduler(creates=1)
    try:
        order, most = _run_transfers(scheduler, [CREATE] * n)
    finally:
        scheduler.stop(5.0)
    assert sorted(order) == list(range(n))
    assert most == 1, "the create cap (1) was exceeded"
    # Each create is put once when submitted and handed back about once per release; handing
    # every parked create back on every release would be about n*n/2 = 80,000 puts.
    assert work.puts <= 4 * n + 10, f"{work.puts} queue puts for {n} creates"


def test_a_release_hands_back_downloads_first_and_only_what_fits() -> None:
    # No work was queued through the pool, so no worker runs: what a release hands back stays in
    # the queue to be read. Slots: 3 transfers, of which at most 2 creates.
    scheduler, work = _scheduler(creates=2)
    try:
        with scheduler._lock:
            scheduler._active.update({DOWNLOAD: 1, CREATE: 2})
            for seq, kind in enumerate((CREATE, CREATE, DOWNLOAD, DOWNLOAD)):
                scheduler._parked[kind].append((kind, seq, lambda: None))
        scheduler._give_slot(CREATE)  # one slot free: the oldest parked download, not a create
        assert [work.get_nowait()[:2] for _ in range(work.qsize())] == [(DOWNLOAD, 2)]
        scheduler._give_slot(DOWNLOAD)  # two slots free, one create slot: a download and a create
        assert sorted(work.get_nowait()[:2] for _ in range(work.qsize())) == [(DOWNLOAD, 3), (CREATE, 0)]
        assert work.puts == 3
    finally:
        scheduler.stop(5.0)


def test_a_transfer_parked_late_goes_back_to_its_place() -> None:
    # A worker that took an older item out of order (or lost the race for a handed-back slot)
    # parks it where its submit order puts it, not behind every newer one.
    scheduler, _work = _scheduler(creates=1)
    try:
        with scheduler._lock:
            scheduler._active[CREATE] = 1
        for seq in (5, 6, 2, 9, 4):
            assert not scheduler._take_slot((CREATE, seq, lambda: None))
        assert [item[1] for item in scheduler._parked[CREATE]] == [2, 4, 5, 6, 9]
    finally:
        scheduler.stop(5.0)
