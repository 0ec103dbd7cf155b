"""Which provider and gateway to talk to: a real one when its key is set, else a local emulator.

Providers: ``toapis`` (the ToAPIs gateway; key ``TOAPIS_API_KEY``, URL ``$SEEDANCE_BASE_URL`` or
toapis.com) and ``ark`` (Volcengine / BytePlus Ark; key ``ARK_API_KEY``, URL ``$ARK_BASE_URL`` or
the region's). Only one key set: that provider. Both set: ``$SEEDANCE_PROVIDER``, else the
preference the magic's config gives (:func:`set_preferences`), else ToAPIs (as before Ark was
known). Neither set: the built-in emulator, started once per process on a free loopback port,
which speaks both (Ark under ``/api/v3``; ``SEEDANCE_PROVIDER=ark`` picks that side), and a
one-time notice (kept for the front doors to show once, and logged at info level) explains how to
use the real service. The key itself is never shown.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from typing import TYPE_CHECKING, Any

from seedance_widgets.api.errors import SeedanceError, ValidationError

if TYPE_CHECKING:
    from seedance_widgets.api import SeedanceClient

log = logging.getLogger("seedance_widgets.engine")

#: Modules the offline emulator needs: the `emulator` extra of pyproject.toml, by import name.
EMULATOR_MODULES: tuple[str, ...] = ("av", "numpy", "PIL", "starlette", "uvicorn", "multipart")


#: The providers a client can speak, by name (``SeedanceClient(provider=...)``).
TOAPIS = "toapis"
ARK = "ark"
PROVIDERS: tuple[str, ...] = (TOAPIS, ARK)
#: Each provider's key variable.
KEY_VARIABLES: dict[str, str] = {TOAPIS: "TOAPIS_API_KEY", ARK: "ARK_API_KEY"}
#: Where the emulator serves Ark, under its base URL (as the real Ark's URLs end).
EMULATOR_ARK_PATH = "/api/v3"


class NoBackendError(SeedanceError):
    """No key is set and the offline emulator is not installed: nothing to send a job to."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(
            "No TOAPIS_API_KEY or ARK_API_KEY is set and the offline emulator is not installed "
            f"(missing: {', '.join(missing)}): set TOAPIS_API_KEY (the ToAPIs gateway) or ARK_API_KEY "
            "(Volcengine / BytePlus Ark) to generate for real, or pip install 'seedance_widgets[emulator]' "
            "to try everything offline for free."
        )


def missing_emulator_modules() -> list[str]:
    """The emulator's modules that cannot be imported here (looked up, not imported: cheap)."""
    return [name for name in EMULATOR_MODULES if importlib.util.find_spec(name) is None]


_lock = threading.Lock()
_emulator: Any = None
_notice: str | None = None


#: The front doors' preferences (the magic's ``%config Seedance.provider`` / ``.region``): used
#: when the environment does not decide (see :func:`chosen_provider`).
_preferred_provider: str | None = None
_preferred_region: str | None = None


def set_preferences(*, provider: str | None = None, region: str | None = None) -> None:
    """The provider used when both keys are set (or none, for the emulator's side) and
    ``$SEEDANCE_PROVIDER`` is not, and Ark's region when neither ``$ARK_REGION`` nor
    ``$ARK_BASE_URL`` says. None forgets a preference. Applies to clients made from now on."""
    global _preferred_provider, _preferred_region
    _preferred_provider = _checked_provider(provider, "Seedance.provider") if provider else None
    _preferred_region = _checked_region(region, "Seedance.region") if region else None


def _checked_provider(value: str, source: str) -> str:
    name = value.strip().lower()
    if name not in PROVIDERS:
        raise ValidationError(source, value, f"one of {', '.join(PROVIDERS)}")
    return name


def _checked_region(value: str, source: str) -> str:
    from seedance_widgets.api.catalog import ARK_BYTEPLUS, ARK_VOLCENGINE

    name = value.strip().lower()
    regions = (ARK_VOLCENGINE, ARK_BYTEPLUS)
    if name not in regions:
        raise ValidationError(source, value, f"one of {', '.join(regions)}")
    return name


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


def key_is_set(provider: str) -> bool:
    """Whether ``provider``'s key variable holds something (the value itself is never kept)."""
    return bool(_env(KEY_VARIABLES[provider]))


def _named_provider() -> str | None:
    """The provider ``$SEEDANCE_PROVIDER`` or the config names (None: neither does)."""
    wanted = _env("SEEDANCE_PROVIDER")
    return _checked_provider(wanted, "SEEDANCE_PROVIDER") if wanted else _preferred_provider


def chosen_provider() -> str:
    """The provider new jobs use: the one whose key is set; with both keys (or none, for the
    emulator's side), ``$SEEDANCE_PROVIDER``, else the config's preference, else ToAPIs."""
    named = _named_provider()
    keyed = [p for p in PROVIDERS if key_is_set(p)]
    if len(keyed) == 1:
        return keyed[0]
    return named or TOAPIS


def _refuse_unkeyed_choice() -> None:
    """A provider named explicitly whose key is missing while the other's is set: say so,
    rather than send (and bill) jobs to the other provider silently."""
    named = _named_provider()
    if named is None or key_is_set(named) or not any(key_is_set(p) for p in PROVIDERS):
        return
    other = next(p for p in PROVIDERS if p != named)
    raise SeedanceError(
        f"the provider chosen is {named} (SEEDANCE_PROVIDER or %config Seedance.provider), but "
        f"{KEY_VARIABLES[named]} is not set (only {KEY_VARIABLES[other]} is): set {KEY_VARIABLES[named]}, "
        f"or choose {other}."
    )


def chosen_region() -> str | None:
    """Ark's region from ``$ARK_REGION`` or the config (None: the client decides from
    ``$ARK_BASE_URL``, else Volcengine)."""
    wanted = _env("ARK_REGION")
    return _checked_region(wanted, "ARK_REGION") if wanted else _preferred_region


def has_key() -> bool:
    """Whether the chosen provider's key is set (so jobs go to a real, billing service)."""
    return key_is_set(chosen_provider())


def resolve_client() -> SeedanceClient:
    """A client for the chosen provider when its key is set, else for the built-in emulator
    (its Ark side when Ark is chosen)."""
    from seedance_widgets.api import SeedanceClient

    _refuse_unkeyed_choice()
    provider = chosen_provider()
    if provider == ARK:
        region = chosen_region()
        if key_is_set(ARK):
            return SeedanceClient(provider=ARK, region=region)
        emulator = _ensure_emulator()
        return SeedanceClient(
            api_key=emulator.api_key,
            base_url=emulator.base_url + EMULATOR_ARK_PATH,
            provider=ARK,
            region=region,
        )
    if key_is_set(TOAPIS):
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
                "(or ARK_API_KEY for Volcengine / BytePlus Ark) before starting Jupyter, or "
                "os.environ['TOAPIS_API_KEY'] in the kernel, then restart the kernel."
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
    """A short, key-free description of where a client points: provider (and Ark's region),
    emulator or real service, and its URL."""
    provider = getattr(client, "provider", TOAPIS)
    base = str(client.base_url)
    on_emulator = _emulator is not None and (
        base == _emulator.base_url or base.startswith(_emulator.base_url + "/")
    )
    kind = "emulator" if on_emulator else "gateway" if provider == TOAPIS else "service"
    if provider == ARK:
        region = getattr(client, "region", None)
        return f"Ark ({region or 'region unknown'}) {kind} at {base}"
    return f"ToAPIs {kind} at {base}"
