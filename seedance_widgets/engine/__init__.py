"""The job engine (the job lifecycle): submit, watch, save and remember video generations.

No IPython and no widgets here: the magic and the widgets subscribe to ``Job`` objects.
The Python front door (``generate``, ``attach``, ``jobs``) is :mod:`seedance_widgets.python_api`.
"""

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
from .job import CancelHandle, Job
from .manager import JobManager
from .policy import AdaptivePolicy, BaselinePolicy, PollPolicy, PollSample
from .registry import default_manager, folder_manager, set_default_manager
from .state import FINAL_STATES, DryRun, JobSnapshot, JobState
from .store import Store

__all__ = [
    "FINAL_STATES",
    "AdaptivePolicy",
    "BaselinePolicy",
    "BudgetExceededError",
    "CancelHandle",
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
    "default_manager",
    "folder_manager",
    "set_default_manager",
]
