"""Browser fixtures: one Chromium, one Jupyter server (and one emulator) per test module.

A module shares its server to keep the suite short; each test opens its own notebook (its own kernel)
in a fresh browser context, and the kernels are shut down after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers import REPO_ROOT
from helpers.browser import CHROMIUM, launch_chromium
from helpers.jupyter_server import JupyterServer, kernel_env
from playwright.sync_api import Browser, Page, sync_playwright

if TYPE_CHECKING:
    from seedance_widgets.emulator import Emulator

FAILURE_SHOTS = REPO_ROOT / "test-results"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Everything under tests/browser drives a real browser: mark it so `-m "not browser"` skips it.
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install -y chromium)")
    with sync_playwright() as pw:
        chromium = launch_chromium(pw)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def jupyter_plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """A Jupyter server whose kernels see no emulator (for tests of the harness itself)."""
    base = tmp_path_factory.mktemp("jupyter-plain")
    root = base / "root"
    root.mkdir()
    with JupyterServer(root, base / "home") as server:
        yield server


@pytest.fixture(scope="module")
def module_emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """An in-process emulator shared by a module (quick profile; the module's EMULATOR_SPEED)."""
    from seedance_widgets.emulator import Emulator, EmulatorConfig

    speed = float(getattr(request.module, "EMULATOR_SPEED", 1.0))
    with Emulator(EmulatorConfig(speed=speed, profile="quick")) as emu:
        yield emu


@pytest.fixture(scope="module")
def jupyter(module_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """A Jupyter server whose kernels use the module's emulator (URL and key in their environment)."""
    base = tmp_path_factory.mktemp("jupyter")
    root = base / "root"
    root.mkdir()
    env = kernel_env(module_emulator.base_url, module_emulator.api_key)
    with JupyterServer(root, base / "home", env) as server:
        yield server


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context and page; on teardown the test's kernels are shut down."""
    # Tall, so a whole widget fits on screen and element screenshots need no scrolling under headers.
    context = browser.new_context(viewport={"width": 1280, "height": 1800})
    pg = context.new_page()
    yield pg
    report = getattr(request.node, "rep_call", None)
    failed = report is not None and report.failed
    if failed:
        FAILURE_SHOTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(FAILURE_SHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    for name in ("jupyter", "jupyter_plain"):
        if name in request.fixturenames:
            server: JupyterServer = request.getfixturevalue(name)
            if failed:
                (FAILURE_SHOTS / f"{request.node.name}.server.log").write_text(server.log_text())
            server.shutdown_kernels()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    # Keep the call phase's report on the item so the page fixture can screenshot failures.
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
