"""Which gateway to talk to: the real one when a key is set, else a local emulator.

With ``TOAPIS_API_KEY`` set, the client talks to ``$SEEDANCE_BASE_URL`` or the real
gateway. Without it, the built-in emulator is started once per process on a free
loopback port, and a one-time notice (kept for the front doors to show once, and logged at
info level) explains how to use the real service. The key itself is never shown.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from typing import TYPE_CHECKING, Any

from seedance_widgets.api.errors import SeedanceError

if TYPE_CHECKING:
    from seedance_widgets.api import SeedanceClient

log = logging.getLogger("seedance_widgets.engine")

#: Modules the offline emulator needs: the `emulator` extra of pyproject.toml, by import name.
EMULATOR_MODULES: tuple[str, ...] = ("av", "numpy", "PIL", "starlette", "uvicorn", "multipart")


class NoBackendError(SeedanceError):
    """No key is set and the offline emulator is not installed: nothing to send a job to."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(
            "No TOAPIS_API_KEY is set and the offline emulator is not installed (missing: "
            f"{', '.join(missing)}): set TOAPIS_API_KEY to generate with the ToAPIs gateway, or "
            "pip install 'seedance_widgets[emulator]' to try everything offline for free."
        )


def missing_emulator_modules() -> list[str]:
    """The emulator's modules that cannot be imported here (looked up, not imported: cheap)."""
    return [name for name in EMULATOR_MODULES if importlib.util.find_spec(name) is None]


_lock = threading.Lock()
_emulator: Any = None
_notice: str | None = None


def has_key() -> bool:
    return bool(os.environ.get("TOAPIS_API_KEY", "").strip())


def resolve_client() -> SeedanceClient:
    """A client for the real gateway when ``TOAPIS_API_KEY`` is set, else for the built-in emulator."""
    from seedance_widgets.api import SeedanceClient

    if has_key():
        return SeedanceClient()
    emulator = _ensure_emulator()
    return SeedanceClient(api_key=emulator.api_key, base_url=emulator.base_url)


def emulator_time_scale() -> float:
    """The spawned emulator's speed (1.0 when none was spawned or it does not say)."""
    speed = getattr(_emulator, "speed", None)
    return float(speed) if isinstance(speed, (int, float)) and speed > 0 else 1.0


def _ensure_emulator() -> Any:
    global _emulator, _notice
    with _lock:
        if _emulator is None:
            missing = missing_emulator_modules()
            if missing:
                raise NoBackendError(missing)
            from seedance_widgets.emulator.launch import spawn_emulator

            _emulator = spawn_emulator()
            _notice = (
                "TOAPIS_API_KEY is not set, so seedance_widgets is using its built-in offline emulator "
                f"at {_emulator.base_url}: videos are synthetic test clips and nothing is billed. "
                "To generate with Seedance for real, set the TOAPIS_API_KEY environment variable "
                "(before starting Jupyter, or os.environ['TOAPIS_API_KEY'] in the kernel), then restart "
                "the kernel."
            )
            # Info, not a warning: the front doors show it once (take_backend_notice); a log line
            # on stderr as well would print it twice in the cell that started the emulator.
            log.info("%s", _notice)
        return _emulator


def backend_notice() -> str | None:
    """The one-time notice about the emulator fallback, or None when the real gateway is used."""
    return _notice


_notice_taken = False


def take_backend_notice() -> str | None:
    """The notice for the first front door that asks after it was made, then None: whichever of
    the magic, a JobView or a gallery shows it first, it appears once per process."""
    global _notice_taken
    with _lock:
        if _notice is None or _notice_taken:
            return None
        _notice_taken = True
        return _notice


def describe_backend(client: SeedanceClient) -> str:
    """A short, key-free description of where a client points."""
    kind = "emulator" if _emulator is not None and client.base_url == _emulator.base_url else "gateway"
    return f"{kind} at {client.base_url}"
