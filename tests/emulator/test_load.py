"""200 tasks at once: every one completes, renders are shared and their number stays capped."""

from __future__ import annotations

import concurrent.futures
import threading
import time

import requests
from emu_support import body

from seedance_widgets.emulator import Emulator, EmulatorConfig

TASKS = 200
SEEDS = 4  # distinct clips among the 200 (the rest are cache hits)


def test_two_hundred_concurrent_tasks_complete() -> None:
    with Emulator(EmulatorConfig(speed=50.0, max_concurrent_renders=2)) as emu:
        local = threading.local()

        def session() -> requests.Session:
            if not hasattr(local, "session"):
                local.session = requests.Session()
                local.session.headers["Authorization"] = f"Bearer {emu.api_key}"
            return local.session

        def run(i: int) -> str:
            payload = body(prompt=f"crowd scene {i % SEEDS}", meta_seed=i % SEEDS)
            reply = session().post(f"{emu.base_url}/v1/videos/generations", json=payload, timeout=30)
            assert reply.status_code == 200, reply.text
            task_id = reply.json()["id"]
            deadline = time.monotonic() + 120
            while True:
                task = session().get(f"{emu.base_url}/v1/videos/generations/{task_id}", timeout=30).json()
                if task["status"] in ("completed", "failed"):
                    return task["status"]
                assert time.monotonic() < deadline
                time.sleep(0.05)

        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            statuses = list(pool.map(run, range(TASKS)))
        stats = emu.stats()
    assert statuses == ["completed"] * TASKS
    assert stats["tasks"] == TASKS
    assert stats["create"] == TASKS
    assert stats["renders"] == SEEDS
    assert stats["render_cache_hits"] == TASKS - SEEDS
    assert 1 <= stats["max_active_renders"] <= 2
    assert set(stats["responses"]) == {"200"}
