"""Proxies from the environment (``HTTP_PROXY``, ``NO_PROXY``) still apply, read once per origin.

The client's own session does not let ``requests`` read the whole environment on every request
(a tenth of the engine's CPU with thousands of jobs: ``api/netenv.py``); these tests hold it to
what ``trust_env`` gave: calls go through the proxy the environment names, ``NO_PROXY`` is
obeyed, and a variable changed between two calls (as in a later cell) takes effect at once.
The proxy is a real forwarding HTTP proxy on loopback, in front of the emulator.
"""

from __future__ import annotations

import http.client
import http.server
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from api_support import SECRET_KEY, SMALL

from seedance_widgets.api import SeedanceClient
from seedance_widgets.api.netenv import EnvironmentSettings
from seedance_widgets.emulator import Emulator

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "upgrade"}


class _Forwarder(http.server.BaseHTTPRequestHandler):
    """A plain forwarding proxy: absolute-URI requests are sent on and their replies sent back."""

    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str]]

    def _forward(self) -> None:
        self.seen.append((self.command, self.path))
        target = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        upstream = http.client.HTTPConnection(target.hostname or "", target.port or 80, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        upstream.request(
            self.command, target.path + (f"?{target.query}" if target.query else ""), body, headers
        )
        reply = upstream.getresponse()
        data = reply.read()
        self.send_response(reply.status)
        for key, value in reply.getheaders():
            if key.lower() not in _HOP_BY_HOP | {"content-length"}:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    do_GET = do_POST = _forward

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        return None


@pytest.fixture
def proxy() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """A forwarding proxy on loopback: its URL and the (method, URL) of every request it carried."""
    seen: list[tuple[str, str]] = []
    handler = type("Handler", (_Forwarder,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment without proxy variables (the machine's own must not decide these tests)."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


def test_calls_go_through_the_proxy_the_environment_names(
    gateway: Emulator, proxy: tuple[str, list[tuple[str, str]]], no_proxy_env: pytest.MonkeyPatch
) -> None:
    proxy_url, seen = proxy
    no_proxy_env.setenv("HTTP_PROXY", proxy_url)
    with SeedanceClient(SECRET_KEY, gateway.base_url) as client:
        task = client.create(SMALL)
        client.get(task.id)
    assert [method for method, _ in seen] == ["POST", "GET"]
    assert all(url.startswith(gateway.base_url) for _, url in seen), seen


def test_no_proxy_and_a_change_between_calls_take_effect(
    gateway: Emulator, proxy: tuple[str, list[tuple[str, str]]], no_proxy_env: pytest.MonkeyPatch
) -> None:
    proxy_url, seen = proxy
    no_proxy_env.setenv("HTTP_PROXY", proxy_url)
    no_proxy_env.setenv("NO_PROXY", "127.0.0.1")
    with SeedanceClient(SECRET_KEY, gateway.base_url) as client:
        task = client.create(SMALL)
        assert seen == [], "NO_PROXY names the gateway's host: no request may use the proxy"
        no_proxy_env.delenv("NO_PROXY")  # a later cell changes the environment
        client.get(task.id)
        assert [method for method, _ in seen] == ["GET"]
        no_proxy_env.delenv("HTTP_PROXY")
        client.get(task.id)
    assert len(seen) == 1, "with HTTP_PROXY gone the call must go direct"


def test_the_ca_bundle_variable_sets_verify(no_proxy_env: pytest.MonkeyPatch) -> None:
    settings = EnvironmentSettings()
    no_proxy_env.delenv("REQUESTS_CA_BUNDLE", raising=False)
    no_proxy_env.delenv("CURL_CA_BUNDLE", raising=False)
    assert settings.for_url("https://toapis.com/v1/videos")["verify"] is True
    no_proxy_env.setenv("CURL_CA_BUNDLE", "/etc/ssl/curl.pem")
    assert settings.for_url("https://toapis.com/v1/videos")["verify"] == "/etc/ssl/curl.pem"
    no_proxy_env.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/requests.pem")
    assert settings.for_url("https://toapis.com/v1/videos")["verify"] == "/etc/ssl/requests.pem"
