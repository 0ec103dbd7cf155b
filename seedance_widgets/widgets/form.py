"""``SeedanceForm``: the inline generation form, with its history of submissions under it.

Python traitlets are the one source of truth: every parameter is a synced trait, and the
page only reflects them (typing sets them back). What the page cannot say with a trait
(press Generate, add an image file, reuse a card's settings, compare two cards, fetch a
video) travels as a custom message ``{kind: ...}`` through one dispatcher.

Validity is never computed twice: the form builds the :class:`GenerationRequest` it would
submit and shows the :class:`ValidationError` text it raises, so the page and the Python
API always give the same reason.

Models. ``model`` picks a catalogue model (``model_choices`` lists them for the picker); ``limits``
is that model's spec as ``catalog.limits_json`` gives it (plus the upload caps and accepted file
types), and the page builds every control from it. Switching model keeps every setting that still
fits, replaces the others (and drops images or media the model does not take), and says what it
changed in ``model_note``.

History. A new form lists the output folder's earlier jobs too (its manager's jobs, which the
engine restores from the ledger after a restart), newest first, up to ``HISTORY_LIMIT``; each card
can put its settings back ("use these settings again") or, once confirmed in the page, make a new
paid task with a new seed ("Generate again (paid)"). Inside a kernel the form also shows a static
twin of its history (the cards with their videos) that exports with plain nbconvert (``_share``).
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import anywidget
import traitlets

from seedance_widgets.api import (
    MAX_PROMPT_CHARS,
    GenerationRequest,
    SeedanceError,
    ValidationError,
    catalog,
)
from seedance_widgets.api.catalog import ModelSpec
from seedance_widgets.api.media import (
    AUDIO_TYPES,
    IMAGE_EXTENSIONS,
    MAX_AUDIO_BYTES,
    MAX_UPLOAD_BYTES,
    MAX_VIDEO_UPLOAD_BYTES,
    VIDEO_TYPES,
    read_audio,
    read_image,
    read_video,
    sniff_image_type,
)
from seedance_widgets.api.models import AUDIO_ROLE, VIDEO_ROLE, request_estimate_usd
from seedance_widgets.engine.state import JobSnapshot
from seedance_widgets.widgets import _display, _share
from seedance_widgets.widgets._again import continue_from_here, generate_again, job_images
from seedance_widgets.widgets._cards import (
    CardBook,
    KernelParent,
    VideoServer,
    last_frame_path,
    seed_used,
    static_card_html,
)
from seedance_widgets.widgets.messages import (
    MSG_ADD_IMAGE,
    MSG_ADD_IMAGE_RESPONSE,
    MSG_CANCEL,
    MSG_COMPARE,
    MSG_COMPARE_CLOSE,
    MSG_CONTINUE,
    MSG_GENERATE,
    MSG_GENERATE_AGAIN,
    MSG_IMAGE_REQUEST,
    MSG_IMAGE_RESPONSE,
    MSG_LAST_FRAME_REQUEST,
    MSG_REMOVE_IMAGE,
    MSG_REUSE_SETTINGS,
    MSG_VIDEO_REQUEST,
)

log = logging.getLogger("seedance_widgets.widgets")

SEED_MODES = ("random", "fixed")
#: Parameters a caller may pass to ``SeedanceForm(...)`` besides ``manager`` and the images.
#: ``model`` comes first: the page's values are applied in this order, and the others are checked
#: against the model's spec.
PARAM_TRAITS = (
    "model",
    "prompt",
    "duration",
    "aspect_ratio",
    "resolution",
    "audio",
    "seed_mode",
    "seed",
    "camera_fixed",
    "return_last_frame",
    "web_search",
    "flex",
)
#: The service tier the form's ``flex`` switch asks for (Ark's offline tier: about half price).
FLEX_TIER = "flex"
#: The parameters checked by GenerationRequest itself (with the model's spec).
REQUEST_TRAITS = (
    "duration",
    "aspect_ratio",
    "resolution",
    "audio",
    "camera_fixed",
    "return_last_frame",
    "web_search",
)
#: Roles of the form's ``images`` entries: images, then reference media.
MEDIA_ROLES = (VIDEO_ROLE, AUDIO_ROLE)
#: Resolutions from lowest to highest, as the catalogue lists them (for "keep the nearest").
_RESOLUTION_ORDER = tuple(dict.fromkeys(r for spec in catalog.MODELS.values() for r in spec.resolutions))
_TIMES = "\u00d7"  # the multiplication sign of "1280x720", spelled so the source stays ASCII

#: At most this many of the output folder's earlier jobs appear in a new form's history (the
#: newest); every card travels in the ``history`` trait, so the cap bounds each update's size.
HISTORY_LIMIT = 30

#: Placeholder host for a local image while only its validity is checked; never sent anywhere.
_LOCAL_PLACEHOLDER = "https://local-image.invalid/"
#: What an image id from the page may look like (it becomes part of a placeholder URL).
_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,40}")


def _request_message(**fields: Any) -> str | None:
    """The ValidationError text GenerationRequest gives for these fields, or None when valid."""
    try:
        GenerationRequest(**fields)
    except ValidationError as err:
        return str(err)
    return None


def _check_field(field: str, value: Any, model: str) -> Any:
    """Validate one parameter for ``model`` with GenerationRequest's own rules and words (fix-it text)."""
    message = _request_message(prompt="x", model=model, **{field: value})
    if message is not None:
        raise traitlets.TraitError(message)
    return value


def _mime_types(formats: tuple[str, ...], table: dict[str, str]) -> list[str]:
    return [mime for mime, ext in table.items() if ext in formats]


