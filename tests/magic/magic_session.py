"""The ``Session`` a magic test drives: a real InteractiveShell and everything it showed."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.displaypub import CapturingDisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from seedance_widgets.magic import link

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


@dataclasses.dataclass
class Session:
    """The shell plus everything it showed: ``displays`` (display() calls) and ``results`` (Out[])."""

    shell: InteractiveShell
    displays: list[dict[str, Any]]
    results: list[dict[str, Any]]
    capsys: pytest.CaptureFixture[str]

    def run(self, code: str) -> Any:
        """Run a cell like a front-end would; re-raise its error; return its value."""
        result = self.shell.run_cell(code, store_history=False)
        result.raise_error()
        return result.result

    def widget_ids(self) -> list[str]:
        return [d["data"][WIDGET_MIME]["model_id"] for d in self.displays if WIDGET_MIME in d["data"]]

    def clear(self) -> None:
        self.displays.clear()
        self.results.clear()

    def all_text(self) -> str:
        """Everything shown so far, as one string (stdout, stderr and every display's data)."""
        out = self.capsys.readouterr()
        return "\n".join([out.out, out.err, repr(self.displays), repr(self.results)])


@contextlib.contextmanager
def make_session(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    config = Config()
    config.HistoryManager.enabled = False
    InteractiveShell.clear_instance()
    shell = InteractiveShell.instance(config=config)
    displays: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    publisher = CapturingDisplayPublisher()
    publisher.outputs = displays
    shell.display_pub = publisher
    original_write = shell.displayhook.write_format_data

    def record(format_dict: dict[str, Any], md_dict: Any = None) -> None:
        results.append(format_dict)
        original_write(format_dict, md_dict)

    monkeypatch.setattr(shell.displayhook, "write_format_data", record)
    session = Session(shell, displays, results, capsys)
    session.run("%load_ext seedance_widgets")
    try:
        yield session
    finally:
        shell.run_cell("%unload_ext seedance_widgets", store_history=False)
        link.shutdown_managers()
        InteractiveShell.clear_instance()
