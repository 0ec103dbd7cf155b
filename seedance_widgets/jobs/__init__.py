"""The background job engine: submit, watch, save and remember video generations.

No IPython and no widgets here: the magic and the widgets subscribe to ``Job`` objects.

``seedance_widgets.jobs`` is this package *and* the public function listing the jobs:
the package is callable, so ``seedance_widgets.jobs()`` works whether or not the
subpackage was imported first (Python binds a subpackage over a same-named attribute).
"""

import sys
import types

from .api import attach, default_manager, generate, jobs, set_default_manager
from .errors import (
    BudgetExceededError,
    JobCancelledError,
    JobError,
    JobExpiredError,
    JobFailedError,
    JobMayExistError,
    JobTimedOutError,
    OutputFolderError,
    WaitTimeoutError,
)
from .job import Job
from .manager import JobManager
from .policy import AdaptivePolicy, BaselinePolicy, PollPolicy, PollSample
from .state import FINAL_STATES, DryRun, JobSnapshot, JobState
from .store import Store


class _CallableModule(types.ModuleType):
    """This package's module type: calling it lists the jobs, like :func:`jobs`."""

    def __call__(self, *, manager: JobManager | None = None) -> list[Job]:
        return jobs(manager=manager)


sys.modules[__name__].__class__ = _CallableModule

__all__ = [
    "FINAL_STATES",
    "AdaptivePolicy",
    "BaselinePolicy",
    "BudgetExceededError",
    "DryRun",
    "Job",
    "JobCancelledError",
    "JobError",
    "JobExpiredError",
    "JobFailedError",
    "JobManager",
    "JobMayExistError",
    "JobSnapshot",
    "JobState",
    "JobTimedOutError",
    "OutputFolderError",
    "PollPolicy",
    "PollSample",
    "Store",
    "WaitTimeoutError",
    "attach",
    "default_manager",
    "generate",
    "jobs",
    "set_default_manager",
]
