"""Issue 11 in real JupyterLab (Chromium): a job whose prompt, task id, error and error code are hostile
shows them as text. No element is made from them, no script runs (``window.__pwned`` stays unset, no
dialog opens), and the card and the ``%seedance jobs`` table show the exact strings.

The hostile words come from a small gateway written here (a real HTTP server on 127.0.0.1): it accepts
the create with a hostile task id and fails the task with a hostile error. The prompt is the person's.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from helpers.browser import NotebookPage
from helpers.jupyter_server import JupyterServer
from helpers.notebooks import write_notebook
from playwright.sync_api import Dialog, Page, expect

PROMPT = (
    '<img src=x onerror=window.__pwned=1> "><svg onload=window.__pwned=1> \'" &amp; \u202eevil\u202c z\u200bw'
)
# A task id has no space, slash or control character (the client refuses those), but may hold markup.
TASK_ID = "task_<img>\"><svg>'&amp;\u200b"
ERROR = "<script>window.__pwned=1</script><img src=x onerror=window.__pwned=1> &lt;b&gt; \u202e'\""
ERROR_CODE = '"><svg onload=window.__pwned=1>'
JOB_TIMEOUT_MS = 60_000


class _HostileGateway(BaseHTTPRequestHandler):
    """Creates every task with TASK_ID and reports it failed with ERROR / ERROR_CODE."""

    def _reply(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _task(self, status: str) -> dict[str, Any]:
        return {
            "id": TASK_ID,
            "object": "generation.task",
            "status": status,
            "progress": 0,
            "created_at": int(time.time()),
        }

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._reply(self._task("queued"))

    def do_GET(self) -> None:
        self._reply({**self._task("failed"), "error": {"code": ERROR_CODE, "message": ERROR}})

    def log_message(self, fmt: str, *args: Any) -> None:
        pass  # keep the test output clean


@pytest.fixture(scope="module")
def hostile_gateway() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HostileGateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


# Runs in the page: the text and attributes a person sees, and any element the data turned into.
_READ_CARD = """
card => {
  const text = (sel) => card.querySelector(sel)?.textContent ?? null;
  const rows = {};
  for (const dt of card.querySelectorAll('.seedance-details-list dt')) {
    rows[dt.textContent] = dt.nextElementSibling.textContent;
  }
  return {
    prompt: text('.seedance-prompt-text'),
    promptTitle: card.querySelector('.seedance-prompt-text').title,
    taskId: text('.seedance-task-id'),
    error: text('.seedance-error'),
    errorCode: rows['error code'] ?? null,
    made: card.querySelectorAll('img, script, svg, iframe').length,
  };
}
"""


def test_hostile_prompt_and_gateway_error_stay_text(
    jupyter_plain: JupyterServer, hostile_gateway: str, page: Page
) -> None:
    assert len(PROMPT) <= 90  # the card shows it whole
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:  # alert(), confirm(): a script ran
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    setup = (
        "import os\n"
        f"os.environ['SEEDANCE_BASE_URL'] = {hostile_gateway!r}\n"
        "os.environ['TOAPIS_API_KEY'] = 'sk-test-hostile'\n"
        "%load_ext seedance_widgets\n"
        "%config Seedance.time_scale = 20.0"
    )
    name = "hostile.ipynb"
    write_notebook(
        jupyter_plain.root_dir / name, [setup, f"%%seedance --duration 4\n{PROMPT}", "%seedance jobs"]
    )
    nb = NotebookPage(page, jupyter_plain, "lab", name).open()
    nb.run_cell(0)
    nb.run_cell(1)
    card = nb.outputs(1).locator(".seedance-job")
    expect(card).to_have_attribute("data-state", "failed", timeout=JOB_TIMEOUT_MS)
    # The magic's HTML table (Python's escaping, rendered by JupyterLab as trusted HTML).
    nb.run_cell(2)
    table = nb.outputs(2).locator(".seedance-table")
    expect(table).to_be_visible()
    nb.fail_on_dialog()

    cells = table.locator("td").all_text_contents()
    seen = {
        "card": card.evaluate(_READ_CARD),
        "table elements made": table.locator("img, script, svg, iframe").count(),
        "table shows the task id": TASK_ID in cells,
        "table shows the prompt": PROMPT[:39] + "…" in cells,
        "window.__pwned": page.evaluate("() => window.__pwned"),
        "dialogs": dialogs,
    }
    assert seen == {
        "card": {
            "prompt": f"“{PROMPT}”",
            "promptTitle": PROMPT,
            "taskId": TASK_ID,
            "error": ERROR,
            "errorCode": ERROR_CODE,
            "made": 0,
        },
        "table elements made": 0,
        "table shows the task id": True,
        "table shows the prompt": True,
        "window.__pwned": None,
        "dialogs": [],
    }
