"""What every wire protocol module offers, so callers ask the module instead of branching on its name.

:class:`WireProtocol` is the shape both :mod:`.toapis` and :mod:`.ark` have (mypy checks each
module against it where ``PROTOCOLS`` is built). The client, the engine's provider questions and
the store's dry-run body call through it; a provider fact (a path, whether lost creates can be
found by business id, how a create reply reads) lives in its protocol module only.

This module imports neither protocol, so both may import it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from seedance_widgets.api.errors import APIError
from seedance_widgets.api.models import GenerationRequest, Task

#: Operations only some providers have (keys of ``WireProtocol.UNSUPPORTED``).
CANCEL = "cancel"
LIST = "list"
FIND_BY_BUSINESS_ID = "find_by_business_id"


@runtime_checkable
class WireProtocol(Protocol):
    """One provider's wire protocol (a module: :mod:`.toapis` or :mod:`.ark`)."""

    #: The provider's name, as clients and ledger records carry it (``toapis``, ``ark``).
    NAME: str
    #: The provider as people read it in messages ("the gateway", "Ark").
    LABEL: str
    #: Where to look for a task whose create reply was lost, for the "may exist" message.
    LOST_TASK_HINT: str
    #: ``POST`` path of a create, and the path of one task (``{id}`` in it), under the base URL.
    CREATE_PATH: str
    TASK_PATH: str
    #: Operations this provider lacks (``CANCEL``, ``LIST``, ``FIND_BY_BUSINESS_ID``), with the
    #: message that says so and names the way out.
    UNSUPPORTED: Mapping[str, str]
    #: A lost create reply can be resolved by asking for the task by its ``client_business_id``.
    FINDS_BY_BUSINESS_ID: bool
    #: A queued task can be cancelled (so it is not billed).
    CAN_CANCEL: bool
    #: The account's tasks can be listed.
    CAN_LIST: bool
    #: Task replies carry billed tokens the catalogue prices (the engine shows a real cost).
    REPORTS_COST: bool
    #: Local images and videos are uploaded (else images travel inline; videos are refused).
    UPLOADS_MEDIA: bool

    def create_body(
        self,
        request: GenerationRequest,
        *,
        business_id: str | None,
        region: str | None,
        inline: Mapping[str, str],
        execution_expires_after: int | None,
    ) -> dict[str, Any]:
        """The body a create sends; every refusal raised here, before anything is sent."""
        ...

    def ledger_body(
        self, request: GenerationRequest, *, business_id: str | None, region: str | None
    ) -> dict[str, Any]:
        """The create body as people read it in the ledger (local images as stand-in URLs)."""
        ...

    def dry_run_body(
        self, request: GenerationRequest, media: Sequence[tuple[str, str]], *, region: str | None
    ) -> dict[str, Any]:
        """The create body with ``media`` ((role, reference) pairs) in place of the request's own
        inputs of the same role (a dry run shows it; local files appear as ``sha256:<hex>``)."""
        ...

    def unwrap(self, data: Any) -> Any:
        """The task object inside a parsed reply."""
        ...

    def parse_task(self, data: Any) -> Task:
        """A create, poll or list-item reply as a :class:`Task` (tolerant)."""
        ...

    def parse_create_reply(self, data: Mapping[str, Any]) -> Task | None:
        """The task of a create reply that is an acknowledgement only (no status), else None
        (the reply is then checked and read like any task reply)."""
        ...

    def as_sent(self, task: Task, request: GenerationRequest) -> Task:
        """A created task with what its reply leaves out filled in from the request sent."""
        ...

    def error_from_reply(
        self, status: int, body: Any, retry_after: float | None = None, fallback_text: str = ""
    ) -> APIError:
        """The typed error of an error reply."""
        ...

    def check_local_video(self, field: str, value: Any, tail: str = "") -> None:
        """Refuse a local reference video when this provider cannot take one (``tail`` ends the message)."""
        ...


__all__ = ["CANCEL", "FIND_BY_BUSINESS_ID", "LIST", "WireProtocol"]
