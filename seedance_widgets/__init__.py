"""Generate video with ByteDance Seedance models from inside Jupyter."""

import logging

from ._version import __version__
from .api import GenerationRequest, SeedanceError, Task, ValidationError

__all__ = ["GenerationRequest", "SeedanceError", "Task", "ValidationError", "__version__"]

# A library's loggers must not print unless the application configured logging: without a handler
# anywhere, Python's last-resort handler would write our warnings to stderr, which a notebook shows
# in the cell. Configure logging (e.g. logging.basicConfig()) to see them.
logging.getLogger(__name__).addHandler(logging.NullHandler())

# Names loaded on first use, so `import seedance_widgets` stays cheap: {name: module}.
_LAZY: dict[str, str] = dict.fromkeys(
    ("generate", "attach", "jobs", "remote_tasks", "RemoteTasks"), "seedance_widgets.python_api"
)
_LAZY.update(
    dict.fromkeys(
        (
            "default_manager",
            "Job",
            "JobSnapshot",
            "JobState",
            "JobManager",
            "DryRun",
            "BudgetExceededError",
        ),
        "seedance_widgets.engine",
    )
)
_LAZY.update({"grid": "seedance_widgets.sweeps", "Grid": "seedance_widgets.sweeps"})
_LAZY.update({"JobView": "seedance_widgets.widgets"})
_LAZY.update({"SeedanceForm": "seedance_widgets.widgets", "Gallery": "seedance_widgets.widgets"})
_LAZY.update({"set_api_key": "seedance_widgets._key"})
_LAZY.update({"export_html": "seedance_widgets.export"})
# The HTTP client pulls in `requests`: load it only when a session really talks to a gateway.
_LAZY.update({"SeedanceClient": "seedance_widgets.api"})
__all__ += list(_LAZY)


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'seedance_widgets' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def load_ipython_extension(shell: object) -> None:
    """``%load_ext seedance_widgets``: register ``%seedance`` / ``%%seedance`` (imported only now)."""
    from .magic import load_ipython_extension as load

    load(shell)


def unload_ipython_extension(shell: object) -> None:
    """``%unload_ext seedance_widgets``: remove the magics (running jobs carry on)."""
    from .magic import unload_ipython_extension as unload

    unload(shell)
