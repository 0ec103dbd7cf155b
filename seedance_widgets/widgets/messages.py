"""Every custom message kind between a widget and its page: ``{kind: ...}`` plus fields.

js/lib/messages.js names the same constants; both are checked against ``contract.json`` (tests/widgets/
test_contract.py, js/__tests__/contract.test.js), and no other source file spells a kind.
"""

from __future__ import annotations

from typing import Final

# ---- every widget -----------------------------------------------------------------------------
#: page -> kernel: stop watching a job (``{kind}`` for a JobView, ``{kind, id}`` for the form).
MSG_CANCEL: Final = "cancel"
#: page -> kernel: send me a job's MP4 (``{kind, id}``; ``{kind, id, job}`` for a widget of several jobs).
MSG_VIDEO_REQUEST: Final = "video-request"
#: kernel -> page: ``{kind, id, chunk, chunks, size, mime, sha256}`` + 1 buffer per chunk, or
#: ``{kind, id, error}``.
MSG_VIDEO_RESPONSE: Final = "video-response"
#: page -> kernel: the user confirmed "Generate again (paid)" in the card: submit the job's settings
#: with a new seed as a new task (``{kind, id}``, id = the job's local id; a JobView may omit it).
MSG_GENERATE_AGAIN: Final = "generate-again"
#: page -> kernel: send me a job's saved last frame (``{kind, id}``; ``{kind, id, job}`` for a widget of
#: several jobs), for the card's thumbnail.
MSG_LAST_FRAME_REQUEST: Final = "last-frame-request"
#: kernel -> page: ``{kind, id, ok, mime}`` + 1 buffer (the image) when ok, else ``{kind, id, ok, error}``.
MSG_LAST_FRAME_RESPONSE: Final = "last-frame-response"
#: page -> kernel: the user confirmed "Continue from here (paid)": a new job, same model and settings,
#: whose first frame is this job's last frame (``{kind, id}``, id = the job's local id).
MSG_CONTINUE: Final = "continue-from-here"

# ---- the form ---------------------------------------------------------------------------------
#: page -> kernel: submit what the page shows (``{kind, seq, params}``).
MSG_GENERATE: Final = "generate"
#: page -> kernel: an image ``{kind, role, id, name, size}`` + 1 buffer, or ``{kind, role, id, url}``.
MSG_ADD_IMAGE: Final = "add-image"
#: kernel -> page: ``{kind, id, ok, error?}``, the answer to one add-image by the page's id.
MSG_ADD_IMAGE_RESPONSE: Final = "add-image-response"
#: page -> kernel: ``{kind, id}``.
MSG_REMOVE_IMAGE: Final = "remove-image"
#: page -> kernel: an image's bytes for its thumbnail ``{kind, id}``.
MSG_IMAGE_REQUEST: Final = "image-request"
#: kernel -> page: ``{kind, id, ok, mime}`` + 1 buffer when ok.
MSG_IMAGE_RESPONSE: Final = "image-response"
#: page -> kernel: put a history card's settings back into the form ``{kind, id, seq}``.
MSG_REUSE_SETTINGS: Final = "reuse-settings"
#: page -> kernel: show two history cards side by side ``{kind, ids}``.
MSG_COMPARE: Final = "compare"
#: page -> kernel: close the side-by-side view.
MSG_COMPARE_CLOSE: Final = "compare-close"

#: Every kind by constant name (what the contract test compares).
ALL_KINDS: Final[dict[str, str]] = {
    name: value for name, value in dict(globals()).items() if name.startswith("MSG_")
}
