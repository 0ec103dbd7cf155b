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
    """
    if key is None:
        key = getpass.getpass("ToAPIs API key (input hidden): ")
    key = (key or "").strip()
    if not key:
        raise ValueError("no API key was given; nothing was changed")
    os.environ["TOAPIS_API_KEY"] = key
    from .jobs import set_default_manager

    # The next job builds a manager (and client) that sees the new key.
    set_default_manager(None)
