"""Wire protocols: how a neutral :class:`~seedance_widgets.api.models.GenerationRequest` is written
for one provider, and how that provider's replies are read back.

Each protocol is a module of the same shape, :class:`~.base.WireProtocol` (names, paths,
capability flags such as ``FINDS_BY_BUSINESS_ID``/``CAN_CANCEL``/``REPORTS_COST``, and
``create_body``/``ledger_body``/``dry_run_body``/``parse_task``/``parse_create_reply``/
``error_from_reply``...). Callers get a provider's module from :func:`for_provider` and call
through it, instead of branching on the provider's name: each fact about a provider lives in
its module only.

Each module also keeps its own functions (their signatures differ by provider):

- ``build_body(request, ...) -> dict``: the create call's JSON body;
- ``request_from_body(body, ...) -> GenerationRequest``: a body (as saved in a ledger, or as a server
  receives it) back into a validated request;
- ``parse_task(json) -> Task``: a create or poll reply as a :class:`~seedance_widgets.api.models.Task`.

:mod:`.toapis` is the ToAPIs gateway's (the project's default); :mod:`.ark` is Ark's (Volcengine and
BytePlus, issue 14), whose ``build_body``/``request_from_body`` also take the ``region``.
"""

from __future__ import annotations

from seedance_widgets.api.errors import ValidationError

from . import ark, toapis
from .base import WireProtocol

#: Protocol modules by name (mypy checks each against :class:`WireProtocol` here).
PROTOCOLS: dict[str, WireProtocol] = {toapis.NAME: toapis, ark.NAME: ark}
#: The protocol of a client or ledger record that names none (records of earlier versions).
DEFAULT: WireProtocol = toapis


def for_provider(name: str | None) -> WireProtocol:
    """The protocol module of provider ``name`` (None: the default, ToAPIs); a ValidationError
    naming the known providers for any other name."""
    if name is None:
        return DEFAULT
    found = PROTOCOLS.get(name)
    if found is None:
        raise ValidationError("provider", name, " or ".join(repr(known) for known in PROTOCOLS))
    return found


__all__ = ["DEFAULT", "PROTOCOLS", "WireProtocol", "ark", "for_provider", "toapis"]
