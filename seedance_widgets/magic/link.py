"""Which :class:`~seedance_widgets.engine.JobManager` the magic talks to, given its settings.

One manager per output folder per kernel, whatever the settings: the magic shares
``seedance_widgets.engine.registry.folder_manager`` with ``generate()`` and the form, so an
identical request asked again after a setting changed finds its job. The settings are
applied to that one manager when they change: ``budget_usd``, ``poll_policy`` and
``time_scale`` are its settable attributes; a different ``base_url`` (or
``SEEDANCE_BASE_URL``, or a key set or unset) gives it a new client for NEW jobs only,
while the jobs already running keep the client they started with.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

if TYPE_CHECKING:
    from seedance_widgets.engine import Job, JobManager

    from .config import Seedance

_lock = threading.Lock()
#: Every manager the magic has used, in first-use order.
_used: list[JobManager] = []
#: When each manager was first used by the magic (its jobs from before came from the ledger).
_opened_at: dict[int, float] = {}
#: The managers made here (not ones another front door made first).
_made: list[JobManager] = []
#: The engine settings last applied to each manager (by id; the manager is in `_used`).
_applied: dict[int, tuple[Any, ...]] = {}


def _alive(manager: JobManager) -> bool:
    return not manager.closed


def _engine_settings(settings: Seedance) -> tuple[Any, ...]:
    """What the magic's settings ask of a manager: (backend, poll policy, budget, time scale)."""
    # Where the environment points (not the key): a changed SEEDANCE_BASE_URL needs a new client.
    backend = (settings.base_url, os.environ.get("SEEDANCE_BASE_URL"), key_is_set())
    return (backend, settings.poll_policy, settings.budget_usd, settings.time_scale)


def _untouched() -> tuple[Any, ...]:
    """The settings a manager is assumed to have when the magic first meets it."""
    return ((None, os.environ.get("SEEDANCE_BASE_URL"), key_is_set()), "adaptive", None, None)


def manager_for(settings: Seedance) -> JobManager:
    """The one manager of the settings' output folder (made on first use; may start the built-in
    emulator), with the settings applied.

    Without a key and without the offline emulator installed there is nothing to send a job to:
    a UsageError says so at once, in the one line that names both ways out."""
    from seedance_widgets.backend import NoBackendError, has_key, missing_emulator_modules
    from seedance_widgets.engine.registry import folder_manager

    if settings.base_url and not has_key():
        raise UsageError(
            f"Seedance.base_url is set to {settings.base_url}, but TOAPIS_API_KEY is not set: "
            "set the key, or %config Seedance.base_url = None to use the built-in emulator"
        )
    if not has_key():
        missing = missing_emulator_modules()
        if missing:
            raise UsageError(str(NoBackendError(missing)))
    with _lock:
        manager, made = folder_manager(settings.output_dir)
        if made:
            _made.append(manager)
        if manager not in _used:
            _used.append(manager)
            _opened_at.setdefault(id(manager), time.time())
        _apply(manager, settings)
        return manager


def _apply(manager: JobManager, settings: Seedance) -> None:
    """Give ``manager`` the settings that changed since they were last applied to it (caller
    holds ``_lock``). A manager met for the first time keeps what the settings leave at default."""
    from seedance_widgets.api import SeedanceClient
    from seedance_widgets.engine import AdaptivePolicy, BaselinePolicy
    from seedance_widgets.engine.registry import apply_default_time_scale

    wanted = _engine_settings(settings)
    before = _applied.get(id(manager), _untouched())
    backend, policy, budget, scale = wanted
    if backend != before[0]:
        # New jobs only: each running job keeps the client it started with.
        manager.use_client(SeedanceClient(base_url=settings.base_url) if settings.base_url else None)
    if policy != before[1]:
        manager.poll_policy = BaselinePolicy() if policy == "baseline" else AdaptivePolicy()
    if budget != before[2]:
        manager.budget_usd = budget
    if scale is not None:
        # Always: a reset of the backend (set_default_manager(None)) may have changed it meanwhile.
        manager.time_scale_from_backend = False
        manager.time_scale = scale
    elif scale is None and (before[3] is not None or backend != before[0]):
        apply_default_time_scale(manager)
    _applied[id(manager)] = wanted


def known_managers() -> list[JobManager]:
    """Every manager the magic has used in this process (live ones only)."""
    with _lock:
        return [m for m in _used if _alive(m)]


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
    """Stop and forget every manager the magic made itself (one made elsewhere is left alone)."""
    with _lock:
        made = list(_made)
        _made.clear()
        _used.clear()
        _opened_at.clear()
        _applied.clear()
    for manager in made:
        manager.shutdown()
