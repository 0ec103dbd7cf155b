"""``Seedance``: the magic's settings, one ``config=True`` trait each.

Set them with ``%config Seedance.duration = 8`` in a notebook, or with
``c.Seedance.output_dir = "videos"`` in ``ipython_config.py``. The API key is
deliberately NOT a setting: it lives only in the ``TOAPIS_API_KEY`` environment
variable, so it can never end up in a config file, ``%config`` output or a notebook.
"""

from __future__ import annotations

from typing import Any

from traitlets import Bool, CaselessStrEnum, Enum, Float, Int, TraitError, Unicode, validate
from traitlets.config import Configurable

from seedance_widgets.api import ASPECT_RATIOS, MAX_SEED, RESOLUTIONS

POLL_POLICIES = ("adaptive", "baseline")


class Seedance(Configurable):
    """Defaults for ``%seedance`` / ``%%seedance`` (an option on the magic line wins over these)."""

    base_url = Unicode(
        None,
        allow_none=True,
        help="Gateway URL. None: SEEDANCE_BASE_URL if set, else https://toapis.com with a key "
        "(TOAPIS_API_KEY), else the built-in emulator.",
    ).tag(config=True)
    output_dir = Unicode(
        None,
        allow_none=True,
        help="Folder for videos, uploads and the ledger (relative to the kernel's working directory). "
        "None: $SEEDANCE_OUTPUT_DIR, else ./seedance_outputs.",
    ).tag(config=True)
    poll_policy = Enum(
        POLL_POLICIES,
        default_value="adaptive",
        help="How often to poll: 'adaptive' (sparse while the finish is far, dense near it) or "
        "'baseline' (the gateway's advice: after 5 s, then every 10 s).",
    ).tag(config=True)
    budget_usd = Float(
        None,
        allow_none=True,
        help="Refuse new jobs once the session's ESTIMATED spend would pass this many US dollars "
        "(None: no cap).",
    ).tag(config=True)
    time_scale = Float(
        None,
        allow_none=True,
        help="Divide the engine's waits (polls, back-off, deadline) by this, for an emulator that runs "
        "N times faster than the gateway. None: 1 with a key, the built-in emulator's own speed without.",
    ).tag(config=True)
    embed = Bool(False, help="Keep the video bytes in the notebook (like --embed).").tag(config=True)
    duration = Int(5, help="Default clip length in seconds, 4 to 12 (like --duration).").tag(config=True)
    ratio = Enum(ASPECT_RATIOS, default_value="16:9", help="Default aspect ratio (like --ratio).").tag(
        config=True
    )
    resolution = CaselessStrEnum(
        RESOLUTIONS, default_value="720p", help="Default resolution, 480p or 720p (like --resolution)."
    ).tag(config=True)
    audio = Bool(False, help="Generate a synchronised audio track by default (like --audio).").tag(
        config=True
    )
    camera_fixed = Bool(False, help="Keep the camera still by default (like --camera-fixed).").tag(
        config=True
    )
    seed = Int(
        None, allow_none=True, help=f"Default seed, -1 (random) to {MAX_SEED}; None lets the gateway pick."
    ).tag(config=True)

    @validate("duration")
    def _check_duration(self, proposal: dict[str, Any]) -> int:
        value = int(proposal["value"])
        if not 4 <= value <= 12:
            raise TraitError(
                f"Seedance.duration={value} is not allowed: a whole number of seconds from 4 to 12"
            )
        return value

    @validate("seed")
    def _check_seed(self, proposal: dict[str, Any]) -> int | None:
        value = proposal["value"]
        if value is not None and not -1 <= value <= MAX_SEED:
            raise TraitError(f"Seedance.seed={value} is not allowed: -1 (random) to {MAX_SEED}, or None")
        return value

    @validate("time_scale")
    def _check_time_scale(self, proposal: dict[str, Any]) -> float | None:
        value = proposal["value"]
        if value is not None and value <= 0:
            raise TraitError(f"Seedance.time_scale={value} is not allowed: a positive number, or None")
        return value

    @validate("budget_usd")
    def _check_budget(self, proposal: dict[str, Any]) -> float | None:
        value = proposal["value"]
        if value is not None and value < 0:
            raise TraitError(
                f"Seedance.budget_usd={value} is not allowed: a positive number of dollars, or None"
            )
        return value

    def defaults(self) -> dict[str, Any]:
        """The per-request defaults, keyed as the parser names them."""
        return {
            name: getattr(self, name)
            for name in ("duration", "ratio", "resolution", "audio", "camera_fixed", "seed", "embed")
        }

    def engine_settings(self) -> tuple[Any, ...]:
        """The settings that shape a job manager (a change means another manager)."""
        return (self.base_url, self.output_dir, self.poll_policy, self.budget_usd, self.time_scale)
