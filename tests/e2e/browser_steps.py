"""Browser steps more than one end-to-end test takes."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from core.training.presets import PRESETS

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

QUICK_RUN_CAPTION = "The compact CNN for three epochs on a stratified 5,000-image subset"


def wait_for_rerun(page: Page, timeout: float = 60_000) -> None:
    """Wait until the server has finished the rerun a widget change started."""
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=timeout)


def start_quick_run(page: Page, epochs: int, dropout_steps: int = 0, timeout: float = 60_000) -> None:
    """On the Train page, pick the quick-run preset, ask for `epochs` epochs, nudge dropout and press Train."""
    page.get_by_text("Quick run (5,000 images)").click()
    # The preset's rerun resets every setting; a value typed before it arrives is overwritten or, typed
    # as it arrives, run into it ("3" then "1" made "31"). Its caption comes before the settings, and the
    # status widget only shows on a rerun that has lasted a moment: wait for the preset's own epochs.
    expect(page.get_by_text(QUICK_RUN_CAPTION)).to_be_visible(timeout=timeout)
    field = page.get_by_label("Epochs", exact=True)
    expect(field).to_have_value(str(PRESETS["quick"].config.epochs), timeout=timeout)
    wait_for_rerun(page, timeout)
    field.fill(str(epochs))
    field.press("Enter")
    wait_for_rerun(page, timeout)
    expect(field).to_have_value(str(epochs))
    if dropout_steps:
        dropout = page.get_by_role("slider", name="Dropout rate", exact=False).first
        start = float(dropout.input_value())
        dropout.focus()
        for _ in range(dropout_steps):
            dropout.press("ArrowRight")  # one step is 0.05
        wait_for_rerun(page, timeout)
        expect(dropout).to_have_attribute("aria-valuetext", f"{start + 0.05 * dropout_steps:.2f}")
    # The slider sends its value after a pause: wait until the server's recipe has it, then press Train.
    dropout_text = rf"{round(start + 0.05 * dropout_steps, 2):g}" if dropout_steps else r"[\d.]+"
    recipe = re.compile(rf"^Train runs \w+ with dropout {dropout_text}, batch norm \w+, for {epochs} epochs")
    expect(page.get_by_text(recipe)).to_be_visible(timeout=timeout)
    page.get_by_role("button", name="Train", exact=True).click()


def saved_run_id(page: Page, timeout: float = 180_000) -> str:
    """The run id the Train page names once its run is saved."""
    line = page.get_by_text(re.compile(r"Saved as run"))
    # Training's length, not the page's responsiveness: a cold 2-core machine needs a minute for one epoch.
    expect(line).to_be_visible(timeout=timeout)
    return re.search(r"\d{8}-\d{6}-\w+", line.inner_text()).group()


def save_screenshot(page: Page, name: str) -> None:
    """Keep what the page shows now as a test artifact, next to the one taken when each test ends."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


# The Predict page's answer box, whichever of its three forms it takes.
ANSWER = re.compile(r"% confident\)|Probably |Not sure")


def top_answer(name: str) -> re.Pattern:
    """The answer naming `name` first: "Probably X (61.7 %), maybe Y at 13 %" also names the runner-up Y."""
    return re.compile(rf"{re.escape(name)}\S* \(\d+(\.\d)? %( confident)?\)|Best guess: {re.escape(name)}")
