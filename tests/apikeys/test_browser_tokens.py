"""API tokens in headless Chromium (SPEC §4.8, issue 5): create a token with two scopes, see and
copy its secret once, find it gone from the list, then disable the token."""

import hashlib
import re

import pytest
from playwright.sync_api import expect

from apikeys.models import ApiToken
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, base: str, email: str) -> None:
    page.goto(base + "/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def create_token(page, name: str, scopes: list[str]) -> None:
    page.get_by_role("button", name="Create API token").click()  # a link styled as a button
    expect(page.get_by_role("heading", name="Create an API token")).to_be_visible()
    page.get_by_label("Name").fill(name)
    for scope in scopes:
        page.get_by_role("checkbox", name=re.compile("^" + re.escape(scope) + ":")).check()
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("heading", name="Your new API token")).to_be_visible()


def test_create_a_token_see_the_secret_once_then_disable_it(page, live_server, make_account):
    base = live_server.url
    owner = make_account().memberships.get().user
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)

    sign_in(page, base, owner.email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", name="API keys", exact=True)).to_be_visible()
    expect(page.get_by_test_id("live-keys")).to_contain_text("No live API tokens yet.")
    expect(page.get_by_test_id("test-keys")).to_contain_text("No test API tokens yet.")

    create_token(page, "Billing server", ["messages:send", "balance:read"])
    expect(page.get_by_test_id("secret-warning")).to_contain_text("it will not be shown again")
    secret = page.get_by_test_id("secret").inner_text().strip()
    assert re.fullmatch(r"live_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", secret), secret
    token = ApiToken.objects.get()
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert token.scopes == ["balance:read", "messages:send"]
    assert secret not in page.url

    # The copy button exists only with JavaScript, and puts the whole secret on the clipboard.
    copy = page.get_by_test_id("copy-secret")
    expect(copy).to_be_visible()
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == secret

    page.get_by_role("button", name="I have copied it").click()
    expect(page.get_by_role("heading", name="API keys", exact=True)).to_be_visible()
    assert secret not in page.content()
    row = page.get_by_test_id("live-tokens").get_by_test_id("token-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Billing server")
    expect(row).to_contain_text(f"live_{token.prefix}_…")
    expect(row).to_contain_text("messages:send")
    expect(row).to_contain_text("balance:read")
    expect(row).to_contain_text("Never")  # not used yet, no expiry
    expect(row.get_by_test_id("token-state")).to_have_text("Active")
    expect(page.get_by_test_id("test-keys")).to_contain_text("No test API tokens yet.")

    row.get_by_role("button", name="Disable").click()
    expect(page.get_by_text("Token “Billing server” is disabled.")).to_be_visible()
    expect(row.get_by_test_id("token-state")).to_have_text("Disabled")
    expect(row.get_by_role("button", name="Enable")).to_be_visible()
    token.refresh_from_db()
    assert token.disabled


def test_without_javascript_the_secret_is_shown_and_the_copy_button_hidden(browser, live_server, make_account):
    owner = make_account().memberships.get().user
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, live_server.url, owner.email)
        page.goto(live_server.url + "/api-keys/")
        create_token(page, "No script", ["messages:send"])
        secret = page.get_by_test_id("secret").inner_text().strip()
        assert secret.startswith("live_")
        expect(page.get_by_test_id("secret")).to_be_visible()
        expect(page.get_by_test_id("copy-secret")).to_be_hidden()
        page.get_by_role("button", name="I have copied it").click()
        assert secret not in page.content()
    finally:
        context.close()
