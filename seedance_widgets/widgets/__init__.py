"""Jupyter widgets (anywidget models: traitlets only) that observe jobs.

The front-end code lives in ``js/`` and is bundled into ``seedance_widgets/static/`` by the
package build (``npm run build``).
"""

from .form import SeedanceForm
from .gallery import Gallery
from .job_view import JobView
from .messages import MSG_CANCEL, MSG_GENERATE_AGAIN, MSG_VIDEO_REQUEST, MSG_VIDEO_RESPONSE

__all__ = [
    "MSG_CANCEL",
    "MSG_GENERATE_AGAIN",
    "MSG_VIDEO_REQUEST",
    "MSG_VIDEO_RESPONSE",
    "Gallery",
    "JobView",
    "SeedanceForm",
]
