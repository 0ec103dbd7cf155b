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

import dataclasses
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

if TYPE_CHECKING:
    from seedance_widgets.api import SeedanceClient
    from seedance_widgets.engine import Job, JobManager, JobSnapshot

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


#: Environment variables that decide where jobs go (their values are compared; the keys only as set or not).
_WHERE_VARIABLES = ("SEEDANCE_BASE_URL", "ARK_BASE_URL", "SEEDANCE_PROVIDER", "ARK_REGION")


def _where(base_url: str | None, provider: str | None, region: str | None) -> tuple[Any, ...]:
    """Where new jobs go, as far as it can change under a manager (the keys only as set / not set)."""
    env = tuple(os.environ.get(name) for name in _WHERE_VARIABLES)
    keys = tuple(bool(os.environ.get(name, "").strip()) for name in _KEY_VARIABLES)
    return (base_url, provider, region, env, keys)


def _engine_settings(settings: Seedance) -> tuple[Any, ...]:
    """What the magic's settings ask of a manager: (backend, poll policy, budget, time scale)."""
    # Where the environment points (not the key): a changed SEEDANCE_BASE_URL needs a new client.
    backend = _where(settings.base_url, settings.provider, settings.region)
    return (backend, settings.poll_policy, settings.budget_usd, settings.time_scale)


def _untouched() -> tuple[Any, ...]:
    """The settings a manager is assumed to have when the magic first meets it."""
    return (_where(None, None, None), "adaptive", None, None)


def manager_for(settings: Seedance) -> JobManager:
    """The one manager of the settings' output folder (made on first use; may start the built-in
    emulator), with the settings applied.

    Without a key and without the offline emulator installed there is nothing to send a job to:
    a UsageError says so at once, in the one line that names both ways out."""
    from seedance_widgets.backend import NoBackendError, has_key, missing_emulator_modules
    from seedance_widgets.engine.registry import folder_manager

    _prefer(settings)
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


def _prefer(settings: Seedance) -> None:
    """Hand ``%config Seedance.provider`` / ``.region`` to the backend (it decides where jobs go
    when the environment does not)."""
    from seedance_widgets.backend import set_preferences

    set_preferences(provider=settings.provider, region=settings.region)


def _client_for(base_url: str) -> SeedanceClient:
    """A client of ``base_url``. Imported here: the HTTP stack (``requests``) loads only when a
    session names a gateway, never for a re-run served from the cache (issue 16)."""
    from seedance_widgets.api import SeedanceClient

    return SeedanceClient(base_url=base_url)


def _apply(manager: JobManager, settings: Seedance) -> None:
    """Give ``manager`` the settings that changed since they were last applied to it (caller
    holds ``_lock``). A manager met for the first time keeps what the settings leave at default."""
    from seedance_widgets.engine import AdaptivePolicy, BaselinePolicy
    from seedance_widgets.engine.registry import apply_default_time_scale

    wanted = _engine_settings(settings)
    before = _applied.get(id(manager), _untouched())
    backend, policy, budget, scale = wanted
    if backend != before[0]:
        # New jobs only: each running job keeps the client it started with.
        manager.use_client(_client_for(settings.base_url) if settings.base_url else None)
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


#: Each provider's key variable (only whether it is set is ever looked at here).
_KEY_VARIABLES = ("TOAPIS_API_KEY", "ARK_API_KEY")


def key_is_set() -> bool:
    """Whether the chosen provider's key holds something (the value itself is never kept here)."""
    from seedance_widgets.backend import has_key

    return has_key()


def provider() -> str:
    """The provider new jobs use ("toapis" or "ark"), as the backend chooses it."""
    from seedance_widgets.backend import chosen_provider

    return chosen_provider()


def shutdown_managers() -> None:
    """Stop and forget every manager the magic made itself (one made elsewhere is left alone), and
    the provider / region preferences it gave the backend."""
    with _lock:
        made = list(_made)
        _made.clear()
        _used.clear()
        _opened_at.clear()
        _applied.clear()
    for manager in made:
        manager.shutdown()
    from seedance_widgets.backend import set_preferences

    set_preferences()  # the magic's provider / region preferences go with its managers


#: How long ``%seedance cancel`` waits for the provider's answer before saying the cancel is on
#: its way (the engine's workers carry on asking; the card and ``%seedance jobs`` show the outcome).
CANCEL_WAIT_SECONDS = 5.0


def cancel_and_wait(job: Job, timeout: float = CANCEL_WAIT_SECONDS) -> JobSnapshot:
    """Cancel ``job`` and return the snapshot that says what happened: the job final (cancelled,
    or stopped watching), or a new cancel outcome while it is still watched (Ark: running, cannot
    be cancelled). ``cancel_outcome == "cancelling"``: Ark did not answer within ``timeout``
    seconds (the cancel goes on in the background). Never waits longer than ``timeout``."""
    job.cancel().wait(timeout)
    return job.snapshot()


def remote_tasks(manager: JobManager, *, status: str | None, model: str | None, limit: int) -> Any:
    """The account's recent tasks through ``manager``'s client: a ``python_api.RemoteTasks``."""
    from seedance_widgets.python_api import remote_tasks as listing

    return listing(status=status, model=model, limit=limit, manager=manager)


@dataclasses.dataclass(frozen=True)
class Where:
    """Where new jobs go, in words for ``%seedance config``: never the key, only whether it is set."""

    provider: str
    provider_label: str
    region: str | None
    key_variable: str
    key_text: str
    url: str


def where_jobs_go(settings: Seedance) -> Where:
    """Provider, region, key (set / not set) and URL of new jobs, without starting the emulator."""
    _prefer(settings)
    chosen = provider()
    ark = chosen == "ark"
    variable = "ARK_API_KEY" if ark else "TOAPIS_API_KEY"
    if not os.environ.get(variable, "").strip():
        region = _preferred_region() if ark else None
        url = "built-in emulator (started on first use)" + (", its Ark side (/api/v3)" if ark else "")
        key_text = "not set: the built-in offline emulator is used (nothing billed)"
    elif ark:
        region, url = _ark_client_facts()
        key_text = f"set (from {variable}; never shown)"
    else:
        region = None
        url = (
            settings.base_url
            or os.environ.get("SEEDANCE_BASE_URL")
            or "https://toapis.com (the real gateway)"
        )
        key_text = f"set (from {variable}; never shown)"
    label = f"Ark ({region})" if ark else "ToAPIs"
    return Where(chosen, label, region, variable, key_text, url)


def _preferred_region() -> str:
    from seedance_widgets.backend import chosen_region

    return chosen_region() or "volcengine"


def _ark_client_facts() -> tuple[str, str]:
    """Ark's region and URL as the client decides them (made, read and closed: nothing is sent)."""
    from seedance_widgets import backend

    client = backend.resolve_client()
    try:
        return str(getattr(client, "region", None) or "volcengine"), str(client.base_url)
    finally:
        client.close()
