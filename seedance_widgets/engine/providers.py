"""What the engine asks of a job's provider (``client.provider``: ``toapis`` or ``ark``), in one place.

The rooms never branch on a protocol module themselves: they ask here whether the provider can
find a task by ``client_business_id`` (ToAPIs), cancel a queued task or list tasks (Ark), which
body a create sends (for the ledger), and whether the provider has the request's model at all.
The answers come from the provider's protocol module (``api.protocols.for_provider``), not from
branches on its name here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from seedance_widgets.api import VIDEO_ROLE, GenerationRequest, catalog
from seedance_widgets.api.protocols import DEFAULT, PROTOCOLS, WireProtocol, ark, for_provider

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
    return str(getattr(client, "provider", DEFAULT.NAME))


def protocol_of(client: SeedanceClient) -> WireProtocol:
    """The client's wire protocol module (its provider's, see ``api.protocols.for_provider``)."""
    return for_provider(provider_of(client))


def finds_by_business_id(client: SeedanceClient) -> bool:
    """Whether a lost create reply can be resolved by asking for the task by its business id."""
    return bool(getattr(client, "finds_by_business_id", protocol_of(client).FINDS_BY_BUSINESS_ID))


def can_cancel(client: SeedanceClient) -> bool:
    """Whether the provider can cancel a queued task (so it is not billed)."""
    return bool(getattr(client, "can_cancel", False))


def protocol_named(provider: str | None) -> WireProtocol:
    """The protocol of a provider named by a ledger record or a job (an unknown or missing name,
    e.g. a record of another version: the default provider's, never an error mid-job)."""
    return PROTOCOLS.get(provider or "", DEFAULT)


def reports_cost(provider: str | None) -> bool:
    """Whether the provider's task replies carry billed tokens the catalogue prices (a real cost)."""
    return protocol_named(provider).REPORTS_COST


def name_of(provider: str | None) -> str:
    """The provider as people read it (an unknown or missing name: the default provider's)."""
    return protocol_named(provider).LABEL


def check_request(
    client: SeedanceClient, request: GenerationRequest, local_roles: Sequence[str] = ()
) -> None:
    """Refuse, before anything is sent, what the client's provider cannot take (its body is
    built and dropped): a model Ark lacks (ValidationError naming the provider that has it),
    flex on ToAPIs (naming Ark), a local reference video on Ark (``local_roles``: the roles of
    the request's local files; Ark has no upload endpoint)."""
    body_for_ledger(client, request, None)
    if VIDEO_ROLE in local_roles:
        protocol_of(client).check_local_video("ref_videos", "a local file", ". Nothing was sent.")


def body_for_ledger(
    client: SeedanceClient, request: GenerationRequest, business_id: str | None
) -> dict[str, Any]:
    """The create body the provider is sent, for people reading the ledger (local pictures stay as
    their stand-in URLs, by hash: the ledger never holds image data)."""
    return protocol_of(client).ledger_body(
        request, business_id=business_id, region=getattr(client, "region", None)
    )