def form_limits(spec: ModelSpec) -> dict[str, Any]:
    """What the page builds its controls from: ``catalog.limits_json(spec)`` (every limit of the
    model), plus the prompt cap, the upload caps and the file types each slot accepts."""
    video_cap = min(MAX_VIDEO_UPLOAD_BYTES, (spec.video_refs.max_bytes if spec.video_refs else None) or 2**62)
    audio_cap = (spec.audio_refs.max_bytes if spec.audio_refs else None) or MAX_AUDIO_BYTES
    return {
        **catalog.limits_json(spec),
        "max_prompt_chars": MAX_PROMPT_CHARS,
        "uploads": {
            "image": {"max_bytes": MAX_UPLOAD_BYTES, "accept": list(IMAGE_EXTENSIONS)},
            "video": {
                "max_bytes": video_cap,
                "accept": _mime_types(spec.video_refs.formats if spec.video_refs else (), VIDEO_TYPES),
            },
            "audio": {
                "max_bytes": audio_cap,
                "accept": _mime_types(spec.audio_refs.formats if spec.audio_refs else (), AUDIO_TYPES),
            },
        },
    }


def model_choices() -> list[dict[str, Any]]:
    """The picker's options: every catalogue model, in catalogue order."""
    return [
        {"id": spec.id, "label": spec.label, "family": spec.family, "unconfirmed": bool(spec.unconfirmed)}
        for spec in catalog.MODELS.values()
    ]


