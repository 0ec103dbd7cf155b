"""What the engine asks of a job's provider (``client.provider``: ``toapis`` or ``ark``), in one place.

The rooms never branch on a protocol module themselves: they ask here whether the provider can
find a task by ``client_business_id`` (ToAPIs), cancel a queued task or list tasks (Ark), which
body a create sends (for the ledger), and whether the provider has the request's model at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from seedance_widgets.api import VIDEO_ROLE, GenerationRequest, ValidationError, catalog
from seedance_widgets.api.protocols import ark, toapis

if TYPE_CHECKING:
    from seedance_widgets.api import SeedanceClient

ARK = ark.NAME
#: Ark's limit on one account's queued tasks (its documented per-account cap).
ARK_MAX_QUEUED = 120
FLEX = "flex"


def is_flex(request: GenerationRequest | None) -> bool:
    """Whether ``request`` runs on Ark's offline tier (slower; may wait in the queue for long)."""
    return request is not None and getattr(request, "service_tier", "default") == FLEX


def flex_window(request: GenerationRequest) -> float:
    """Seconds a flex task may stay queued at the provider (its ``execution_expires_after``)."""
    window = getattr(request, "execution_expires_after", None)
    return float(window) if isinstance(window, (int, float)) and window > 0 else float(ark.FLEX_EXPIRES_AFTER)


def real_cost(request: GenerationRequest | None, tokens: int) -> float | None:
    """USD of ``tokens`` billed for ``request`` (flex at its own price); None: no token price known."""
    if request is None:
        return None
    audio = request.audio if isinstance(request.audio, bool) else None
    return catalog.cost_from_tokens(request.spec, tokens, tier=request.service_tier, audio=audio)


def provider_of(client: SeedanceClient) -> str:
    """The client's provider name, as ledger records carry it (``protocol``)."""
    return str(getattr(client, "provider", toapis.NAME))


def finds_by_business_id(client: SeedanceClient) -> bool:
    """Whether a lost create reply can be resolved by asking for the task by its business id."""
    return bool(getattr(client, "finds_by_business_id", provider_of(client) == toapis.NAME))


def can_cancel(client: SeedanceClient) -> bool:
    """Whether the provider can cancel a queued task (so it is not billed)."""
    return bool(getattr(client, "can_cancel", False))


def name_of(provider: str | None) -> str:
    """The provider as people read it."""
    return "Ark" if provider == ARK else "the gateway"


def check_request(
    client: SeedanceClient, request: GenerationRequest, local_roles: Sequence[str] = ()
) -> None:
    """Refuse, before anything is sent, what the client's provider cannot take (its body is
    built and dropped): a model Ark lacks (ValidationError naming the provider that has it),
    flex on ToAPIs (naming Ark), a local reference video on Ark (``local_roles``: the roles of
    the request's local files; Ark has no upload endpoint)."""
    body_for_ledger(client, request, None)
    if provider_of(client) == ARK and VIDEO_ROLE in local_roles:
        raise ValidationError(
            "ref_videos",
            "a local file",
            "an http(s) URL of a video already online",
            "Ark has no upload endpoint, so a local reference video cannot be sent: put it online and "
            "pass its http(s) URL (or use the ToAPIs gateway, which uploads local videos). Nothing was sent.",
        )


def body_for_ledger(
    client: SeedanceClient, request: GenerationRequest, business_id: str | None
) -> dict[str, Any]:
    """The create body the provider is sent, for people reading the ledger."""
    if provider_of(client) == ARK:
        # Local pictures stay as their stand-in URLs (by hash): the ledger never holds image data.
        return ark.build_body(request, region=getattr(client, "region", None))
    return toapis.build_body(request, client_business_id=business_id)
