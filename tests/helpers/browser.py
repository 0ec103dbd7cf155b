"""Drive JupyterLab 4 and Notebook 7 pages in Debian's Chromium with Playwright's sync API.

Every wait is on a condition (Playwright's expect / wait_for_*), never a fixed sleep.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, Playwright, Route, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from .jupyter_server import JupyterServer

CHROMIUM = "/usr/bin/chromium"
# Headless, no sandbox (root in CI), and nothing that reaches out to the network (only loopback works).
CHROMIUM_ARGS: list[str] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Loading JupyterLab and starting a kernel on 2 busy cores can take a while; the first start most.
PAGE_TIMEOUT_MS = 60_000
RUN_PROMPT = re.compile(r"\[\d+\]")
# A prompt's text with every run of whitespace (nbsp included) as one space.
_NORM = "(el => el.textContent.replace(/\\s+/g, ' ').trim())"

# The kernel of the notebook `name`, as its own session context sees it. Read from JupyterLab's app
# object (the server sets expose_app_in_browser, as JupyterLab's own Galata tests do) because the
# DOM cannot tell: the toolbar's execution indicator says "idle" from its placeholder state before
# any session exists. Also reports whether a modal dialog is up.
_KERNEL_STATE_JS = """
(name) => {
  const app = window.jupyterapp;
  const dialog = document.querySelector('.jp-Dialog');
  const state = {app: Boolean(app), dialog: Boolean(dialog), panel: false};
  if (!app) return state;
  const panel = Array.from(app.shell.widgets('main'))
    .find((w) => w.context && w.sessionContext && w.context.path === name);
  if (!panel) return state;
  const sc = panel.sessionContext;
  const kernel = sc.session ? sc.session.kernel : null;
  return {...state, panel: true, ready: sc.isReady, pending: sc.kernelDisplayName,
          kernel: kernel ? kernel.name : null, status: kernel ? kernel.status : null,
          connection: kernel ? kernel.connectionStatus : null};
}
"""
# Ready: the expected kernel (any when null) connected and idle, or a dialog to deal with.
_KERNEL_READY_JS = f"""
([name, expected]) => {{
  const s = ({_KERNEL_STATE_JS})(name);
  if (s.dialog) return "dialog";
  const ok = s.kernel !== null && s.kernel !== undefined && (expected === null || s.kernel === expected);
  return ok && s.connection === "connected" && s.status === "idle" ? "ready" : false;
}}
"""


def launch_chromium(pw: Playwright) -> Browser:
    """Debian's Chromium by path (never a browser downloaded by `playwright install`)."""
    return pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