class SeedanceForm(anywidget.AnyWidget):
    """An inline form for every Seedance model of the catalogue, with a history of what it generated.

    ``SeedanceForm(prompt="...", duration=6, manager=my_manager)``; every keyword is a
    trait below (unknown ones are an error). ``form.generate()`` does what the button
    does; ``form.jobs`` lists the jobs it submitted, oldest first.
    """

    _esm = _display.bundle("form.js")
    _css = _display.bundle("form.css")

    # ---- parameters (set from Python or typed in the page) ------------------------------
    #: The catalogue model jobs go to (``model_choices`` lists them); the other parameters are
    #: checked against its spec, and changing it keeps what still fits (see ``model_note``).
    model = traitlets.Unicode(catalog.DEFAULT_MODEL, help="catalogue model id").tag(sync=True)
    #: Scene, action, style and camera, in words; at most ``MAX_PROMPT_CHARS`` characters.
    prompt = traitlets.Unicode("", help="the prompt: scene, action, style, camera").tag(sync=True)
    #: Length of the clip in seconds, within the model's range; its auto value (``-1``) where it picks.
    duration = traitlets.Int(5, help="seconds, within the model's range (limits.durations)").tag(sync=True)
    #: Frame shape, one of the model's ratios (``limits.ratios``).
    aspect_ratio = traitlets.Unicode("16:9", help="one of the model's ratios").tag(sync=True)
    #: One of the model's resolutions (``limits.resolutions``).
    resolution = traitlets.Unicode("720p", help="one of the model's resolutions").tag(sync=True)
    #: Generate a synchronised audio track, where the model makes sound.
    audio = traitlets.Bool(False, help="generate a synchronised audio track").tag(sync=True)
    #: Keep the camera still, where the model offers it.
    camera_fixed = traitlets.Bool(False, help="keep the camera still").tag(sync=True)
    #: "random" (the gateway picks a seed; shown on the card afterwards) or "fixed" (use ``seed``).
    seed_mode = traitlets.Unicode("random", help="'random' or 'fixed'").tag(sync=True)
    #: The seed used when ``seed_mode == "fixed"``: 0 to the model's maximum (similar, not identical).
    seed = traitlets.Int(0, help="seed for seed_mode='fixed', 0 to the model's maximum").tag(sync=True)
    #: Also save the clip's last frame (for the card's "continue from here"), where the model can.
    return_last_frame = traitlets.Bool(False, help="save the clip's last frame too").tag(sync=True)
    #: Let the model search the web, where it can.
    web_search = traitlets.Bool(False, help="let the model search the web").tag(sync=True)
    #: Ark's offline tier (``service_tier="flex"``): about half price, may wait hours; the page shows
    #: the switch only when ``provider`` is Ark, and a flex request on ToAPIs cannot be submitted.
    flex = traitlets.Bool(False, help="Ark's offline tier: half price, slower (Ark only)").tag(sync=True)

    # ---- images and reference media: changed through add_image / remove_image (or messages) ---
    #: One entry per image, reference video or reference audio clip:
    #: ``{id, role, kind: "url"|"file", url, name, size, mime}`` (+ ``seconds`` for local media).
    #: A file's bytes stay in the kernel until Generate; the page asks for them to draw thumbnails.
    images = traitlets.List(traitlets.Dict(), help="images and media with roles; use add_image()").tag(
        sync=True
    )

    # ---- derived, read by the page --------------------------------------------------------
    #: The current model's limits (``form_limits``: the catalogue's spec), which the page builds
    #: every control from.
    limits = traitlets.Dict(help="the model's limits, for the page's controls").tag(sync=True)
    #: The picker's options: ``{id, label, family, unconfirmed}`` per catalogue model.
    model_choices = traitlets.List(traitlets.Dict(), help="models the picker offers").tag(sync=True)
    #: What the last change of model changed in the form ("" before any).
    model_note = traitlets.Unicode("", help="what switching model changed").tag(sync=True)
    #: Why the form cannot be submitted ("" when it can): GenerationRequest's own words.
    invalid_reason = traitlets.Unicode("", help="why Generate is disabled; empty when valid").tag(sync=True)
    #: Estimated cost in USD of one submission (a list-price estimate, not the gateway's bill);
    #: None when the catalogue has no price for these settings ("no estimate", never a number).
    estimate_usd = traitlets.Float(None, allow_none=True, help="estimated cost in USD (an estimate)").tag(
        sync=True
    )
    #: Output size, frame rate and length for the current settings ("1280x720 · 24 fps · 5 s").
    output_label = traitlets.Unicode("", help="output size, frame rate and length").tag(sync=True)
    #: The seed the newest job ran with, once known (None before).
    last_seed = traitlets.Int(None, allow_none=True, help="seed used by the newest job").tag(sync=True)
    #: Where Generate sends jobs, and whether that is billed (never the key).
    backend = traitlets.Unicode("", help="where jobs go (emulator or the real gateway)").tag(sync=True)
    #: The provider Generate sends jobs to: "toapis" or "ark" (the flex switch is Ark's).
    provider = traitlets.Unicode("toapis", help="the provider jobs go to: toapis or ark").tag(sync=True)
    #: This session's running jobs and estimated spend against the manager's budget.
    session = traitlets.Unicode("", help="running jobs and estimated session spend").tag(sync=True)
    #: The last error from an action, shown under the form ("" = none).
    error = traitlets.Unicode("", help="last action error shown under the form").tag(sync=True)
    #: Cards of the submitted jobs, newest first (see _cards.CardBook); JSON only, never video bytes.
    history = traitlets.List(traitlets.Dict(), help="cards of submitted jobs, newest first").tag(sync=True)
    #: Count of parameter edits made in the page. Sent along with each edit; actions carry the
    #: count they follow, so edits held back by ipywidgets' throttle cannot land after them.
    edit_seq = traitlets.Int(0, help="page edit counter (orders edits against actions)").tag(sync=True)
    #: Local ids of the two cards shown side by side ([] = no comparison).
    compare = traitlets.List(traitlets.Unicode(), help="ids of the two compared cards").tag(sync=True)

    def __init__(
        self,
        *,
        manager: Any = None,
        first_frame: str | Path | bytes | None = None,
        last_frame: str | Path | bytes | None = None,
        references: Sequence[str | Path | bytes] = (),
        ref_videos: Sequence[str | Path | bytes] = (),
        ref_audios: Sequence[str | Path | bytes] = (),
        **params: Any,
    ) -> None:
        unknown = sorted(set(params) - set(PARAM_TRAITS))
        if unknown:
            raise TypeError(
                f"SeedanceForm() got unexpected keyword(s) {', '.join(map(repr, unknown))}; it accepts "
                f"{', '.join(PARAM_TRAITS)}, first_frame, last_frame, references, ref_videos, ref_audios "
                "and manager"
            )
        problem = _model_problem(params.get("model", catalog.DEFAULT_MODEL))
        if problem is not None:
            raise traitlets.TraitError(problem)
        spec = catalog.spec_for(params.get("model", catalog.DEFAULT_MODEL))
        # Parameters not given take the model's own defaults (audio on for Seedance 2.x, ...).
        params.setdefault("duration", spec.default_duration)
        params.setdefault("aspect_ratio", spec.default_ratio)
        params.setdefault("resolution", spec.default_resolution)
        params.setdefault("audio", spec.audio == "default_on")
        seed = params.get("seed")
        if "seed" in params and "seed_mode" not in params:
            # SeedanceForm(seed=42) means "use 42"; seed=None or -1 means "random".
            params["seed_mode"] = "random" if seed is None or seed == -1 else "fixed"
        if seed is None or seed == -1:
            params.pop("seed", None)
        self._lock = threading.RLock()
        self._manager = manager
        self._jobs: list[Any] = []
        #: The output folder's jobs from before this form (oldest first), shown after its own.
        self._past: list[Any] = []
        self._by_id: dict[str, Any] = {}
        self._twin = _share.StaticTwin("form")
        self._book = CardBook()
        self._job_images: dict[str, list[dict[str, Any]]] = {}
        self._image_bytes: dict[str, bytes] = {}
        self._unsubscribers: list[Callable[[], None]] = []
        #: edit_seq of the newest action handled: page edits up to it are already applied.
        self._action_seq = -1
        super().__init__(**params)
        self.limits = form_limits(spec)
        self.model_choices = model_choices()
        for role, source in (("first_frame", first_frame), ("last_frame", last_frame)):
            if source is not None:
                self.add_image(role, source)
        for role, sources in (
            ("reference_image", references),
            (VIDEO_ROLE, ref_videos),
            (AUDIO_ROLE, ref_audios),
        ):
            for source in sources:
                self.add_image(role, source)
        self._kernel_parent = KernelParent.capture()
        self._videos = VideoServer(self, self._by_id.get)
        self.on_msg(self._dispatch)
        self._show_backend()
        self._load_past()

    # ---- validation of parameters (Python assignments and the page alike) ----------------
    @traitlets.validate("model")
    def _valid_model(self, proposal: traitlets.Bunch) -> str:
        problem = _model_problem(proposal["value"])
        if problem is not None:
            raise traitlets.TraitError(problem)
        return str(proposal["value"])

    @traitlets.validate(*REQUEST_TRAITS)
    def _valid_param(self, proposal: traitlets.Bunch) -> Any:
        return _check_field(proposal["trait"].name, proposal["value"], self.model)

    @traitlets.validate("seed")
    def _valid_seed(self, proposal: traitlets.Bunch) -> int:
        value = proposal["value"]
        spec = catalog.spec_for(self.model)
        top = spec.seed[1] if spec.seed else 0
        if not 0 <= value <= top:
            raise traitlets.TraitError(
                f"seed={value!r} is not allowed for {spec.id}: an integer from 0 to {top}; "
                "for a random seed set seed_mode='random'"
            )
        return int(value)

    @traitlets.validate("seed_mode")
    def _valid_seed_mode(self, proposal: traitlets.Bunch) -> str:
        if proposal["value"] not in SEED_MODES:
            raise traitlets.TraitError(f"seed_mode={proposal['value']!r} is not allowed: 'random' or 'fixed'")
        return str(proposal["value"])

    @traitlets.validate("images")
    def _valid_images(self, proposal: traitlets.Bunch) -> list[dict[str, Any]]:
        images = [dict(img) for img in proposal["value"]]
        for img in images:
            known_file = img.get("kind") == "file" and img.get("id") in self._image_bytes
            known_url = img.get("kind") == "url" and isinstance(img.get("url"), str)
            if not {"id", "role"} <= img.keys() or not (known_file or known_url):
                raise traitlets.TraitError(
                    f"images entry {img!r} is not one this form made; add images with "
                    "form.add_image(role, url_path_or_bytes) and remove them with form.remove_image(id)"
                )
        message = _request_message(prompt="x", model=self.model, **self._role_fields(images))
        if message is not None:
            raise traitlets.TraitError(message)
        return images

    @traitlets.validate("compare")
    def _valid_compare(self, proposal: traitlets.Bunch) -> list[str]:
        ids = list(proposal["value"])
        if ids and (len(ids) != 2 or ids[0] == ids[1] or any(i not in self._by_id for i in ids)):
            raise traitlets.TraitError(
                f"compare={ids!r} is not allowed: two different ids of this form's jobs "
                f"({', '.join(self._by_id) or 'none yet'}), or [] for no comparison"
            )
        return ids

    @traitlets.observe(*PARAM_TRAITS, "images")
    def _params_changed(self, _change: traitlets.Bunch) -> None:
        if hasattr(self, "_videos"):  # not during __init__: refreshed once at its end
            self._refresh()

    @traitlets.observe("model")
    def _model_changed(self, change: traitlets.Bunch) -> None:
        """Keep what still fits the new model, replace the rest, and say what changed."""
        if not hasattr(self, "_videos") or change["old"] == change["new"]:
            return
        spec = catalog.spec_for(change["new"])
        with self._lock, self.hold_sync():
            self.limits = form_limits(spec)
            notes = self._fit_to(spec)
            done = "; ".join(notes) if notes else "every setting still fits"
            self.model_note = f"Switched to {spec.label} ({spec.id}): {done}."
        self._refresh()

    def _fit_to(self, spec: ModelSpec) -> list[str]:
        """Replace the parameters and images ``spec`` refuses; one note per change."""
        notes: list[str] = []

        def put(name: str, value: Any, why: str) -> None:
            old = getattr(self, name)
            if old != value:
                setattr(self, name, value)
                notes.append(
                    f"{name.replace('_', ' ')} {_shown(name, old)} \u2192 {_shown(name, value)} ({why})"
                )

        d = spec.durations
        if not d.allows(self.duration):
            fitted = spec.default_duration if self.duration <= 0 else max(d.min, min(d.max, self.duration))
            put("duration", fitted, f"{d.min}-{d.max} s" + (" or auto" if d.auto is not None else ""))
        if self.aspect_ratio not in spec.ratios:
            put("aspect_ratio", spec.default_ratio, "not offered")
        if self.resolution not in spec.resolutions:
            put("resolution", _nearest_resolution(self.resolution, spec), "not offered")
        for name, able in (
            ("audio", spec.audio != "none"),
            ("camera_fixed", spec.supports_camera_fixed),
            ("return_last_frame", spec.last_frame),
            ("web_search", spec.web_search),
        ):
            if getattr(self, name) and not able:
                put(name, False, "not offered")
        top = spec.seed[1] if spec.seed else None
        if self.seed_mode == "fixed" and (top is None or self.seed > top):
            put("seed_mode", "random", "seed out of range")
        kept, dropped = self._fitting_images(self.images)
        if dropped:
            self.images = kept
            names = ", ".join(_entry_name(img) for img in dropped)
            notes.append(f"removed {names} ({spec.label} does not take it with the rest)")
        return notes

    def _fitting_images(
        self, images: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The entries the current model takes, in order (each kept if the list stays valid), and the rest."""
        kept: list[dict[str, Any]] = []
        dropped: list[dict[str, Any]] = []
        for img in images:
            fields = self._role_fields([*kept, img])
            if _request_message(prompt="x", model=self.model, resolution=self.resolution, **fields) is None:
                kept.append(img)
            else:
                dropped.append(img)
        return kept, dropped

    # ---- the request this form describes ------------------------------------------------
    @staticmethod
    def _role_fields(images: list[dict[str, Any]]) -> dict[str, tuple[dict[str, str], ...]]:
        """``image_with_roles`` / ``video_with_roles`` / ``audio_with_roles`` of the entries (local
        files stand in as placeholder URLs until the engine uploads them)."""

        def entries(keep: Callable[[str], bool]) -> tuple[dict[str, str], ...]:
            return tuple(
                {"url": img["url"] or _LOCAL_PLACEHOLDER + img["id"], "role": img["role"]}
                for img in images
                if keep(img["role"])
            )

        return {
            "image_with_roles": entries(lambda role: role not in MEDIA_ROLES),
            "video_with_roles": entries(lambda role: role == VIDEO_ROLE),
            "audio_with_roles": entries(lambda role: role == AUDIO_ROLE),
        }

    def _fields(self, images: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {
            "model": self.model,
            "prompt": self.prompt,
            "duration": self.duration,
            "aspect_ratio": self.aspect_ratio,
            "resolution": self.resolution,
            "audio": self.audio,
            "camera_fixed": self.camera_fixed,
            "seed": self.seed if self.seed_mode == "fixed" else None,
            "return_last_frame": self.return_last_frame,
            "web_search": self.web_search,
            # Only when asked: a request without a tier keeps its cache key.
            **({"service_tier": FLEX_TIER} if self.flex else {}),
            **self._role_fields(self.images if images is None else images),
        }

    def _refresh(self) -> None:
        """Recompute validity, estimate and output size from the parameters."""
        reason = _request_message(**self._fields())
        if reason is None:
            request = GenerationRequest(**self._fields())
            self.estimate_usd = request_estimate_usd(request)
            self.output_label = _output_label(request)
        else:
            self.output_label = ""
        if reason is None and self.flex and self.provider != "ark":
            reason = (
                "flex (offline, half price) is Ark's tier, but jobs go to ToAPIs, which has none: "
                "untick flex, or set ARK_API_KEY to use Ark"
            )
        self.invalid_reason = reason or ""

    def _show_backend(self) -> None:
        """Where jobs go (words and provider), then the validity that depends on it."""
        self.backend = self._backend_label()
        self.provider = self._provider_name()
        self._refresh()

    def _provider_name(self) -> str:
        """The provider of the form's manager, or the one the backend would choose (no manager made)."""
        if self._manager is not None:
            return str(getattr(self._manager.client, "provider", "toapis"))
        from seedance_widgets.backend import chosen_provider

        return chosen_provider()

    def _backend_label(self) -> str:
        """Where jobs go, without creating the default manager (it may spawn an emulator)."""
        if self._manager is None:
            from seedance_widgets.backend import has_key

            ark = self._provider_name() == "ark"
            if has_key():
                if ark:
                    return "Ark (ARK_API_KEY is set): jobs are billed"
                return "the Seedance gateway (TOAPIS_API_KEY is set): jobs are billed"
            side = " (its Ark side)" if ark else ""
            return f"the built-in emulator{side} (no API key): synthetic clips, nothing billed"
        base_url = str(self._manager.client.base_url)
        if urlparse(base_url).hostname in ("127.0.0.1", "localhost", "::1"):
            return f"an emulator at {base_url}: synthetic clips, nothing billed"
        if self._provider_name() == "ark":
            return f"Ark at {base_url}: jobs are billed"
        return f"the gateway at {base_url}: jobs are billed"

    def _session_label(self) -> str:
        running = sum(1 for job in self._jobs if not job.snapshot().is_final)
        parts = [f"{running} running"] if running else []
        if self._manager is not None:
            spent = f"session ≈ ${self._manager.spent_usd:.2f} (estimate)"
            budget = self._manager.budget_usd
            parts.append(spent + (f" of ${budget:.2f} budget" if budget is not None else ""))
        return " · ".join(parts)

    def _load_past(self) -> None:
        """Put the output folder's earlier jobs in the history (its newest ``HISTORY_LIMIT``).

        Without a manager given, the default one is made only when its folder already has a ledger:
        a form in a fresh folder creates nothing (and starts no emulator) until Generate.
        """
        manager = self._manager
        if manager is None:
            from seedance_widgets.engine.store import resolve_output_dir

            if not (resolve_output_dir(None) / "ledger.jsonl").is_file():
                return
            manager = self.manager
        past = sorted(manager.jobs(), key=_started)[-HISTORY_LIMIT:]
        with self._lock:
            for job in past:
                self._past.append(job)
                self._by_id[job.local_id] = job
                self._book.update(job.snapshot())
            self._publish()
        for job in past:
            self._unsubscribers.append(job.subscribe(self._on_snapshot))

    @property
    def past_jobs(self) -> list[Any]:
        """The output folder's jobs from before this form that its history shows, oldest first."""
        with self._lock:
            return list(self._past)

    @property
    def request(self) -> GenerationRequest:
        """The request Generate would send (local images stand in as placeholders until uploaded)."""
        return GenerationRequest(**self._fields())

    @property
    def jobs(self) -> list[Any]:
        """The jobs this form submitted, oldest first (the page shows them newest first)."""
        return list(self._jobs)

    @property
    def manager(self) -> Any:
        """The JobManager jobs go to (the process-wide default unless one was given)."""
        if self._manager is None:
            from seedance_widgets.engine import default_manager

            self._manager = default_manager()
        return self._manager

    # ---- images -----------------------------------------------------------------------------
    def add_image(
        self, role: str, source: str | Path | bytes, *, name: str | None = None, image_id: str | None = None
    ) -> str:
        """Add an image, reference video or reference audio (an http(s) URL, a local path or bytes)
        in ``role``; returns its id.

        ``first_frame`` and ``last_frame`` hold one image each (a new one replaces the old);
        ``reference_image``, ``reference_video`` and ``reference_audio`` hold as many as the model
        takes (``limits``). Local files are checked here (type from the content, size, and the
        length of a video or audio clip where its header gives it) and uploaded by the engine when
        Generate is pressed. ``image_id`` lets the page name the file it sends, so it can show its
        thumbnail at once.
        """
        if (
            not image_id
            or not _ID_PATTERN.fullmatch(image_id)
            or any(i["id"] == image_id for i in self.images)
        ):
            image_id = uuid.uuid4().hex[:12]
        entry: dict[str, Any] = {"id": image_id, "role": role}
        data: bytes | None = None
        if isinstance(source, str) and source.strip().lower().startswith(("http://", "https://")):
            entry.update(
                kind="url", url=source.strip(), name=source.strip().rsplit("/", 1)[-1], size=None, mime=None
            )
        elif isinstance(source, str) and "://" in source:
            # Not a local path and not http(s): GenerationRequest's own message says what is wanted.
            entry.update(kind="url", url=source.strip(), name=source.strip(), size=None, mime=None)
        elif role in MEDIA_ROLES:
            spec = catalog.spec_for(self.model)
            if role == VIDEO_ROLE:
                media = read_video(source, refs=spec.video_refs, filename=name)
            else:
                media = read_audio(source, refs=spec.audio_refs, filename=name)
            data = media.data
            entry.update(
                kind="file", url=None, name=media.name, size=len(data), mime=media.mime, seconds=media.seconds
            )
        else:
            data, file_name = read_image(source, name)
            mime = sniff_image_type(data[:16])
            if mime is None:
                raise ValidationError(
                    "image",
                    file_name,
                    "a JPEG, PNG, WebP or GIF image",
                    f"{file_name} is not a JPEG, PNG, WebP or GIF image",
                )
            entry.update(kind="file", url=None, name=file_name, size=len(data), mime=mime)
        with self._lock:
            several = ("reference_image", *MEDIA_ROLES)
            kept = [img for img in self.images if role in several or img["role"] != role]
            candidate = [*kept, entry]
            message = _request_message(prompt="x", model=self.model, **self._role_fields(candidate))
            if message is not None:
                raise ValidationError("image_with_roles", entry.get("url") or entry["name"], message, message)
            if data is not None:
                self._image_bytes[entry["id"]] = data
            self.images = candidate
        return str(entry["id"])

    def remove_image(self, image_id: str) -> None:
        """Remove the image with this id (no error if it is already gone)."""
        with self._lock:
            self.images = [img for img in self.images if img["id"] != image_id]

    def clear_images(self) -> None:
        """Remove every image."""
        self.images = []

    def _engine_images(self, images: list[dict[str, Any]]) -> dict[str, Any]:
        """The images and media as generate() takes them: URLs as they are, local files as bytes."""

        def sources(role: str) -> list[Any]:
            return [
                img["url"] if img["kind"] == "url" else self._image_bytes[img["id"]]
                for img in images
                if img["role"] == role
            ]

        first, last = sources("first_frame"), sources("last_frame")
        return {
            "first_frame": first[0] if first else None,
            "last_frame": last[0] if last else None,
            "references": sources("reference_image"),
            "ref_videos": sources(VIDEO_ROLE),
            "ref_audios": sources(AUDIO_ROLE),
        }

    # ---- actions ------------------------------------------------------------------------------
    def generate(self) -> Any:
        """Submit the form's request (as the Generate button does) and return the Job.

        With a random seed every press is a new (paid) task; with a fixed seed an identical
        request already generated comes back from the output folder at no cost.
        """
        with self._lock:
            if self.invalid_reason:
                raise ValidationError("form", None, self.invalid_reason, self.invalid_reason)
            fields = self._fields()
            images = [dict(img) for img in self.images]
        for name in ("image_with_roles", "video_with_roles", "audio_with_roles"):
            del fields[name]
        job = self._submit(fields, images)
        self._show_backend()  # the default manager exists now
        self._adopt(job, images)
        return job

    def _adopt(self, job: Any, images: list[dict[str, Any]]) -> None:
        """Put a job this form submitted at the top of its history and watch it."""
        with self._lock:
            known = job.local_id in self._by_id
            # The engine may hand back a job already shown (an identical request): move it up.
            if job in self._jobs:
                self._jobs.remove(job)
            if job in self._past:
                self._past.remove(job)
            self._jobs.append(job)
            self._by_id[job.local_id] = job
            self._job_images[job.local_id] = images
            self._book.update(job.snapshot())
            self._publish()
        if not known:
            self._unsubscribers.append(job.subscribe(self._on_snapshot))
            self._on_snapshot(job.snapshot())  # a change between the card above and subscribe
        self.error = ""

    def generate_again(self, job_id: str) -> Any:
        """What a card's confirmed "Generate again (paid)" does: the job's settings and images with a
        new seed, as a new paid task (``rerun``: never the saved copy). Returns the new Job."""
        job = self._by_id.get(job_id)
        if job is None:
            raise ValidationError("job", job_id, "the id of one of this form's history cards")
        kept = self._job_images.get(job_id)
        images = self._image_inputs(kept) if kept is not None else None
        new = generate_again(job, manager=self.manager, images=images)
        self._adopt(new, [dict(img) for img in kept or []])
        return new

    def continue_from_here(self, job_id: str) -> Any:
        """What a card's confirmed "Continue from here (paid)" does: a new job, same model and
        settings, whose first frame is that job's last frame. Returns the new Job (top of the history)."""
        job = self._by_id.get(job_id)
        if job is None:
            raise ValidationError("job", job_id, "the id of one of this form's history cards")
        new = continue_from_here(job, manager=self.manager)
        frame = last_frame_path(job.snapshot())
        kept: list[dict[str, Any]] = []
        if frame is not None:  # kept like an added image, so "use these settings again" brings it back
            data = frame.read_bytes()
            entry_id = uuid.uuid4().hex[:12]
            self._image_bytes[entry_id] = data
            mime = sniff_image_type(data[:16]) or "image/png"
            kept.append(
                {"id": entry_id, "role": "first_frame", "kind": "file", "url": None}
                | {"name": frame.name, "size": len(data), "mime": mime}
            )
        self._adopt(new, kept)
        return new

    def _image_inputs(self, images: list[dict[str, Any]]) -> list[tuple[str, Any]]:
        """Images the form kept, as ``submit(images=...)`` takes them."""
        return [
            (img["role"], img["url"] if img["kind"] == "url" else self._image_bytes[img["id"]])
            for img in images
            if img["role"] not in MEDIA_ROLES
        ]

    def _submit(self, fields: dict[str, Any], images: list[dict[str, Any]]) -> Any:
        """Hand the request and its images to the job engine, which uploads local files."""
        from seedance_widgets.python_api import generate

        rerun = fields["seed"] is None  # a random seed asks for a new video each time
        return generate(**fields, **self._engine_images(images), rerun=rerun, manager=self.manager)

    def reuse_settings(self, job_id: str) -> None:
        """Put a submitted job's parameters, seed used and images back into the form."""
        job = self._by_id.get(job_id)
        request: GenerationRequest | None = job.request if job is not None else None
        if job is None or request is None:
            raise ValidationError("job", job_id, "the id of one of this form's jobs")
        seed = seed_used(job.snapshot())
        images = self._images_of(job)
        with self.hold_trait_notifications():
            self.model = request.model
            self.prompt = request.prompt
            self.duration = request.duration
            self.aspect_ratio = request.aspect_ratio
            self.resolution = request.resolution
            self.audio = request.audio
            self.camera_fixed = request.camera_fixed
            self.return_last_frame = request.return_last_frame
            self.web_search = request.web_search
            self.flex = getattr(request, "service_tier", "default") == FLEX_TIER
            if seed is not None:
                self.seed = seed
                self.seed_mode = "fixed"
            else:
                self.seed_mode = "random"
            self.images = images
        self.error = ""
        self.model_note = ""

    def _images_of(self, job: Any) -> list[dict[str, Any]]:
        """A history job's images as form entries: the ones this form kept, else (an earlier job,
        e.g. after a restart) its request's URLs and the engine's copies of its local files."""
        kept = self._job_images.get(job.local_id)
        if kept is not None:
            return [dict(img) for img in kept]
        # As the engine re-sends a job: its own record of the images when it has one (local files
        # as bytes), else the URLs in the request.
        sources: list[tuple[str, Any]] = job_images(self.manager, job)
        if not sources:
            request: GenerationRequest = job.request
            sources = [(r.role, r.url) for r in request.roles]
            sources += [(m.role, m.url) for m in (*request.video_with_roles, *request.audio_with_roles)]
        entries: list[dict[str, Any]] = []
        for role, source in sources:
            entry_id = uuid.uuid4().hex[:12]
            if isinstance(source, (bytes, bytearray)):
                data = bytes(source)
                mime = sniff_image_type(data[:16]) or "image/png"
                self._image_bytes[entry_id] = data
                name = f"{role}.{mime.rsplit('/', 1)[-1]}"
                entries.append(
                    {
                        "id": entry_id,
                        "role": role,
                        "kind": "file",
                        "url": None,
                        "name": name,
                        "size": len(data),
                        "mime": mime,
                    }
                )
            else:
                url = str(source)
                entries.append(
                    {
                        "id": entry_id,
                        "role": role,
                        "kind": "url",
                        "url": url,
                        "name": url.rsplit("/", 1)[-1],
                        "size": None,
                        "mime": None,
                    }
                )
        return entries

    # ---- engine -> page -------------------------------------------------------------------------
    def _history_ids(self) -> list[str]:
        """The history's jobs, newest first: this form's, then the folder's earlier ones."""
        return [job.local_id for job in [*reversed(self._jobs), *reversed(self._past)]]

    def _publish(self) -> None:
        """Send the history (callers hold the lock) and bring the static twin up to date."""
        cards = [self._card(local_id) for local_id in self._history_ids()]
        own = self._card(self._jobs[-1].local_id) if self._jobs else None
        with self.hold_sync():
            self.history = cards
            self.last_seed = own["seed_used"] if own else None
            self.session = self._session_label()
        self._publish_static()

    def _card(self, local_id: str) -> dict[str, Any]:
        card = self._book.get(local_id)
        images = len(self._job_images.get(local_id, []))
        if card["params"] and images > card["params"].get("images", 0):
            # The engine keeps images beside the request (Job.request has none): count ours.
            card = {**card, "params": {**card["params"], "images": images}}
        return card

    def _on_snapshot(self, snapshot: JobSnapshot) -> None:
        # Called from the engine's threads: assign traits only (ipywidgets sends the update).
        try:
            self._kernel_parent.ensure_in_this_thread()
            with self._lock:
                if snapshot.local_id in self._by_id and self._book.update(snapshot):
                    self._publish()
        except Exception as exc:
            log.exception("SeedanceForm: updating a card failed")
            self.error = f"Error while updating the history: {type(exc).__name__}: {exc}"

    # ---- page -> kernel ---------------------------------------------------------------------------
    def set_state(self, sync_data: dict[str, Any]) -> None:
        """Apply the page's trait edits, except those an action already applied or overrode."""
        seq = sync_data.get("edit_seq")
        if isinstance(seq, int) and seq <= self._action_seq:
            # Held back by the page's throttle and sent after an action that carried them:
            # applying them now would undo what the action did (e.g. reuse-settings).
            sync_data = {k: v for k, v in sync_data.items() if k not in PARAM_TRAITS and k != "edit_seq"}
        super().set_state(sync_data)

    def _apply_page_state(self, content: dict[str, Any]) -> None:
        """Before an action: take the parameters as the page shows them, then fence older edits."""
        seq = content.get("seq")
        if not isinstance(seq, int):
            return
        params = content.get("params")
        if isinstance(params, dict):
            with self.hold_trait_notifications():
                for name in PARAM_TRAITS:
                    if name in params and getattr(self, name) != params[name]:
                        setattr(self, name, params[name])
        self._action_seq = max(self._action_seq, seq)

    def _dispatch(self, _widget: Any, content: Any, buffers: Sequence[Any]) -> None:
        """The one entry point of the page's actions; unknown kinds are ignored."""
        if not isinstance(content, dict):
            return
        kind = content.get("kind")
        handler = self._handlers().get(str(kind))
        if handler is None:
            return
        try:
            self._apply_page_state(content)
            handler(content, list(buffers or []))
        except (SeedanceError, traitlets.TraitError) as err:
            self.error = str(err)
        except Exception as err:  # shown under the widget, never swallowed
            log.exception("SeedanceForm: %s failed", kind)
            self.error = f"{kind} failed: {type(err).__name__}: {err}"

    def _handlers(self) -> dict[str, Callable[[dict[str, Any], list[Any]], None]]:
        return {
            MSG_GENERATE: lambda c, b: self._on_generate(),
            MSG_ADD_IMAGE: self._on_add_image,
            MSG_REMOVE_IMAGE: lambda c, b: self.remove_image(str(c.get("id", ""))),
            MSG_IMAGE_REQUEST: lambda c, b: self._on_image_request(c),
            MSG_REUSE_SETTINGS: lambda c, b: self.reuse_settings(str(c.get("id", ""))),
            MSG_COMPARE: lambda c, b: self._on_compare(c),
            MSG_COMPARE_CLOSE: lambda c, b: setattr(self, "compare", []),
            MSG_CANCEL: lambda c, b: self._on_cancel(c),
            MSG_GENERATE_AGAIN: lambda c, b: self._on_generate_again(c),
            # Sent only after the user confirmed the cost in the card (js/lib/job_card.js).
            MSG_CONTINUE: lambda c, b: self.continue_from_here(str(c.get("id", ""))),
            MSG_LAST_FRAME_REQUEST: lambda c, b: self._videos.answer_last_frame(c),
            MSG_VIDEO_REQUEST: lambda c, b: self._videos.answer(c),
        }

    def _on_generate(self) -> None:
        self.generate()

    def _on_add_image(self, content: dict[str, Any], buffers: list[Any]) -> None:
        # The page waits for this answer (by its id) before it lets Generate go again.
        page_id = str(content.get("id") or "")
        try:
            self._add_from_page(content, buffers)
        except Exception as err:
            self.send({"kind": MSG_ADD_IMAGE_RESPONSE, "id": page_id, "ok": False, "error": str(err)})
            raise
        self.send({"kind": MSG_ADD_IMAGE_RESPONSE, "id": page_id, "ok": True})

    def _add_from_page(self, content: dict[str, Any], buffers: list[Any]) -> None:
        role = str(content.get("role", ""))
        if buffers:
            name = str(content.get("name") or "image")
            self.add_image(role, bytes(buffers[0]), name=name, image_id=str(content.get("id") or ""))
        elif content.get("size") is not None and int(content["size"]) > self._upload_cap(role):
            # The page sends only the size of a file over the limit, not its bytes.
            name = str(content.get("name") or "file")
            cap = self._upload_cap(role)
            limit = f"at most {cap / 2**20:g} MB (the gateway's upload limit)"
            raise ValidationError(role, name, limit, f"{name} is larger than {cap / 2**20:g} MB; {limit}")
        else:
            url = str(content.get("url", "")).strip()
            if "://" not in url:
                # Typed into a URL field: never read as a kernel-side path; say what a URL must be.
                message = _request_message(prompt="x", image_with_roles=({"url": url, "role": role},))
                raise ValidationError("image_with_roles.url", url, str(message), str(message))
            self.add_image(role, url, image_id=str(content.get("id") or ""))
        self.error = ""

    def _upload_cap(self, role: str) -> int:
        uploads = self.limits.get("uploads", {})
        kind = "video" if role == VIDEO_ROLE else "audio" if role == AUDIO_ROLE else "image"
        return int(uploads.get(kind, {}).get("max_bytes") or MAX_UPLOAD_BYTES)

    def _on_image_request(self, content: dict[str, Any]) -> None:
        image_id = str(content.get("id", ""))
        data = self._image_bytes.get(image_id)
        entry = next((img for img in self.images if img["id"] == image_id), None)
        if data is None or entry is None:
            self.send({"kind": MSG_IMAGE_RESPONSE, "id": image_id, "ok": False})
            return
        self.send({"kind": MSG_IMAGE_RESPONSE, "id": image_id, "ok": True, "mime": entry["mime"]}, [data])

    def _on_generate_again(self, content: dict[str, Any]) -> None:
        # Sent only after the user confirmed the cost in the card (js/lib/job_card.js).
        self.generate_again(str(content.get("id", "")))

    def _on_cancel(self, content: dict[str, Any]) -> None:
        job = self._by_id.get(str(content.get("id", "")))
        if job is not None:
            job.cancel()

    def _on_compare(self, content: dict[str, Any]) -> None:
        ids = content.get("ids")
        self.compare = [str(i) for i in ids] if isinstance(ids, list) else []

    # ---- static twin (exports) -----------------------------------------------------------------
    def _static_key(self) -> tuple[Any, ...]:
        snaps = [self._book.snapshot(local_id) for local_id in self._history_ids()]
        return tuple((s.local_id, s.state, s.sha256) for s in snaps)

    def _static_html(self) -> str:
        snaps = [self._book.snapshot(local_id) for local_id in self._history_ids()]
        cards = [static_card_html(s, self._book.facts(s), compact=True) for s in snaps]
        return static_history_html(cards)

    def _publish_static(self) -> None:
        """Update the twin when a history job changed state (never on progress ticks)."""
        if not hasattr(self, "_kernel_parent") or not _share.in_kernel():
            return
        key = self._static_key()
        if self._twin.wants(key):
            self._twin.update(self._static_html(), {}, key)

    def _ipython_display_(self, **_kwargs: Any) -> None:
        """Inside a kernel: the live form and the static twin of its history (see ``_share``)."""
        from IPython.display import display

        bundle = super()._repr_mimebundle_()
        if not _share.in_kernel():
            if bundle is not None:
                display(bundle[0], raw=True, metadata=bundle[1])
            return
        self._kernel_parent = KernelParent.capture()
        with self._lock:
            data, metadata = _share.live_bundle(bundle, "Seedance form", {})
            display(data, raw=True, metadata=metadata)
            self._twin.show(self._static_html(), {}, self._static_key())

    def close(self) -> None:
        # getattr: close() also runs from __del__ of a form whose __init__ raised early.
        for unsubscribe in getattr(self, "_unsubscribers", []):
            unsubscribe()
        super().close()

    def __repr__(self) -> str:
        state = "ready" if not self.invalid_reason else f"invalid: {self.invalid_reason}"
        return f"<SeedanceForm {len(self._jobs)} jobs, {state}>"


def _model_problem(model: object) -> str | None:
    """Why ``model`` is no catalogue id (the catalogue's words, with its did-you-mean), or None."""
    try:
        catalog.spec_for(model)
    except ValidationError as err:
        return str(err)
    return None


def _entry_name(img: dict[str, Any]) -> str:
    return f"{img['role'].replace('_', ' ')} {img.get('name') or ''}".strip()


def _shown(name: str, value: Any) -> str:
    if name == "duration":
        return "auto" if value <= 0 else f"{value} s"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _nearest_resolution(resolution: str, spec: ModelSpec) -> str:
    """The model's highest resolution not above ``resolution`` (its lowest when all are above)."""
    order = {res: i for i, res in enumerate(_RESOLUTION_ORDER)}
    below = [r for r in spec.resolutions if order.get(r, 0) <= order.get(resolution, 0)]
    return below[-1] if below else spec.resolutions[0]


def _output_label(request: GenerationRequest) -> str:
    """ "1280x720 · 24 fps · 5 s"; a size no page confirms is marked, an auto length said so."""
    width, height = request.size
    known = request.known_size is not None
    size = f"{width}{_TIMES}{height}" if known else f"\u2248{width}{_TIMES}{height} (unconfirmed)"
    if request.aspect_ratio == catalog.ADAPTIVE:
        size = "size from the input (adaptive)"
    parts = [size]
    if request.spec.fps is not None:
        parts.append(f"{request.spec.fps} fps")
    parts.append("length picked by the model" if request.duration <= 0 else f"{request.duration} s")
    return " · ".join(parts)


def _started(job: Any) -> float:
    """When a job began (for ordering the history): submitted, else finished, else 0."""
    snap = job.snapshot()
    return float(snap.submitted_at or snap.finished_at or 0.0)


def static_history_html(cards: Sequence[str]) -> str:
    """The form's history as plain HTML (its twin): the compact static cards, newest first."""
    count = len(cards)
    title = f"Seedance form · history ({count} job{'s' if count != 1 else ''})" if count else "Seedance form"
    boxes = "".join(
        f'<div style="border:1px solid #ddd;border-radius:6px;padding:6px 8px;width:340px">{card}</div>'
        for card in cards
    )
    return (
        '<div class="seedance-form-static" style="font-family:sans-serif;font-size:13px;max-width:1100px">'
        f'<div style="font-weight:600;margin:4px 0">{title}</div>'
        f'<div style="display:flex;flex-wrap:wrap;gap:8px">{boxes}</div></div>'
    )
