"""The real app in a real browser: `streamlit run app.py` on a free loopback port, driven by Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browser_steps import save_screenshot

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    """Debian's Chromium; skipped with a reason where it is missing, except in CI, where that fails."""
    path = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is missing in CI: .ci/run installs Debian's chromium package.")
        pytest.skip("End-to-end tests need Chromium: sudo apt install chromium")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory) -> Path:
    """The app's runs folder: fresh for this session, so tests can look at what it saved."""
    return tmp_path_factory.mktemp("e2e-runs")


@pytest.fixture(scope="session")
def app_url(tmp_path_factory, runs_dir) -> str:
    """Start the app with a fresh runs folder; wait for its health check; stop it afterwards."""
    chromium_path()
    port = free_port()
    log = open(tmp_path_factory.mktemp("e2e-log") / "streamlit.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
         # Naming the address stops Streamlit looking up this machine's external IP online.
         "--browser.serverAddress", "127.0.0.1"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        # A native crash prints every thread's Python stack into the log.
        env={**os.environ, "EXPLORER_RUNS_DIR": str(runs_dir), "EXPLORER_OFFLINE": "1", "PYTHONFAULTHANDLER": "1"},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            log.close()
            pytest.fail("The app did not start; see its log.")
        time.sleep(0.5)
    yield url
    server.terminate()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


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
