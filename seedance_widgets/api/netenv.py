"""The proxy and CA-bundle settings that the environment gives each request, looked up once.

``requests`` reads them for every request of a session whose ``trust_env`` is on: it lists and
lower-cases the whole process environment (twice, for the proxies and for ``no_proxy``) and looks
for a ``.netrc`` file. With thousands of jobs in one kernel that was a tenth of the engine's CPU,
taken from the user's cells. The client's own session therefore turns ``trust_env`` off and asks
this cache instead, which gives the same proxies and ``verify`` as ``requests`` would, worked out
again whenever one of the variables that decide them changes (a user may set ``HTTPS_PROXY`` in a
cell). ``.netrc`` is not consulted: the gateway's calls carry their own key, and a download URL
named by the gateway must not receive credentials saved for another purpose.
"""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import urlsplit

import requests

#: What decides a request's proxies and CA bundle (``urllib.request.getproxies_environment``
#: reads ``<scheme>_proxy`` in both cases; requests adds the two bundle variables).
_NAMES = (
    *(
        name
        for base in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
        for name in (base, base.upper())
    ),
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
)
#: Origins remembered at most (a client talks to its gateway and a few file hosts).
_MAX_ORIGINS = 64


class EnvironmentSettings:
    """``proxies`` and ``verify`` for a URL, as a ``trust_env`` session would use them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_origin: dict[tuple[str, tuple[str | None, ...]], dict[str, Any]] = {}

    def for_url(self, url: str) -> dict[str, Any]:
        """Keyword arguments for ``Session.request``: ``proxies`` and ``verify``."""
        parts = urlsplit(url)
        key = (f"{parts.scheme}://{parts.netloc}", tuple(os.environ.get(name) for name in _NAMES))
        with self._lock:
            found = self._by_origin.get(key)
        if found is None:
            found = {
                "proxies": requests.utils.get_environ_proxies(url),
                "verify": os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True,
            }
            with self._lock:
                if len(self._by_origin) >= _MAX_ORIGINS:
                    self._by_origin.clear()
                self._by_origin[key] = found
        return dict(found, proxies=dict(found["proxies"]))
