"""The security page is long: saving one of its lower sections brings the browser back to that
section, and the confirmation is shown there, in view, not at the top of the page (issue #15,
problem 5)."""

import pytest
from playwright.sync_api import expect

from tests.page_support import browser_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_saving_a_section_lower_down_shows_its_confirmation_in_view(page, live_server, owner):
    base = live_server.url
    page.set_viewport_size({"width": 1280, "height": 720})
    browser_sign_in(page, base, owner.email)
    page.wait_for_url(base + "/")
    page.goto(base + "/accounts/security/")

    page.locator("#policy").get_by_role("button", name="Save policy").click()
    page.wait_for_url(base + "/accounts/security/#policy")
    saved = page.locator("#policy").get_by_test_id("section-message")
    expect(saved).to_have_text("The account's security policy is saved.")
    expect(saved).to_be_in_viewport()
    assert page.evaluate("window.scrollY") > 0  # the page did move down to the section

    # On a phone, the last section (the API allowlist's form is the page's last).
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#allowlist form").last.get_by_role("button").click()
    page.wait_for_url(base + "/accounts/security/#allowlist")
    saved = page.locator("#allowlist").get_by_test_id("section-message")
    expect(saved).to_contain_text("allowlist is saved")
    expect(saved).to_be_in_viewport()
    # Shown once: not also at the top of the page.
    expect(page.get_by_text("allowlist is saved")).to_have_count(1)


def test_a_refusal_in_a_section_is_shown_in_view_too(page, live_server, owner):
    from security.models import KnownDevice

    device = KnownDevice.objects.create(user=owner, device_hash="1" * 64, user_agent="Old browser")
    base = live_server.url
    browser_sign_in(page, base, owner.email)
    page.wait_for_url(base + "/")
    page.goto(base + "/accounts/security/")
    forget = page.locator(f'#devices form[action$="/devices/{device.pk}/forget/"]')
    device.delete()  # gone before the click: the page says so, in the section
    forget.get_by_role("button", name="Forget").click()
    page.wait_for_url(base + "/accounts/security/#devices")
    refused = page.locator("#devices").get_by_test_id("section-message")
    expect(refused).to_be_in_viewport()
    expect(refused).to_have_attribute("role", "alert")
