"""The running app measured from outside (its process's CPU and memory), and a person's steps in it, in Chromium."""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path

from PIL import Image
from playwright.sync_api import Browser, Page

from core.datasets import load_dataset
from tests.e2e.browser_steps import wait_for_rerun

RUNNING = re.compile(r"Running: epoch (\d+) of \d+, batch (\d+) of (\d+)")
TIMEOUT_MS = 180_000


# --- measuring the server from outside --------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of one process (not its children), from /proc."""
    return _stat_cpu_seconds(Path(f"/proc/{pid}/stat").read_text(), reaped_children=False)


def _stat_cpu_seconds(stat: str, reaped_children: bool) -> float:
    fields = stat.rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def browser_cpu_seconds() -> float:
    """CPU time of every Chromium process: on this machine the watching tabs' own drawing competes too.

    A closed tab's renderer exits, taking its CPU time out of a plain sum (a window that began just
    after a probe tab closed read as -0.06 of a core): each process's reaped children count too, and
    processes are found by name, which an exited one keeps until it is reaped (its command line it
    does not). A renderer reaped during the scan can still be missed once, so a short window can dip.
    """
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if "chrom" in stat[stat.index("(") + 1 : stat.rindex(")")]:
                total += _stat_cpu_seconds(stat, reaped_children=True)
        except (OSError, IndexError, ValueError):
            continue
    return total


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


# --- a person's steps ------------------------------------------------------------------------------


def new_page(browser: Browser) -> Page:
    page = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


def close(page: Page) -> None:
    page.context.close()


def digit_png(index: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(load_dataset("mnist").x_test[index]).resize((112, 112)).save(buffer, "PNG")
    return buffer.getvalue()


def wait_usable_predict(page: Page) -> None:
    page.get_by_text("Predicting with").first.wait_for()
    page.get_by_role("tab", name="Upload an image").wait_for()


def open_predict(browser: Browser, url: str) -> tuple[Page, float]:
    """A new session's Predict page, and the seconds from goto until a person can use it."""
    page = new_page(browser)
    started = time.perf_counter()
    page.goto(f"{url}/predict")
    wait_usable_predict(page)
    return page, time.perf_counter() - started


def start_upload(page: Page, name: str, png: bytes) -> float:
    page.get_by_role("tab", name="Upload an image").click()
    started = time.perf_counter()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": name, "mimeType": "image/png", "buffer": png}]
    )
    return started


def answer_shown(page: Page, name: str) -> bool:
    return page.get_by_text(f"Prediction for the uploaded file {name}").is_visible()


def upload_and_wait(page: Page, name: str, png: bytes) -> float:
    started = start_upload(page, name, png)
    page.get_by_text(f"Prediction for the uploaded file {name}").wait_for()
    return time.perf_counter() - started


def start_long_run(page: Page, url: str) -> None:
    """Train the default recipe on Fashion-MNIST for 200 epochs: far longer than the benchmark lasts."""
    page.goto(f"{url}/train")
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text="Dataset").click()
    page.get_by_role("option", name="Fashion-MNIST").first.click()
    page.get_by_role("heading", name="Train a CNN on Fashion-MNIST").wait_for()
    wait_for_rerun(page, TIMEOUT_MS)
    epochs = page.get_by_label("Epochs", exact=True)
    epochs.fill("200")
    epochs.press("Enter")
    wait_for_rerun(page, TIMEOUT_MS)
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text(RUNNING).wait_for()


def training_step(page: Page) -> int:
    """The live panel's step count, as the page shows it."""
    text = page.get_by_text(RUNNING).inner_text()
    epoch, batch, per_epoch = (int(n) for n in RUNNING.search(text).groups())
    return (epoch - 1) * per_epoch + batch


def probe_step(browser: Browser, job_url: str) -> tuple[int, float]:
    """The run's step as a fresh tab shows it, and when it was read (perf_counter seconds)."""
    page = new_page(browser)
    page.goto(job_url)
    page.get_by_text(RUNNING).wait_for()
    step, read_at = training_step(page), time.perf_counter()
    close(page)
    return step, read_at
