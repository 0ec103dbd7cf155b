"""Which :class:`~seedance_widgets.jobs.JobManager` the magic talks to, given its settings.

One manager per distinct (output folder, base URL, poll policy, budget, time scale), kept
for the life of the kernel: jobs keep running when a setting changes, and changing it
back finds them again. With every setting at its default, the magic shares the
process's ``default_manager()`` with ``seedance_widgets.generate()``.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

if TYPE_CHECKING:
    from seedance_widgets.jobs import Job, JobManager

    from .config import Seedance

_lock = threading.Lock()
_managers: dict[tuple[Any, ...], JobManager] = {}
#: When each manager was first used by the magic (its jobs from before came from the ledger).
_opened_at: dict[int, float] = {}
#: The managers made here (not the process's shared default one).
_made: list[JobManager] = []


def _alive(manager: JobManager) -> bool:
    return not manager.closed


def _key(settings: Seedance) -> tuple[Any, ...]:
    from seedance_widgets.jobs.store import resolve_output_dir

    return (
        str(resolve_output_dir(settings.output_dir)),
        settings.base_url,
        settings.poll_policy,
        settings.budget_usd,
        settings.time_scale,
        # Where the environment points (not the key): a changed SEEDANCE_BASE_URL needs a new client.
        os.environ.get("SEEDANCE_BASE_URL"),
        key_is_set(),
    )


def _is_default(settings: Seedance) -> bool:
    from seedance_widgets.jobs.store import resolve_output_dir

    return (
        resolve_output_dir(settings.output_dir) == resolve_output_dir(None)
        and settings.base_url is None
        and settings.poll_policy == "adaptive"
        and settings.budget_usd is None
        and settings.time_scale is None
    )


def manager_for(settings: Seedance) -> JobManager:
    """The manager for these settings (made on first use; may start the built-in emulator)."""
    from seedance_widgets.api import SeedanceClient
    from seedance_widgets.jobs import AdaptivePolicy, BaselinePolicy, JobManager, default_manager
    from seedance_widgets.jobs.backend import emulator_time_scale, has_key, resolve_client

    key = _key(settings)
    with _lock:
        manager = _managers.get(key)
        if manager is not None and _alive(manager):
            return manager
        if _is_default(settings):
            manager = default_manager()
        else:
            if settings.base_url:
                if not has_key():
                    raise UsageError(
                        f"Seedance.base_url is set to {settings.base_url}, but TOAPIS_API_KEY is not set: "
                        "set the key, or %config Seedance.base_url = None to use the built-in emulator"
                    )
                client = SeedanceClient(base_url=settings.base_url)
            else:
                client = resolve_client()
            scale: float = settings.time_scale or (1.0 if has_key() else emulator_time_scale())
            policy = BaselinePolicy() if settings.poll_policy == "baseline" else AdaptivePolicy()
            manager = JobManager(
                output_dir=settings.output_dir,
                client=client,
                poll_policy=policy,
                budget_usd=settings.budget_usd,
                time_scale=scale,
            )
            _made.append(manager)
        _managers[key] = manager
        _opened_at.setdefault(id(manager), time.time())
        return manager


def known_managers() -> list[JobManager]:
    """Every manager the magic has used in this process (live ones only)."""
    with _lock:
        return [m for m in _managers.values() if _alive(m)]


def opened_at(manager: JobManager) -> float:
    """When the magic first used ``manager`` (jobs submitted earlier came from the ledger)."""
    return _opened_at.get(id(manager), 0.0)


def find_job(ident: str) -> Job | None:
    """A job of any known manager by local id or task id."""
    for manager in known_managers():
        job = manager.get(ident)
        if job is not None:
            return job
        for candidate in manager.jobs():
            if candidate.task_id == ident:
                return candidate
    return None


def key_is_set() -> bool:
    """Whether TOAPIS_API_KEY holds something (the value itself is never read here)."""
    return bool(os.environ.get("TOAPIS_API_KEY", "").strip())


def shutdown_managers() -> None:
    """Stop and forget every manager the magic made itself (the shared default one is left alone)."""
    with _lock:
        made = list(_made)
        _made.clear()
        _managers.clear()
        _opened_at.clear()
    for manager in made:
        manager.shutdown()
