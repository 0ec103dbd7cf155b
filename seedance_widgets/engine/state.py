"""Job states and the immutable snapshot every observer receives."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from seedance_widgets.api import GenerationRequest


class JobState:
    """The states of a job, as plain strings (they go into the ledger and widget traits)."""

    INTENT = "intent"
    UPLOADING = "uploading"
    SUBMITTING = "submitting"
    QUEUED = "queued"
    RUNNING = "running"
    DOWNLOADING = "downloading"
    DONE = "done"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    MAY_EXIST = "may_exist"


#: States after which the engine no longer works on the job by itself.
FINAL_STATES = frozenset(
    {
        JobState.DONE,
        JobState.FAILED,
        JobState.TIMED_OUT,
        JobState.CANCELLED,
        JobState.EXPIRED,
        JobState.MAY_EXIST,
    }
)
#: Every state a job (and a ledger record) may be in.
ALL_STATES = frozenset(value for name, value in vars(JobState).items() if name.isupper())
#: States in which the gateway holds a task that we poll.
POLLED_STATES = frozenset({JobState.QUEUED, JobState.RUNNING})

#: Short words for a status line, by state: the widgets' labels in lower case (seedance_widgets/
#: widgets/contract.json; tests/widgets/test_contract.py checks that they agree).
STATE_LABELS = {
    JobState.INTENT: "preparing",
    JobState.UPLOADING: "uploading images",
    JobState.SUBMITTING: "submitting",
    JobState.QUEUED: "queued",
    JobState.RUNNING: "generating",
    JobState.DOWNLOADING: "downloading",
    JobState.DONE: "done",
    JobState.FAILED: "failed",
    JobState.TIMED_OUT: "timed out",
    JobState.CANCELLED: "stopped watching",
    JobState.EXPIRED: "expired",
    JobState.MAY_EXIST: "may exist",
}


@dataclasses.dataclass(frozen=True)
class JobSnapshot:
    """Everything known about a job at one instant. Immutable: safe to hand to any thread.

    Times are unix seconds (floats). ``request`` is None only for a task attached by id
    that this output folder's ledger has never seen (the gateway does not return prompts).
    """

    local_id: str
    request: GenerationRequest | None
    state: str = JobState.INTENT
    task_id: str | None = None
    #: 0-100, as the gateway reports it.
    progress: int = 0
    #: Predicted wall seconds until the gateway finishes, from the poll policy (None = unknown).
    eta_seconds: float | None = None
    submitted_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    #: A sentence for a person when something went wrong or needs the user's word.
    error: str | None = None
    #: Machine-readable reason: the gateway's error code or one of ours (e.g. "url_expired").
    error_code: str | None = None
    video_url: str | None = None
    expires_at: float | None = None
    path: Path | None = None
    sha256: str | None = None
    #: USD, an ESTIMATE from a published list price; the gateway's bill may differ. None: no
    #: estimate (the model has no known price for these settings), never "free".
    cost_estimate: float | None = 0.0
    #: The seed the gateway reports it used (None until known).
    seed: int | None = None
    #: True when the video came from the output folder without any HTTP request.
    from_cache: bool = False
    #: True while the network is failing and the engine keeps retrying.
    reconnecting: bool = False
    #: GET requests made for this job.
    polls: int = 0
    #: The gateway's raw status word from the last poll (may be one we don't know).
    gateway_status: str | None = None
    #: Canonical request hash (the cache key).
    request_hash: str | None = None
    #: When the snapshot was made (unix seconds); lets a view count the ETA down between polls.
    at: float = dataclasses.field(default_factory=time.time)
    #: The clip's last frame saved beside the video (when the request asked for it), else None.
    last_frame: Path | None = None
    #: The provider's real bill of the finished task, in tokens (Ark's ``usage.completion_tokens``;
    #: None: not reported), and that bill in USD from the catalogue's token price (None: no
    #: token price known). Shown beside ``cost_estimate``, never instead of it.
    usage_tokens: int | None = None
    cost_usd: float | None = None
    #: What the last ``cancel()`` did: ``"cancelled"`` (the provider cancelled the queued task: not
    #: billed), ``"not_cancellable"`` (running: still watched), ``"stopped_watching"`` (no cancel at
    #: the provider: the task may still be billed), ``"not_sent"`` (nothing was created), or
    #: ``"cancel_failed"`` (the provider could not be asked: still watched). None: never cancelled.
    cancel_outcome: str | None = None

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def prompt(self) -> str:
        """The prompt, or a placeholder for a task attached by id only."""
        if self.request is not None:
            return self.request.prompt
        return f"(task {self.task_id} attached by id)"

    def status_line(self) -> str:
        """One readable line: state, progress, ETA, and the error if any."""
        label = STATE_LABELS.get(self.state, self.state)
        parts = [label]
        if self.state in POLLED_STATES:
            parts.append(f"{self.progress}%")
            if self.eta_seconds is not None:
                parts.append(f"~{_short_duration(self.eta_seconds)} left")
        if self.reconnecting:
            parts.append("reconnecting")
        if self.from_cache:
            parts.append("from cache")
        if self.state == JobState.DONE and self.path is not None:
            parts.append(str(self.path))
        if self.usage_tokens is not None:
            cost = "" if self.cost_usd is None else f" (${self.cost_usd:.2f})"
            parts.append(f"billed {self.usage_tokens} tokens{cost}")
        if self.error:
            parts.append(self.error)
        return " · ".join(parts)


def _short_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    return f"{seconds // 60}m{seconds % 60:02d}s"


@dataclasses.dataclass(frozen=True)
class DryRun:
    """What a create would send, without sending anything.

    ``body`` is the exact JSON of the create call; an image from a local file that was
    never uploaded shows as ``sha256:<hex>`` (its URL exists only after the upload).
    ``estimate_usd`` is an ESTIMATE from a published list price (None: no estimate known).
    """

    body: dict[str, object]
    estimate_usd: float | None
    request_hash: str
    #: The create call's path under the base URL (the provider's: ToAPIs or Ark).
    path: str = "/v1/videos/generations"

    @property
    def prompt(self) -> str:
        """The prompt in the body (ToAPIs: ``prompt``; Ark: the ``content`` list's text item)."""
        if "prompt" in self.body:
            return str(self.body["prompt"])
        content = self.body.get("content")
        for item in content if isinstance(content, list) else ():
            if isinstance(item, dict) and item.get("type") == "text":
                return str(item.get("text", ""))
        return ""

    def __repr__(self) -> str:
        prompt = self.prompt
        if len(prompt) > 40:
            prompt = prompt[:37] + "..."
        cost = "no estimate" if self.estimate_usd is None else f"~${self.estimate_usd:.2f} (estimate)"
        return f"<DryRun {prompt!r}: {cost}, hash {self.request_hash[:12]}, nothing sent>"
