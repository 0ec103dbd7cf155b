"""Driving a widget as the front-end does, without a kernel: shared by the widget tests.

``RecordingComm`` is a ``comm.base_comm.BaseComm`` that records what it would put on IOPub (the
kernel's zmq socket is the only part left out; tests/widgets/test_job_view_kernel.py runs the same
exchange through real ipykernel 6 and 7 kernels). Messages from the page enter through
``comm.handle_msg``, the exact entry point the kernel's comm manager calls. The ``comms`` and
``manager`` fixtures that go with these helpers are in this folder's conftest.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from comm.base_comm import BaseComm
from ipywidgets import Widget

#: Emulator speed and the managers' matching time scale in the widget tests.
SPEED = 20.0


class RecordingComm(BaseComm):
    """A comm that keeps every message it would put on IOPub."""

    def __init__(self, **kwargs: Any) -> None:
        self.published: list[tuple[str, dict[str, Any], list[bytes]]] = []
        super().__init__(**kwargs)

    def publish_msg(
        self,
        msg_type: str,
        data: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        buffers: list[bytes] | None = None,
        **keys: Any,
    ) -> None:
        self.published.append((msg_type, data or {}, [bytes(b) for b in buffers or []]))

    def custom(self, kind: str | None = None) -> list[tuple[dict[str, Any], list[bytes]]]:
        """The custom messages sent to the page (only those of ``kind`` when given), with buffers."""
        return [
            (data["content"], buffers)
            for msg_type, data, buffers in self.published
            if msg_type == "comm_msg"
            and data.get("method") == "custom"
            and (kind is None or data["content"].get("kind") == kind)
        ]

    def updates(self) -> list[dict[str, Any]]:
        """The state updates sent to the page."""
        return [
            data["state"]
            for msg_type, data, _ in self.published
            if msg_type == "comm_msg" and data.get("method") == "update"
        ]


def comm_of(widget: Widget) -> RecordingComm:
    """The widget's comm, which the ``comms`` fixture made a recording one."""
    assert isinstance(widget.comm, RecordingComm)
    return widget.comm


def send(widget: Widget, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
    """A custom message from the page, delivered as the kernel's comm manager delivers it."""
    comm = comm_of(widget)
    comm.handle_msg(
        {
            "content": {"comm_id": comm.comm_id, "data": {"method": "custom", "content": content}},
            "buffers": [memoryview(b) for b in buffers or []],
        }
    )


def type_in(widget: Widget, **state: Any) -> None:
    """A trait edit from the page (what model.set + save_changes sends)."""
    comm = comm_of(widget)
    comm.handle_msg(
        {
            "content": {
                "comm_id": comm.comm_id,
                "data": {"method": "update", "state": state, "buffer_paths": []},
            },
            "buffers": [],
        }
    )


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)
