"""Jupyter widgets (anywidget models: traitlets only) that observe jobs.

The front-end code lives in ``js/`` and is bundled into ``seedance_widgets/static/`` by the
package build (``npm run build``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .messages import MSG_CANCEL, MSG_GENERATE_AGAIN, MSG_VIDEO_REQUEST, MSG_VIDEO_RESPONSE

if TYPE_CHECKING:
    from .form import SeedanceForm
    from .gallery import Gallery
    from .job_view import JobView

#: Each widget loads on first use: a re-run served from the cache shows JobViews only, and must
#: not pay for the form's modules (issue 16).
_LAZY = {"SeedanceForm": ".form", "Gallery": ".gallery", "JobView": ".job_view"}

__all__ = [
    "MSG_CANCEL",
    "MSG_GENERATE_AGAIN",
    "MSG_VIDEO_REQUEST",
    "MSG_VIDEO_RESPONSE",
    "Gallery",
    "JobView",
    "SeedanceForm",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
