"""A manager's settings that its rooms read while they work (each settable at any time)."""

from __future__ import annotations

import dataclasses

from .policy import PollPolicy
from .providers import ARK_MAX_QUEUED


@dataclasses.dataclass
class Settings:
    """``time_scale`` divides every wait of the poll policy, the reconnect back-off and the
    deadline: the emulator's speed factor makes tests and benchmarks see the same policy
    behaviour as the real gateway, only faster."""

    poll_policy: PollPolicy
    deadline_s: float
    time_scale: float = 1.0
    #: When True, ``time_scale`` follows the built-in emulator's speed once it is started.
    time_scale_from_backend: bool = False
    #: At most this many of our jobs queued at Ark at once (its per-account limit); more wait.
    ark_max_queued: int = ARK_MAX_QUEUED

    def ours(self, gateway_seconds: float) -> float:
        """Gateway seconds as seconds of this process's clock (divided by the time scale)."""
        return gateway_seconds / self.time_scale
