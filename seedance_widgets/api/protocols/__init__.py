"""Wire protocols: how a neutral :class:`~seedance_widgets.api.models.GenerationRequest` is written
for one gateway, and how that gateway's replies are read back.

Each protocol is a module with the same three functions, so a second one (Ark, issue 14) can sit
beside the first:

- ``build_body(request, ...) -> dict``: the create call's JSON body;
- ``request_from_body(body, ...) -> GenerationRequest``: a body (as saved in a ledger, or as a server
  receives it) back into a validated request;
- ``parse_task(json) -> Task``: a create or poll reply as a :class:`~seedance_widgets.api.models.Task`.

:mod:`.toapis` is the ToAPIs gateway's (the project's default); :mod:`.ark` is Ark's (Volcengine and
BytePlus, issue 14), whose ``build_body``/``request_from_body`` also take the ``region``.
"""

from __future__ import annotations

from types import ModuleType

from . import ark, toapis

#: Protocol modules by name.
PROTOCOLS: dict[str, ModuleType] = {toapis.NAME: toapis, ark.NAME: ark}

__all__ = ["PROTOCOLS", "ark", "toapis"]
