"""A visitor to a server with a password signs in, in Chromium: wrong first, then right."""

from __future__ import annotations

import pytest
from app_server import AppDidNotStart, running_app
from browser_steps import save_screenshot
from playwright.sync_api import expect

PASSWORD = "class-of-2026-secret"


@pytest.fixture(scope="module")
def guarded_app_url(tmp_path_factory):
    """A second app server, this one with a viewer password set."""
    environment = {"EXPLORER_PASSWORD": PASSWORD, "EXPLORER_ADMIN_PASSWORD": ""}
    log = tmp_path_factory.mktemp("sign-in-log") / "streamlit.log"
    try:
        with running_app(tmp_path_factory.mktemp("sign-in-runs"), log, environment) as app:
            yield app.url
    except AppDidNotStart as error:
        pytest.fail(str(error))


def test_a_wrong_password_is_refused_and_the_right_one_opens_the_app(browser, guarded_app_url, request):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    try:
        page.goto(f"{guarded_app_url}/predict")  # a page's own address shows no more than the front door
        password = page.get_by_label("Password", exact=True)
        expect(password).to_be_visible()
        expect(page.get_by_text("Dataset", exact=True)).to_have_count(0)
        password.fill("not-the-password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Wrong password")).to_be_visible()
        expect(page.get_by_text("Dataset", exact=True)).to_have_count(0)

        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Signed in as viewer")).to_be_visible()
        expect(page.get_by_text("Dataset", exact=True).first).to_be_visible()
        expect(page.get_by_role("heading", name="Predict")).to_be_visible()
    finally:
        save_screenshot(page, request.node.name)
        context.close()
