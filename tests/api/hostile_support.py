"""The client side of tests against a scripted ``hostile_server`` (the ``serve`` fixture is in conftest).

One try, short socket timeouts and no real waits: each test sees exactly the reply its server
scripted, never a retry that would hide it or a back-off that would slow the suite.
"""

from __future__ import annotations

from typing import Any

from api_support import SECRET_KEY

from seedance_widgets.api import RetryPolicy, SeedanceClient


def one_try_client(base_url: str, **settings: Any) -> SeedanceClient:
    """A client on ``base_url`` with ``SECRET_KEY``; ``settings`` override the one-try defaults."""
    settings.setdefault("retry", RetryPolicy(attempts=1))
    settings.setdefault("timeout", (2.0, 5.0))
    settings.setdefault("sleep", lambda _: None)
    return SeedanceClient(SECRET_KEY, base_url, **settings)
