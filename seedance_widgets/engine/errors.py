"""Errors raised by the job engine; all are SeedanceError subclasses."""

from __future__ import annotations

from seedance_widgets.api import SeedanceError


class BudgetExceededError(SeedanceError):
    """A create was refused locally because it would pass the session budget (nothing was sent)."""


class OutputFolderError(SeedanceError):
    """The output folder cannot be written, so a new generation was refused (nothing was sent).

    Saved videos and the ledger's history are still served from it.
    """


class JobError(SeedanceError):
    """``Job.wait()`` could not return a file; ``job`` is the job's snapshot at that moment."""

    def __init__(self, message: str, snapshot: object = None) -> None:
        super().__init__(message)
        self.snapshot = snapshot


class JobFailedError(JobError):
    """The gateway (or the engine) reports the job failed."""


class JobCancelledError(JobError):
    """The job was cancelled: it is no longer watched (the task may still finish and be billed)."""


class JobTimedOutError(JobError):
    """The job passed its deadline; its task id is kept, ``attach(task_id)`` watches it again."""


class JobExpiredError(JobError):
    """The gateway's video URL expired before the video was saved."""


class JobMayExistError(JobError):
    """The create's reply was lost: a task may exist (and be billed). Not re-sent without your word."""


class WaitTimeoutError(JobError, TimeoutError):
    """``wait(timeout=...)`` ran out; the job itself carries on in the background."""
