"""The Content-Security-Policy in headless Chromium: a walk through every page of the portal (read
from the URL configuration, so a new page is visited without being added here), the sign-in and
reset pages, the pages' scripts at work (the send form's counter, a new key's copy button), and
the admin as staff, with Chromium reporting no violation of the policy on any of them."""

import re

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.conftest import PASSWORD, enrol_sms, latest_sms_code
from tests.page_support import browser_sign_in
from tests.portal.routes import Samples, admin_routes, admin_url, page_routes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EXPECTED_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

# Every violation the page sees, from the first byte of each document (an init script runs
# outside the page's policy): Chromium fires `securitypolicyviolation` for each.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"} `
    + `at ${event.sourceFile || document.location.pathname}:${event.lineNumber}`);
});
"""


class Walk:
    """Visits pages, checks the policy on each answer, and gathers what Chromium reports: the
    violation events and the console's "Content Security Policy" errors."""

    def __init__(self, page, base: str) -> None:
        self.page, self.base = page, base
        self.violations: list[str] = []
        self.visited: list[str] = []
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", self._console)

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text:
            self.violations.append(f"console: {message.text}")

    def collect(self) -> None:
        self.page.wait_for_load_state("load")
        self.page.wait_for_timeout(50)  # violation events are queued as tasks: let them run
        self.violations += [f"{self.page.url}: {v}" for v in self.page.evaluate("window.__cspViolations || []")]
        self.page.evaluate("window.__cspViolations = []")

    def visit(self, path: str) -> None:
        if self.page.request.get(self.base + path).status == 405:
            return  # a POST-only action: no page (Chromium would show its own error page)
        response = self.page.goto(self.base + path)
        assert response is not None, path
        if response.headers.get("content-type", "").startswith("text/html"):
            # The policy of the page as finally shown (after any redirect), exactly.
            assert response.headers.get("content-security-policy") == EXPECTED_POLICY, (path, response.url)
            self.collect()
        self.visited.append(path)


def test_every_page_runs_under_the_policy_with_no_violation(page, live_server, owner, sms_delivery_inline):
    base = live_server.url
    samples = Samples(owner)
    walk = Walk(page, base)

    # The collector sees a violation when there is one: an inline script is refused, and reported.
    walk.visit("/accounts/login/")
    with pytest.raises(PlaywrightError, match="Content Security Policy"):
        page.add_script_tag(content="window.inlineScriptRan = true;")
    assert page.evaluate("window.inlineScriptRan") is None
    walk.collect()
    assert any("script-src" in violation for violation in walk.violations), walk.violations
    walk.violations.clear()

    for path in ("/accounts/login/", "/accounts/password-reset/", "/accounts/reset/MQ/set-password/", "/nowhere/"):
        walk.visit(path)
    browser_sign_in(page, base, owner.email)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    walk.collect()

    # Every page of the portal, signed in as the owner (signing out is a form, never a page).
    for route in page_routes():
        if route.name != "security:logout":
            walk.visit(samples.url(route))

    # The pages' own scripts run under the policy: the send form's live counter…
    walk.visit("/messages/send/")
    page.get_by_label("Message").fill("Hello")
    expect(page.get_by_test_id("segment-counter")).to_contain_text("5 characters · GSM-7 · 1 part")
    # …and a new key's copy button (shown only by its script).
    walk.visit("/api-keys/tokens/new/")
    page.get_by_label("Name").fill("Under the policy")
    page.get_by_role("checkbox", name=re.compile("^messages:send:")).check()
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("heading", name="Your new API token")).to_be_visible()
    expect(page.get_by_test_id("copy-secret")).to_be_visible()
    walk.collect()

    assert walk.violations == []
    assert len(walk.visited) > 40


def test_the_admin_runs_under_the_policy_with_no_violation(page, live_server, sms_delivery_inline, owner):
    from accounts.models import User

    account = owner.membership.account
    staff = User.objects.create_user(
        "staff@example.com", PASSWORD, is_staff=True, is_superuser=True, phone="+447700900777"
    )
    enrol_sms(staff)
    base = live_server.url
    walk = Walk(page, base)
    browser_sign_in(page, base, staff.email)
    page.get_by_label("Code").fill(latest_sms_code(staff.phone))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(re.compile(r"/$"))

    # Every list and form of the admin, and an object's page (the staff user's own).
    for route in admin_routes():
        if route.name.endswith(("_changelist", "_add", ":index", ":app_list", ":password_change")):
            walk.visit(admin_url(route))
    walk.visit(f"/admin/accounts/user/{staff.pk}/change/")
    walk.visit(f"/admin/accounts/user/{staff.pk}/password/")
    walk.visit(f"/admin/accounts/account/{account.pk}/change/")
    walk.visit(f"/admin/accounts/account/{account.pk}/history/")
    walk.visit(f"/admin/accounts/membership/{owner.membership.pk}/change/")
    walk.visit(f"/admin/contacts/group/{Samples(owner).by_param['group_id']}/delete/")
    assert walk.violations == []
    assert len(walk.visited) > 20


def test_a_portal_page_carries_the_policy_exactly(db):
    response = Client().get("/accounts/login/")
    assert response["Content-Security-Policy"] == EXPECTED_POLICY
    assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY
