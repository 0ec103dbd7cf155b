"""Shared constants and helpers of the protocol layer's tests (imported by conftest and tests)."""

from __future__ import annotations

import io
import secrets
import time
import traceback
from pathlib import Path

import seedance_widgets
from seedance_widgets.api import GenerationRequest, RetryPolicy, SeedanceClient, Task

#: A key unlike any other string in the tests, so finding it anywhere means it leaked.
SECRET_KEY = "sk-test-" + secrets.token_hex(16)
PACKAGE_DIR = str(Path(seedance_widgets.__file__).parent)
#: A fast retry policy; the waits go to the ``sleeps`` list instead of the clock anyway.
FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.05, max_delay=0.4, jitter=0.25)
#: The cheapest request the emulator renders: 4 s, 480p, square, no audio.
SMALL = GenerationRequest(
    "a small red ball bounces", duration=4, aspect_ratio="1:1", resolution="480p", seed=7
)


def leaks(text: str) -> bool:
    return SECRET_KEY in text


def assert_no_key_in(err: BaseException) -> None:
    """The key is nowhere an error could show it, across its whole chain."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for shown in (str(current), repr(current), repr(current.args), repr(vars(current))):
            assert not leaks(shown), f"the key leaked through {type(current).__name__}"
        tb = current.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            if frame.f_code.co_filename.startswith(PACKAGE_DIR):
                for name, value in frame.f_locals.items():
                    assert not leaks(_shown(value)), f"local {name!r} of {frame.f_code.co_name} holds the key"
            tb = tb.tb_next
        current = current.__cause__ or current.__context__
    assert not leaks("".join(traceback.format_exception(err)))


def _shown(value: object) -> str:
    """What a verbose traceback would print for a local variable."""
    try:
        return repr(value)
    except Exception:  # a broken repr shows nothing
        return ""


def wait_until_final(client: SeedanceClient, task_id: str, limit: float = 60.0) -> Task:
    """Poll (really sleeping) until the task is final."""
    deadline = time.monotonic() + limit
    while True:
        task = client.get(task_id)
        if task.is_final:
            return task
        assert time.monotonic() < deadline, f"task {task_id} still {task.status} after {limit} s"
        time.sleep(0.05)


def image_bytes(fmt: str, size: tuple[int, int] = (64, 48)) -> bytes:
    """A real image in ``fmt`` (PNG, JPEG, WEBP, GIF), made with Pillow."""
    from PIL import Image  # the emulator extra's dependency

    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 90)).save(out, format=fmt)
    return out.getvalue()
