"""What the emulator imitates and which faults it injects: one dataclass, switchable per run."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from . import ratelimit

#: Request kinds the emulator counts and can inject faults into.
KINDS: tuple[str, ...] = ("create", "get", "upload", "download")

#: Fault names, with what each does (see :class:`EmulatorConfig`).
FAULTS: dict[str, str] = {
    "402": "reply 402 insufficient_quota; the request is not processed",
    "429": "reply 429 rate_limit_exceeded with Retry-After; the request is not processed",
    "500": "reply 500 internal_error; the request is not processed",
    "503": "reply 503 with Retry-After; the request is not processed",
    "reset": "process the request (a create makes its task), then reset the TCP connection with no reply",
    "hang": "process the request, then hold the reply for hang_seconds (or until the client hangs up)",
    "truncate": "downloads: announce the full Content-Length, send truncate_fraction of it, then close",
    "slow": "downloads: send the body at slow_bytes_per_second",
    "chunked_truncate": (
        "any reply with a body (videos, and API replies too): drop Content-Length (so the body goes "
        "chunked), send truncate_fraction of it, then end the chunked body cleanly: a short body, no error"
    ),
    "broken_mp4": (
        "MP4 bodies (others pass untouched): the right Content-Length and bytes, except that the size "
        "of the box after 'ftyp' is overwritten with an impossible one: well-sized, but not a valid MP4"
    ),
}

PROFILES: tuple[str, ...] = ("quick", "realistic")

#: The largest image Ark takes inline (``api.protocols.ark.MAX_INLINE_IMAGE_BYTES``, 30 MB).
ARK_MAX_IMAGE_BYTES = 30 * 1024 * 1024
#: Ark's 429 codes (ModelArk's common error-code table): ``ark_rate_limit_code`` picks the one that
#: a ``429`` fault answers on the Ark routes.
ARK_RATE_LIMIT_CODES: tuple[str, ...] = (
    "ModelAccountRpmRateLimitExceeded",
    "ModelAccountTpmRateLimitExceeded",
    "APIAccountRpmRateLimitExceeded",
    "AccountRateLimitExceeded",
    "RateLimitExceeded.EndpointRPMExceeded",
    "QuotaExceeded",
    "ServerOverloaded",
    "RequestBurstTooFast",
    "SetLimitExceeded",
    "InflightBatchsizeExceeded",
)


@dataclasses.dataclass
class EmulatorConfig:
    """Settings of one emulator run. Every field can be changed while it runs
    (``Emulator.configure(**changes)`` or ``POST /_emulator/config`` with a JSON object).

    Timing
        ``speed``: divisor of every task duration (10 = ten times faster). ``profile``:
        ``"quick"`` (about 1 s queued + 4 s running) or ``"realistic"`` (1-5 min tasks: queue
        waits, uneven speed, stalls, jumps). ``expiry_seconds``: wall seconds from completion
        until the video URL answers 410 (NOT divided by ``speed``). ``latency``: wall seconds
        added before every create/get/upload/download request is handled.

    Keys and triggers
        ``api_key``: the only accepted bearer key (None = any non-empty key). ``banned_word``:
        a prompt containing it (any case) gets 422 content_policy_violation at create.
        ``fail_word``: a prompt containing it makes the task fail part-way with
        ``generation_failed``. ``task_fail_rate``: probability that any other task fails so.
        None disables a word.

    Faults (kinds: ``create``, ``get``, ``upload``, ``download``; names: see ``FAULTS``)
        ``fault_rates``: ``{kind: {fault: probability}}``, e.g. ``{"get": {"429": 0.2, "reset": 0.1}}``.
        ``fail_next``: ``{kind: [fault, ...]}``: the next requests of that kind fail with these
        faults, one each, in order, before any rate applies (consumed as used; also
        ``Emulator.fail_next(kind, fault, count)``). ``fault_seed`` makes every random draw
        (faults, timelines, failure points, chosen seeds) repeatable.
        Fault details: ``retry_after`` (seconds sent in ``Retry-After`` with 429 and 503),
        ``hang_seconds``, ``truncate_fraction`` (share of the body sent before closing with
        ``truncate``, or before ending the chunked body with ``chunked_truncate``),
        ``slow_bytes_per_second`` (for the ``slow`` fault), ``download_bytes_per_second``
        (throttles every download when set).
        Body faults that no HTTP library can notice, for the client's own checks:
        ``chunked_truncate`` (no Content-Length, chunked framing, a clean end after
        ``truncate_fraction`` of the body; on a video only the MP4 structure check can tell,
        on an API reply only the JSON parse) and ``broken_mp4`` (an MP4 body with the correct
        Content-Length and every byte sent, but the second top-level box's size field
        overwritten with 4, an impossible size: only the MP4 structure check can tell; other
        bodies pass untouched). Neither touches a HEAD reply.

    Limits
        ``max_upload_bytes`` (image upload cap, default 10 MB as the gateway),
        ``max_video_upload_bytes`` (video upload cap, default 50 MB as the gateway),
        ``max_concurrent_renders`` (size of the render pool), ``x264_preset`` (encoder speed/quality
        trade-off).

    Ark (served under ``/api/v3`` by the same process, same key)
        ``ark_queue_seconds``: seconds an Ark task stays ``queued`` before it runs, on the emulator's
        timeline (divided by ``speed``, like every task duration; None = the profile's own queue
        wait, three times longer for ``service_tier="flex"``); set it high to cancel tasks while
        queued. ``ark_max_queued``: queued Ark tasks the account may hold (Ark: 120); one more
        create gets 429 ``QuotaExceeded``. ``ark_rate_limit_code``: the code a ``429`` fault
        answers on the Ark routes (one of ``ARK_RATE_LIMIT_CODES``). ``ark_max_image_bytes``: the
        largest decoded ``data:`` URL image a create may carry (Ark: 30 MB). Ark requests count as kinds
        ``create`` (POST) and ``get`` (GET, list and DELETE), so the fault knobs apply to them.

    Rate limits (``emulator.ratelimit``)
        ``rate_tier``: ``"off"`` (default), ``"default"`` (the gateway's documented per-account
        tier: creates 300/min, 5/s, 50 per 10 s; task GETs 3,000/min, 50/s) or custom
        ``{"create": {"rate": 5, "burst": 50, "windows": [[300, 60]]}, "query": {...}}``; times
        are gateway seconds (divided by ``speed``). Off by default so the tests and benchmarks that hammer the
        emulator stay fast and unchanged; the rate-limit tests and the scale rows turn it on.
    """

    speed: float = 1.0
    profile: str = "quick"
    expiry_seconds: float = 24 * 3600.0
    latency: float = 0.0
    api_key: str | None = None
    banned_word: str | None = "forbidden"
    fail_word: str | None = "failme"
    task_fail_rate: float = 0.0
    fault_seed: int = 0
    fault_rates: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    fail_next: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    retry_after: float = 1.0
    hang_seconds: float = 30.0
    truncate_fraction: float = 0.5
    slow_bytes_per_second: float = 200_000.0
    download_bytes_per_second: float | None = None
    max_upload_bytes: int = 10 * 1024 * 1024
    max_video_upload_bytes: int = 50 * 1024 * 1024
    max_concurrent_renders: int = 2
    x264_preset: str = "ultrafast"
    ark_queue_seconds: float | None = None
    ark_max_queued: int = 120
    ark_rate_limit_code: str = "ModelAccountRpmRateLimitExceeded"
    ark_max_image_bytes: int = ARK_MAX_IMAGE_BYTES
    rate_tier: str | dict[str, dict[str, Any]] = "off"

    def __post_init__(self) -> None:
        self.validate()

    def __repr__(self) -> str:
        # The configured key is a shared secret for tests in other processes: never shown.
        shown = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        shown["api_key"] = None if self.api_key is None else "<hidden>"
        return "EmulatorConfig(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    def validate(self) -> None:  # noqa: C901, PLR0912  -- one check per setting, flat; table-driven later
        """Raise ValueError naming the field when a setting makes no sense."""
        if not (isinstance(self.speed, (int, float)) and math.isfinite(self.speed) and self.speed > 0):
            raise ValueError(f"speed must be a positive number, not {self.speed!r}")
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}, not {self.profile!r}")
        for name in ("expiry_seconds", "latency", "hang_seconds", "retry_after"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if not 0.0 <= self.truncate_fraction < 1.0:
            raise ValueError("truncate_fraction must be in [0, 1)")
        if not 0.0 <= self.task_fail_rate <= 1.0:
            raise ValueError("task_fail_rate must be in [0, 1]")
        if self.api_key is not None and not str(self.api_key).strip():
            raise ValueError("api_key must be None (accept any key) or a non-empty string")
        if min(self.max_concurrent_renders, self.max_upload_bytes, self.max_video_upload_bytes) < 1:
            raise ValueError(
                "max_concurrent_renders, max_upload_bytes and max_video_upload_bytes must be >= 1"
            )
        self._validate_ark()
        for kind, rates in self.fault_rates.items():
            _check_kind(kind)
            for fault, rate in rates.items():
                _check_fault(fault)
                if not 0.0 <= float(rate) <= 1.0:
                    raise ValueError(f"fault_rates[{kind!r}][{fault!r}] must be a probability, not {rate!r}")
            if sum(float(r) for r in rates.values()) > 1.0 + 1e-9:
                raise ValueError(f"fault_rates[{kind!r}] add up to more than 1")
        for kind, faults in self.fail_next.items():
            _check_kind(kind)
            for fault in faults:
                _check_fault(fault)
        ratelimit.tier_limits(self.rate_tier)  # ValueError naming the bad setting

    def _validate_ark(self) -> None:
        queue = self.ark_queue_seconds
        finite = isinstance(queue, (int, float)) and math.isfinite(queue)
        if queue is not None and not (finite and queue >= 0):
            raise ValueError(f"ark_queue_seconds must be None or a number >= 0, not {queue!r}")
        for name in ("ark_max_queued", "ark_max_image_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, not {value!r}")
        if self.ark_rate_limit_code not in ARK_RATE_LIMIT_CODES:
            raise ValueError(
                f"ark_rate_limit_code must be one of {', '.join(ARK_RATE_LIMIT_CODES)}, "
                f"not {self.ark_rate_limit_code!r}"
            )

    def replace(self, **changes: Any) -> EmulatorConfig:
        """A validated copy with some fields changed; unknown names raise ValueError."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ValueError(
                f"unknown emulator setting(s): {', '.join(unknown)}; known: {', '.join(sorted(names))}"
            )
        copied = dataclasses.replace(self, **_normalise(changes))
        copied.fault_rates = {k: dict(v) for k, v in copied.fault_rates.items()}
        copied.fail_next = {k: list(v) for k, v in copied.fail_next.items()}
        return copied

    def to_json(self) -> dict[str, Any]:
        """The settings as JSON (the key masked)."""
        data = dataclasses.asdict(self)
        data["api_key"] = None if self.api_key is None else "<hidden>"
        return data


def _normalise(changes: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(changes)
    if "fault_rates" in out:
        out["fault_rates"] = {
            str(k): {str(f): float(r) for f, r in v.items()} for k, v in out["fault_rates"].items()
        }
    if "fail_next" in out:
        out["fail_next"] = {str(k): [str(f) for f in v] for k, v in out["fail_next"].items()}
    return out


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown request kind {kind!r}; known: {', '.join(KINDS)}")


def _check_fault(fault: str) -> None:
    if fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
