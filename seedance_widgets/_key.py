"""Setting the API key without ever showing it."""

from __future__ import annotations

import getpass
import os


def set_api_key(key: str | None = None) -> None:
    """Use ``key`` as ``TOAPIS_API_KEY`` for this process; with no argument, ask for it.

    The prompt does not echo what is typed (``getpass``; in Jupyter the kernel asks the
    front-end for a password field), so the key lands in neither the notebook nor its
    history. Jobs submitted afterwards go to the real gateway; jobs already running keep
    the backend they started with.

    The key is checked first (``seedance_widgets.api.keys``): a line break, tab, space,
    non-ASCII character or fewer than 8 characters raise ``InvalidKeyError`` (naming the
    problem and its position, not the key) and nothing is changed.
    """
    if key is None:
        key = getpass.getpass("ToAPIs API key (input hidden): ")
    if not (key or "").strip():
        raise ValueError("no API key was given; nothing was changed")
    from .api.keys import checked_key

    try:
        os.environ["TOAPIS_API_KEY"] = checked_key(key, "given to set_api_key")
    finally:
        del key  # not in this frame's locals when an error is shown
    from .engine import set_default_manager

    # The next job builds a manager (and client) that sees the new key.
    set_default_manager(None)
