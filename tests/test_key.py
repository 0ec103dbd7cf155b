"""set_api_key: the key is taken without echo and used by the next job, never shown."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

import pytest

import seedance_widgets

SECRET = "sk-test-NEVER-SHOWN-4242424242"


def test_set_api_key_with_an_argument_sets_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOAPIS_API_KEY", raising=False)
    seedance_widgets.set_api_key(f"  {SECRET}\n")
    assert os.environ["TOAPIS_API_KEY"] == SECRET


def test_set_api_key_refuses_an_empty_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOAPIS_API_KEY", "before")
    with pytest.raises(ValueError, match="no API key"):
        seedance_widgets.set_api_key("   ")
    assert os.environ["TOAPIS_API_KEY"] == "before"


def test_prompt_does_not_echo_the_key() -> None:
    """Type the key into a real terminal: the terminal shows the prompt, never the key."""
    code = (
        "import os, seedance_widgets; seedance_widgets.set_api_key(); "
        "print('LEN', len(os.environ['TOAPIS_API_KEY']))"
    )
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=follower, stdout=follower, stderr=follower, close_fds=True
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 60
    sent = False
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            if not sent and b"input hidden" in seen:
                os.write(leader, SECRET.encode() + b"\n")
                sent = True
            if b"LEN" in seen and seen.rstrip().endswith(str(len(SECRET)).encode()):
                break
        proc.wait(timeout=30)
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert sent, seen
    assert f"LEN {len(SECRET)}".encode() in seen
    assert SECRET.encode() not in seen
