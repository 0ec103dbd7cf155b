"""``Seedance``: the magic's settings, one ``config=True`` trait each.

Set them with ``%config Seedance.duration = 8`` in a notebook, or with
``c.Seedance.output_dir = "videos"`` in ``ipython_config.py``. The API key is
deliberately NOT a setting: it lives only in the ``TOAPIS_API_KEY`` (or ``ARK_API_KEY``)
environment variable, so it can never end up in a config file, ``%config`` output or a notebook.

Request defaults are checked against the catalogue's spec of ``Seedance.model`` (the one place
limits live), with the request's own words: ``%config Seedance.resolution = '1080p'`` is refused
while the model is Seedance 1.5 Pro, naming the models that allow it. ``None`` means "the model's
own default" (5 s, its default ratio and resolution, audio on for Seedance 2.x).
"""

from __future__ import annotations

from typing import Any

from traitlets import Bool, Enum, Float, Int, TraitError, Unicode, validate
from traitlets.config import Configurable

from seedance_widgets.api import GenerationRequest, ValidationError, catalog

POLL_POLICIES = ("adaptive", "baseline")
#: Where jobs go when the environment does not decide (both keys set, or none: the emulator's side).
PROVIDERS = ("toapis", "ark")
#: Ark's regions (the catalogue's names; ``ARK_BASE_URL`` wins over this).
ARK_REGIONS = ("volcengine", "bytepluses")
#: Settings that become request fields, and the request field each one sets.
REQUEST_DEFAULTS: dict[str, str] = {
    "duration": "duration",
    "ratio": "aspect_ratio",
    "resolution": "resolution",
    "audio": "audio",
    "camera_fixed": "camera_fixed",
    "seed": "seed",
}
_DEFAULT_SPEC = catalog.spec_for(catalog.DEFAULT_MODEL)


def model_problem(model: object) -> str | None:
    """Why ``model`` is no catalogue id (the catalogue's words, with its did-you-mean), or None."""
    try:
        catalog.spec_for(model)
    except ValidationError as err:
        return str(err)
    return None


def field_problem(model: str, field: str, value: Any) -> str | None:
    """The request's own refusal of ``field=value`` for ``model`` (None when it fits)."""
    if value is None and field != "seed":
        return None  # the model's default always fits
    try:
        GenerationRequest(prompt="x", model=model, **{field: value})
    except ValidationError as err:
        return str(err)
    return None


