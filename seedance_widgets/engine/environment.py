"""The backend of a manager given no client: the process environment's, as chosen by the front
door module :mod:`seedance_widgets.backend` (``TOAPIS_API_KEY`` set: the gateway; else the built-in
emulator, or a one-line :class:`~seedance_widgets.backend.NoBackendError` when it is not installed).

The only engine module that reaches that front door, and only when called: the engine's rooms
take a client factory and never start an emulator themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from seedance_widgets.api import SeedanceClient


def environment_client() -> SeedanceClient:
    """A client for the gateway when a key is set, else for the built-in emulator."""
    from seedance_widgets.backend import resolve_client

    return resolve_client()


def backend_time_scale() -> float:
    """The built-in emulator's speed once it is started (1.0 otherwise)."""
    from seedance_widgets.backend import emulator_time_scale

    return emulator_time_scale()


def environment_target() -> tuple[str, str | None]:
    """The provider (and Ark region) a client made from the environment would use, without
    making one: a dry run shows that provider's body and starts no emulator."""
    import os

    from seedance_widgets.api.protocols.ark import region_for_base_url
    from seedance_widgets.backend import chosen_provider, chosen_region

    provider = chosen_provider()
    region = chosen_region()
    if region is None and provider == "ark":
        # As the client does: a BytePlus base URL means BytePlus's model ids.
        region = region_for_base_url(os.environ.get("ARK_BASE_URL", ""))
    return provider, region


def has_key() -> bool:
    """Whether the chosen provider's key (``TOAPIS_API_KEY`` or ``ARK_API_KEY``) holds something
    (the value itself is never kept)."""
    from seedance_widgets.backend import has_key as key_is_set

    return key_is_set()
