"""Generate video with Seedance 1.5 Pro from inside Jupyter."""

from ._version import __version__
from .api import GenerationRequest, SeedanceError, Task, ValidationError

__all__ = ["GenerationRequest", "SeedanceError", "Task", "ValidationError", "__version__"]

# Names loaded on first use, so `import seedance_widgets` stays cheap: {name: module}.
_LAZY: dict[str, str] = dict.fromkeys(
    (
        "generate",
        "attach",
        "jobs",
        "default_manager",
        "Job",
        "JobSnapshot",
        "JobState",
        "JobManager",
        "DryRun",
        "BudgetExceededError",
    ),
    "seedance_widgets.jobs",
)
# `grid` is the submodule, which is callable (it runs grid.grid), like `jobs`.
_LAZY.update({"grid": "seedance_widgets.grid", "Grid": "seedance_widgets.grid"})
_LAZY.update({"JobView": "seedance_widgets.widgets"})
_LAZY.update({"SeedanceForm": "seedance_widgets.widgets", "Gallery": "seedance_widgets.widgets"})
_LAZY.update({"set_api_key": "seedance_widgets._key"})
# The HTTP client pulls in `requests`: load it only when a session really talks to a gateway.
_LAZY.update({"SeedanceClient": "seedance_widgets.api"})
__all__ += list(_LAZY)


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'seedance_widgets' has no attribute {name!r}")
    import importlib

    value = importlib.import_module(module)
    if module.rsplit(".", 1)[-1] != name:
        value = getattr(value, name)
    # else: the name is the subpackage itself (`seedance_widgets.jobs`, which is also callable).
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
