"""Where managers come from: one live :class:`JobManager` per output folder in this process.

One process keeps ONE manager per output folder (:func:`folder_manager`), whoever asks:
``generate()``, the magic, the form. Settings that differ (budget, poll policy, time scale,
backend) are settings of that one manager (settable attributes; a new client applies to new
jobs only), never a second manager on the same folder.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from .environment import backend_time_scale, environment_client, has_key
from .manager import JobManager
from .store import resolve_output_dir

_lock = threading.Lock()
#: The shared manager once chosen (or set by `set_default_manager`).
_default: JobManager | None = None
#: The live manager of each output folder in this process.
_by_folder: dict[Path, JobManager] = {}


def default_manager() -> JobManager:
    """The process's shared manager (created on first use, output folder from the environment).

    It is :func:`folder_manager`'s manager for that folder, so the magic and ``generate()``
    working on the same folder share it.
    """
    global _default
    with _lock:
        if _default is None or _default.closed:
            _default, _ = _folder_manager(resolve_output_dir(None))
        return _default


def folder_manager(output_dir: str | os.PathLike[str] | None = None) -> tuple[JobManager, bool]:
    """The process's one live manager for ``output_dir`` (None: the default folder), and whether
    this call made it. Made on first use; a shut-down one is replaced."""
    folder = resolve_output_dir(output_dir)
    with _lock:
        return _folder_manager(folder)


def _folder_manager(folder: Path) -> tuple[JobManager, bool]:
    if _default is not None and not _default.closed and _default.store.root == folder:
        return _default, False
    manager = _by_folder.get(folder)
    if manager is not None and not manager.closed:
        return manager, False
    # The client (and, without a key, the built-in emulator) is made on first need, so a
    # re-run served from the cache costs no HTTP stack and no emulator start.
    manager = JobManager(output_dir=folder, client_factory=environment_client)
    apply_default_time_scale(manager)
    _by_folder[folder] = manager
    return manager, True


def apply_default_time_scale(manager: JobManager) -> None:
    """The time scale a manager has unless told otherwise: ``$SEEDANCE_TIME_SCALE``, else 1 with
    a key, else the built-in emulator's speed (taken once that emulator is started)."""
    env_scale = _env_time_scale()
    # Without a key the built-in emulator may run faster than the gateway: poll at its pace.
    from_backend = env_scale is None and not has_key() and manager.client_from_environment
    manager.time_scale_from_backend = from_backend
    if env_scale is not None:
        manager.time_scale = env_scale
    else:
        # The emulator's speed if it is started already (else the client sets it when made).
        manager.time_scale = backend_time_scale() if from_backend else 1.0


def _env_time_scale() -> float | None:
    """``$SEEDANCE_TIME_SCALE``: the speed of an emulator pointed at by SEEDANCE_BASE_URL (tests, demos)."""
    text = os.environ.get("SEEDANCE_TIME_SCALE", "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"SEEDANCE_TIME_SCALE must be a positive number, not {text!r}") from None
    if not value > 0:
        raise ValueError(f"SEEDANCE_TIME_SCALE must be a positive number, not {text!r}")
    return value


def set_default_manager(manager: JobManager | None) -> None:
    """Replace the shared manager; it also becomes its folder's manager in this process.

    None: the next use chooses again, and every manager of this process that takes its backend
    from the environment re-reads it for its NEXT jobs (e.g. after a key was set); jobs already
    running keep theirs. Nothing is shut down.
    """
    global _default
    with _lock:
        _default = manager
        if manager is not None:
            _by_folder[manager.store.root] = manager
            return
        live = [m for m in _by_folder.values() if not m.closed]
    for each in live:
        if each.client_from_environment:
            each.use_client(None)
            apply_default_time_scale(each)