class Seedance(Configurable):
    """Defaults for ``%seedance`` / ``%%seedance`` (an option on the magic line wins over these)."""

    base_url = Unicode(
        None,
        allow_none=True,
        help="Gateway URL. None: SEEDANCE_BASE_URL if set, else https://toapis.com with a key "
        "(TOAPIS_API_KEY), else the built-in emulator.",
    ).tag(config=True)
    provider = Enum(
        PROVIDERS,
        default_value=None,
        allow_none=True,
        help="Which provider new jobs use when both TOAPIS_API_KEY and ARK_API_KEY are set (or neither: "
        "which side of the built-in emulator): 'toapis' (the ToAPIs gateway) or 'ark' (Volcengine / "
        "BytePlus Ark). $SEEDANCE_PROVIDER wins over this; with one key set, that key's provider is used. "
        "None: ToAPIs.",
    ).tag(config=True)
    region = Enum(
        ARK_REGIONS,
        default_value=None,
        allow_none=True,
        help="Ark's region: 'volcengine' (China, Beijing) or 'bytepluses' (BytePlus, Southeast Asia). "
        "$ARK_REGION and $ARK_BASE_URL win over this. None: from ARK_BASE_URL, else volcengine.",
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
    live_card_delay = Float(
        0.3,
        help="A job already finished when shown (a re-run served from the cache) shows as its static "
        "card; its live widget takes over once no cell has started for this many seconds, so a "
        "notebook run from start to end never pays for widgets it does not show live. 0: the live "
        "widget at once.",
    ).tag(config=True)
    model = Unicode(
        catalog.DEFAULT_MODEL,
        help=f"Model of new jobs (like --model): one of {', '.join(catalog.MODELS)}. "
        "%seedance models lists what each allows and costs.",
    ).tag(config=True)
    duration = Int(
        None,
        allow_none=True,
        help="Default clip length in seconds (like --duration), within Seedance.model's range "
        f"({_DEFAULT_SPEC.label}: {_DEFAULT_SPEC.durations.min} to {_DEFAULT_SPEC.durations.max}); "
        "None: the model's default.",
    ).tag(config=True)
    ratio = Unicode(
        None,
        allow_none=True,
        help=f"Default aspect ratio (like --ratio), one Seedance.model offers ({_DEFAULT_SPEC.label}: "
        f"{', '.join(_DEFAULT_SPEC.ratios)}); None: the model's default.",
    ).tag(config=True)
    resolution = Unicode(
        None,
        allow_none=True,
        help=f"Default resolution (like --resolution), one Seedance.model offers ({_DEFAULT_SPEC.label}: "
        f"{', '.join(_DEFAULT_SPEC.resolutions)}); None: the model's default.",
    ).tag(config=True)
    audio = Bool(
        None,
        allow_none=True,
        help="Generate a synchronised audio track by default (like --audio); None: the model's default "
        "(off for 1.5 Pro, on for Seedance 2.x).",
    ).tag(config=True)
    camera_fixed = Bool(
        False, help="Keep the camera still by default (like --camera-fixed), where the model offers it."
    ).tag(config=True)
    seed = Int(
        None,
        allow_none=True,
        help=f"Default seed, {_DEFAULT_SPEC.seed[0] if _DEFAULT_SPEC.seed else -1} (random) to "
        f"{_DEFAULT_SPEC.seed[1] if _DEFAULT_SPEC.seed else '-'}; None lets the gateway pick.",
    ).tag(config=True)

    @validate("model")
    def _check_model(self, proposal: dict[str, Any]) -> str:
        value = proposal["value"]
        problem = model_problem(value)
        if problem is not None:
            raise TraitError(f"Seedance.model={value!r} is not allowed: {problem}")
        # The request defaults already set must fit the new model: say which do not, and the fix.
        misfits = [
            f"Seedance.{name}={getattr(self, name)!r} ({why})"
            for name, field in REQUEST_DEFAULTS.items()
            if (why := field_problem(value, field, getattr(self, name))) is not None
        ]
        if misfits:
            raise TraitError(
                f"Seedance.model={value!r} does not fit the defaults already set: {'; '.join(misfits)}. "
                "Set those to None (the model's default) or to a value the model allows first."
            )
        return str(value)

    @validate(*REQUEST_DEFAULTS)
    def _check_request_default(self, proposal: dict[str, Any]) -> Any:
        name = proposal["trait"].name
        value = proposal["value"]
        if name == "ratio" and isinstance(value, str):
            value = value.strip()
        if name == "resolution" and isinstance(value, str):
            value = value.strip().lower()
        problem = field_problem(self.model, REQUEST_DEFAULTS[name], value)
        if problem is not None:
            raise TraitError(
                f"Seedance.{name}={value!r} is not allowed while Seedance.model is {self.model!r}: {problem}"
            )
        return value

    @validate("time_scale")
    def _check_time_scale(self, proposal: dict[str, Any]) -> float | None:
        value = proposal["value"]
        if value is not None and value <= 0:
            raise TraitError(f"Seedance.time_scale={value} is not allowed: a positive number, or None")
        return value

    @validate("live_card_delay")
    def _check_live_card_delay(self, proposal: dict[str, Any]) -> float:
        value = float(proposal["value"])
        if not value >= 0:  # also refuses NaN
            raise TraitError(f"Seedance.live_card_delay={value} is not allowed: seconds, 0 or more")
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
        """The per-request defaults, keyed as the parser names them (None: the model's default)."""
        return {name: getattr(self, name) for name in ("model", *REQUEST_DEFAULTS, "embed")}

    def engine_settings(self) -> tuple[Any, ...]:
        """The settings that shape a job manager (a change means another manager)."""
        return (
            self.base_url,
            self.output_dir,
            self.poll_policy,
            self.budget_usd,
            self.time_scale,
            self.provider,
            self.region,
        )