class NotebookPage:
    """One notebook open in JupyterLab ("lab") or Notebook 7 ("notebook")."""

    def __init__(self, page: Page, server: JupyterServer, ui: str, name: str) -> None:
        self.page = page
        self.server = server
        self.ui = ui
        self.name = name
        self.retries = 0
        # "Select Kernel" dialogs wait_kernel answered (with the notebook's own kernel); 0 normally.
        self.kernel_dialogs = 0
        page.set_default_timeout(PAGE_TIMEOUT_MS)

    def open(self) -> NotebookPage:
        """Load the notebook and return once its own kernel is connected and idle.

        Cells show before JupyterLab has read the notebook's kernelspec and started its session; a
        cell run in that window makes JupyterLab ask "Select Kernel" (it has no preferred kernel yet),
        and the dialog swallows the next clicks. So no cell may run before wait_kernel returns.
        """
        self.page.goto(self.server.notebook_url(self.ui, self.name))
        expect(self.cells.first).to_be_visible()
        self.wait_idle()
        self.fail_on_dialog()
        return self

    @property
    def kernel_name(self) -> str | None:
        """The kernelspec name the notebook file asks for (None when it names none)."""
        path = self.server.root_dir / self.name
        metadata = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
        name = metadata.get("kernelspec", {}).get("name")
        return str(name) if name else None

    def kernel_state(self) -> dict[str, object]:
        """What the page's session context holds for this notebook (for waits and error messages)."""
        return dict(self.page.evaluate(f"name => ({_KERNEL_STATE_JS})(name)", self.name))

    def wait_kernel(self, timeout_ms: float = PAGE_TIMEOUT_MS) -> None:
        """Wait until this notebook's session has its kernel (the notebook's kernelspec) connected
        and idle. A "Select Kernel" dialog met on the way is answered with that kernel and counted
        in `kernel_dialogs`; any other dialog fails (see fail_on_dialog)."""
        expected = self.kernel_name
        for _ in range(2):  # the one dialog JupyterLab may raise, then the kernel it starts
            try:
                outcome = self.page.wait_for_function(
                    _KERNEL_READY_JS, arg=[self.name, expected], timeout=timeout_ms
                ).json_value()
            except PlaywrightTimeoutError:
                raise AssertionError(
                    f"{self.name}: kernel {expected!r} not connected and idle in {timeout_ms / 1000:.0f} s; "
                    f"page state: {self.kernel_state()}; server log: {self.server.log_path}"
                ) from None
            if outcome == "ready":
                return
            self._answer_kernel_dialog(expected)
        raise AssertionError(f"{self.name}: JupyterLab asked for a kernel again: {self.kernel_state()}")

    def _answer_kernel_dialog(self, expected: str | None) -> None:
        """Choose `expected` in a "Select Kernel" dialog; any other dialog is an error."""
        dialog = self.page.locator(".jp-Dialog").first
        title = dialog.locator(".jp-Dialog-header").inner_text().strip()
        if title != "Select Kernel" or expected is None:
            self.fail_on_dialog()
        select = dialog.locator("select").first
        wanted = json.dumps({"name": expected}, separators=(",", ":"))
        values = [str(v) for v in select.evaluate("s => [...s.options].map((o) => o.value)")]
        if wanted not in values:
            raise AssertionError(
                f"{self.name} asks for kernel {expected!r}, which the server does not offer "
                f"(choices: {values}); write the notebook with one of helpers.KERNELS"
            )
        select.select_option(wanted)
        dialog.locator("button.jp-mod-accept").click()
        expect(self.page.locator(".jp-Dialog")).to_have_count(0)
        self.kernel_dialogs += 1

    def fail_on_dialog(self) -> None:
        """A modal dialog (kernel error, file conflict...) would swallow every click: say which."""
        dialog = self.page.locator(".jp-Dialog")
        if dialog.count():
            raise AssertionError(f"JupyterLab shows a dialog: {dialog.first.inner_text()!r}")

    @property
    def panel(self) -> Locator:
        """The notebook (in Lab: the one in the current tab)."""
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").first

    @property
    def cells(self) -> Locator:
        return self.panel.locator(".jp-Cell")

    def cell(self, index: int) -> Locator:
        return self.cells.nth(index)

    def prompt(self, index: int) -> Locator:
        return self.cell(index).locator(".jp-InputPrompt")

    def outputs(self, index: int) -> Locator:
        return self.cell(index).locator(".jp-OutputArea-output")

    def wait_idle(self, timeout_ms: float = PAGE_TIMEOUT_MS) -> None:
        """Wait until the notebook's own kernel is connected and idle, and the page shows it so.

        The indicator alone is not enough: it reads "idle" before any kernel exists."""
        self.wait_kernel(timeout_ms)
        indicator = self.page.locator(".jp-Notebook-ExecutionIndicator").first
        expect(indicator).to_have_attribute("data-status", "idle", timeout=timeout_ms)

    def run_cell(self, index: int, *, wait: bool = True, timeout_ms: float = PAGE_TIMEOUT_MS) -> None:
        """Select cell `index` in command mode and run it with Ctrl+Enter (run, do not advance).

        The prompt changes at once when the front-end accepts the request ("[*]" while queued or
        running). On a freshly started server the first request is sometimes dropped (the prompt
        stays, or goes back to, what it was): then the cell is run again, at most three times, and
        `self.retries` counts it. With `wait`, returns once the cell shows a new execution count.
        """
        cell = self.cell(index)
        prompt = self.prompt(index)
        before = str(prompt.evaluate(f"el => {_NORM}(el)"))
        for attempt in range(3):
            # Clicking the prompt selects the cell without entering its editor (click scrolls to
            # it, and retries if the notebook re-renders the cell meanwhile).
            self.fail_on_dialog()
            try:
                prompt.click()
            except PlaywrightTimeoutError:
                self.fail_on_dialog()  # the usual reason a click never lands: say what it was
                raise
            expect(cell).to_have_class(re.compile(r"\bjp-mod-selected\b"))
            self.page.keyboard.press("Control+Enter")
            outcome = self._wait_outcome(prompt, before, wait, timeout_ms)
            if outcome != "dropped":
                return
            self.retries += 1
            if attempt == 2:
                raise AssertionError(f"cell {index} never ran: its prompt stayed {before!r}")

    def _wait_outcome(self, prompt: Locator, before: str, wait: bool, timeout_ms: float) -> str:
        """ "started" (not waiting), "done" (new execution count) or "dropped" (prompt unchanged
        for 5 s, or back to `before` after a "[*]")."""
        handle = prompt.element_handle()
        changed = f"([el, before]) => {_NORM}(el) !== before"
        try:
            self.page.wait_for_function(changed, arg=[handle, before], timeout=5_000)
        except PlaywrightTimeoutError:
            return "dropped"
        if not wait:
            return "started"
        result = self.page.wait_for_function(
            f"""([el, before]) => {{
                const text = {_NORM}(el);
                if (text === before) return "dropped";
                return /\\[\\d+\\]/.test(text) ? "done" : false;
            }}""",
            arg=[handle, before],
            timeout=timeout_ms,
        )
        return str(result.json_value())

    def wait_cell_busy(self, index: int, timeout_ms: float = PAGE_TIMEOUT_MS) -> None:
        expect(self.prompt(index)).to_contain_text("*", timeout=timeout_ms)

    def wait_cell_done(self, index: int, timeout_ms: float = PAGE_TIMEOUT_MS, before: str = "") -> None:
        """Wait for an execution count in the prompt (other than `before`, the one of a past run)."""
        prompt = self.prompt(index)
        expect(prompt).to_have_text(RUN_PROMPT, timeout=timeout_ms)
        if before:
            expect(prompt).not_to_have_text(before, timeout=timeout_ms)

    def run_all(self, timeout_ms: float = PAGE_TIMEOUT_MS) -> None:
        for index in range(self.cells.count()):
            if "jp-CodeCell" in (self.cell(index).get_attribute("class") or ""):
                self.run_cell(index, timeout_ms=timeout_ms)

    def screenshot(self, path: Path, target: Locator | None = None) -> Path:
        """Write a PNG of `target` (default: the notebook) to `path`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        (target or self.panel).screenshot(path=str(path))
        return path


# Records every value the progress bar of one `.seedance-job` shows, with the page's clock and
# whether a given cell was busy at that moment. Watches the whole card (subtree), so a view that
# re-creates its bar element is still followed.
_WATCH_JS = """
([root, busyPrompt, key]) => {
  window.__seedanceWatch = window.__seedanceWatch || {};
  const samples = [];
  window.__seedanceWatch[key] = samples;
  let last = null;
  const record = () => {
    const bar = root.querySelector('.seedance-progress');
    if (!bar) return;
    const value = Number(bar.getAttribute('aria-valuenow'));
    if (value === last) return;
    last = value;
    const busy = busyPrompt ? busyPrompt.textContent.includes('*') : false;
    samples.push({ value, busy, t: Date.now() });
  };
  record();
  new MutationObserver(record).observe(root, { attributes: true, childList: true, subtree: true });
}
"""


def watch_progress(page: Page, job: Locator, key: str, busy_prompt: Locator | None = None) -> None:
    """Start recording the progress values of `job` (a `.seedance-job` locator) under `key`."""
    handle = job.element_handle()
    busy = busy_prompt.element_handle() if busy_prompt is not None else None
    page.evaluate(_WATCH_JS, [handle, busy, key])


def progress_samples(page: Page, key: str) -> list[dict[str, float | bool]]:
    """The recorded samples: {"value": 0-100, "busy": bool, "t": unix ms} in time order."""
    return list(page.evaluate("key => window.__seedanceWatch[key] || []", key))


def wait_moves_while_busy(page: Page, key: str, moves: int = 2, timeout_ms: float = PAGE_TIMEOUT_MS) -> None:
    """Wait until the bar recorded under `key` took `moves` new values while the busy cell ran."""
    page.wait_for_function(
        """([key, moves]) => {
          const s = (window.__seedanceWatch || {})[key] || [];
          return s.filter((x, i) => i > 0 && x.busy && x.value > 0).length >= moves;
        }""",
        arg=[key, moves],
        timeout=timeout_ms,
    )


def wait_video_playable(video: Locator, timeout_ms: float = PAGE_TIMEOUT_MS) -> dict[str, int]:
    """Wait for the metadata, start muted playback as a user's click on play would, and wait for
    readyState >= 3 (HAVE_FUTURE_DATA). Returns readyState, videoWidth and videoHeight."""
    expect(video).to_be_attached(timeout=timeout_ms)
    handle = video.element_handle()
    video.page.wait_for_function("v => v.readyState >= 1", arg=handle, timeout=timeout_ms)
    video.evaluate("v => { v.muted = true; return v.play().catch(() => undefined); }")
    video.page.wait_for_function("v => v.readyState >= 3", arg=handle, timeout=timeout_ms)
    facts = video.evaluate("v => ({readyState: v.readyState, width: v.videoWidth, height: v.videoHeight})")
    return dict(facts)


def open_offline(browser: Browser) -> tuple[Page, list[str]]:
    """A page in a new context whose every http(s) request is aborted (CDNs included), for exported
    HTML files opened from disk; returns it and the URLs it tried. Close it with page.context.close()."""
    context = browser.new_context(viewport={"width": 1280, "height": 1800})
    blocked: list[str] = []

    def abort(route: Route) -> None:
        blocked.append(route.request.url)
        route.abort()

    context.route(re.compile(r"^https?://"), abort)
    return context.new_page(), blocked


def play_every_video(page: Page, timeout_ms: float = PAGE_TIMEOUT_MS) -> list[dict[str, object]]:
    """Start each `<video>` of the page muted (as a click on play would) and wait until it has data
    (readyState >= 2) or fails. Returns, per video, its readyState, videoWidth, error code and
    currentSrc (the first 200 characters)."""
    videos = page.locator("video")
    facts: list[dict[str, object]] = []
    for i in range(videos.count()):
        video = videos.nth(i)
        handle = video.element_handle()
        video.evaluate("v => { v.muted = true; return v.play().catch(() => undefined); }")
        page.wait_for_function("v => v.readyState >= 2 || v.error !== null", arg=handle, timeout=timeout_ms)
        facts.append(
            video.evaluate(
                "v => ({ready: v.readyState, width: v.videoWidth, error: v.error && v.error.code, "
                "src: v.currentSrc.slice(0, 200)})"
            )
        )
    return facts
