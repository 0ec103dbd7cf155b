"""A long Gallery in real JupyterLab (Chromium) fetches video bytes lazily: only the players in view
ask the kernel for their video; the next ones ask as they scroll in; a player scrolled far away
drops its blob (and asks again when it comes back). Counts come from the page's websocket (every
`video-request` the page sends) and the cards' `data-video` hooks; every wait is on a locator or a
page condition, never a sleep."""

from __future__ import annotations

from helpers.browser import NotebookPage, wait_video_playable
from helpers.jupyter_server import JupyterServer
from helpers.notebooks import write_notebook
from playwright.sync_api import Page, Route, expect

EMULATOR_SPEED = 20.0
PROMPTS = 12
SEEDS = 2
CARDS = PROMPTS * SEEDS
SETUP = f"""\
from seedance_widgets.api import GenerationRequest
from seedance_widgets.engine import JobManager
from seedance_widgets.widgets import Gallery
manager = JobManager(time_scale={EMULATOR_SPEED})
jobs = [manager.submit(GenerationRequest(prompt=f"lazy card {{p:02d}}", seed=s, duration=2,
                                         resolution="480p", model="doubao-seedance-1-0-pro-fast"))
        for p in range({PROMPTS}) for s in range(1, {SEEDS} + 1)]
for job in jobs:
    job.wait(timeout=300)"""
SHOW = 'Gallery(jobs, rows="prompt", cols="seed")'
JOBS_TIMEOUT_MS = 300_000

# The cards in the viewport, by the gallery's own test (IntersectionObserver without a margin).
WATCH_VIEW = """
(gallery) => {
  const inView = new Set();
  const io = new IntersectionObserver((entries) => {
    for (const e of entries) (e.isIntersecting ? inView.add(e.target) : inView.delete(e.target));
  });
  for (const card of gallery.querySelectorAll(".seedance-job")) io.observe(card);
  window.__lazyView = inView;
}
"""
IN_VIEW_ALL_LOADED = """
() => {
  const v = window.__lazyView;
  return Boolean(v) && v.size > 0 && [...v].every((c) => c.dataset.video === "loaded");
}
"""


class VideoRequests:
    """The `video-request` messages the page sends to the kernel, with the job each one names."""

    def __init__(self, page: Page) -> None:
        self.count = 0
        page.on("websocket", lambda ws: ws.on("framesent", self._frame))

    def _frame(self, payload: str | bytes) -> None:
        data = payload.encode() if isinstance(payload, str) else payload
        self.count += data.count(b'"video-request"')


def test_only_cards_in_view_fetch_and_scrolling_fetches_the_next(jupyter: JupyterServer, page: Page) -> None:
    requests = VideoRequests(page)
    name = "gallery-lazy.ipynb"
    write_notebook(jupyter.root_dir / name, [SETUP, SHOW])
    nb = NotebookPage(page, jupyter, "lab", name).open()
    nb.run_cell(0, timeout_ms=JOBS_TIMEOUT_MS)
    nb.run_cell(1)
    gallery = nb.outputs(1).locator(".seedance-gallery")
    cards = gallery.locator(".seedance-job")
    expect(cards).to_have_count(CARDS)
    expect(gallery.locator(".seedance-gallery-title")).to_have_text(f"{CARDS} of {CARDS} done")
    page.evaluate(WATCH_VIEW, gallery.element_handle())
    page.wait_for_function(IN_VIEW_ALL_LOADED)

    # Only the cards in view asked for their bytes: as many requests as cards seen, the rest idle.
    in_view = int(page.evaluate("() => window.__lazyView.size"))
    assert 0 < in_view < CARDS, (
        f"the test needs a gallery taller than the page ({in_view} of {CARDS} in view)"
    )
    assert requests.count == in_view, (requests.count, in_view)
    asked = gallery.locator(".seedance-job[data-video]")
    expect(asked).to_have_count(in_view)
    last = cards.last
    expect(last).not_to_have_attribute("data-video", "loaded")

    # Scrolling to the end: the last card fetches and plays; the first, far away, lets its blob go.
    last.scroll_into_view_if_needed()
    expect(last).to_have_attribute("data-video", "loaded")
    page.wait_for_function(IN_VIEW_ALL_LOADED)
    assert in_view < requests.count <= CARDS, requests.count
    facts = wait_video_playable(last.locator("video.seedance-video"))
    assert facts["readyState"] >= 3, facts
    first = cards.first
    expect(first).to_have_attribute("data-video", "released")
    assert first.locator("video.seedance-video").get_attribute("src") is None

    # Back at the top: the first card asks again and plays.
    before = requests.count
    first.scroll_into_view_if_needed()
    expect(first).to_have_attribute("data-video", "loaded")
    assert requests.count > before
    wait_video_playable(first.locator("video.seedance-video"))


def test_a_cell_run_before_the_session_starts_gets_the_notebooks_kernel_not_a_dialog(
    jupyter: JupyterServer, page: Page
) -> None:
    """The race this module once lost: cells show, and the toolbar's indicator reads "idle", before
    JupyterLab has read the notebook's kernelspec and started its session. A cell run in that window
    makes JupyterLab ask "Select Kernel". Holding the checkpoint request (JupyterLab reads it just
    before it starts the session) keeps the window open; wait_idle must then answer with the
    notebook's kernel, not return while the dialog is up."""
    name = "early-run.ipynb"
    # python3: the dialog preselects the other kernel ("Python 3 (ipykernel 6)" sorts first).
    write_notebook(jupyter.root_dir / name, ["1 + 1"], kernel="python3")
    held: list[Route] = []

    def hold(route: Route) -> None:  # a def: Playwright tags its handlers, list.append cannot be
        held.append(route)

    page.route("**/checkpoints*", hold)
    nb = NotebookPage(page, jupyter, "lab", name)
    page.goto(jupyter.notebook_url("lab", name))
    expect(nb.cells.first).to_be_visible()
    indicator = page.locator(".jp-Notebook-ExecutionIndicator").first
    expect(indicator).to_have_attribute("data-status", "idle")
    assert nb.kernel_state()["kernel"] is None, nb.kernel_state()  # "idle", yet no kernel at all
    nb.prompt(0).click()
    page.keyboard.press("Control+Enter")
    expect(page.locator(".jp-Dialog-header")).to_have_text("Select Kernel")
    while held:
        held.pop().continue_()
    page.unroute("**/checkpoints*")

    nb.wait_idle()
    expect(page.locator(".jp-Dialog")).to_have_count(0)
    assert nb.kernel_dialogs == 1
    assert nb.kernel_state()["kernel"] == "python3", nb.kernel_state()
    sessions = jupyter.api("GET", "/api/sessions").json()
    assert [s["kernel"]["name"] for s in sessions if s["path"] == name] == ["python3"], sessions
    nb.run_cell(0)
    expect(nb.outputs(0)).to_have_text("2")
