"""Generate video with Seedance 1.5 Pro from inside Jupyter."""

from ._version import __version__
from .api import GenerationRequest, SeedanceClient, SeedanceError, Task, ValidationError

__all__ = ["GenerationRequest", "SeedanceClient", "SeedanceError", "Task", "ValidationError", "__version__"]
