"""The real app in a real browser: `streamlit run app.py` on a free loopback port, driven by Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_server import CHROMIUM_FLAGS, AppDidNotStart, find_chromium, running_app
from browser_steps import save_screenshot
from skips import skip_unless_ci


def chromium_path() -> str:
    """Debian's Chromium; skipped with a reason where it is missing, except in CI, where that fails."""
    path = find_chromium()
    if path is None:
        skip_unless_ci("End-to-end tests need Chromium: sudo apt install chromium", ".ci/run installs it in CI.")
    return path


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory) -> Path:
    """The app's runs folder: fresh for this session, so tests can look at what it saved."""
    return tmp_path_factory.mktemp("e2e-runs")


@pytest.fixture(scope="session")
def app_url(tmp_path_factory, runs_dir) -> str:
    """Start the app with a fresh runs folder; wait for its health check; stop it afterwards."""
    chromium_path()
    # One training job at a time, as on a CPU, whatever this machine has (a GPU allows two): the
    # concurrency test watches the second job queue.
    one_job = {"EXPLORER_MAX_JOBS": "1"}
    try:
        with running_app(runs_dir, tmp_path_factory.mktemp("e2e-log") / "streamlit.log", one_job) as app:
            yield app.url
    except AppDidNotStart as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import expect, sync_playwright

    # The app reruns on a shared 2-core machine: wait up to 20 s for what a person would see.
    expect.set_options(timeout=20_000)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, app_url, request):
    """A fresh browser tab; its screenshot is saved as a test artifact whatever the outcome."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    tab.app_url = app_url
    yield tab
    save_screenshot(tab, request.node.name)
    context.close()
