"""Sub-users in Chromium: the owner invites a colleague, the invitation e-mail's link sets the
password, and the new user signs in and sees only what its permissions allow."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts.models import Membership, User
from tests.conftest import PASSWORD, wait_for
from tests.members.support import invite_link

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "Invited-Person-77"


def sign_in(page, base_url: str, email: str, password: str) -> None:
    page.goto(base_url + "/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_owner_invites_and_the_new_user_sees_only_what_it_may(page, browser, live_server, owner, tmp_path):
    mail.outbox = []
    sign_in(page, live_server.url, owner.email, PASSWORD)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    page.get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users")).to_be_visible()
    expect(page.get_by_test_id("users-empty")).to_be_visible()
    page.get_by_role("button", name="Invite a user").click()  # a link styled as a button

    page.get_by_label("Email").fill("colleague@example.com")
    expect(page.get_by_label("Send SMS")).to_be_checked()  # the usual starting point
    expect(page.get_by_label("View messages")).to_be_checked()
    expect(page.get_by_label("Manage API keys")).not_to_be_checked()
    page.get_by_label("Monthly limit (points)").fill("40")
    page.get_by_role("button", name="Send the invitation").click()

    expect(page.get_by_text("An invitation is on its way to colleague@example.com")).to_be_visible()
    row = page.get_by_test_id("member-row").filter(has_text="colleague@example.com")
    expect(row.get_by_test_id("member-state")).to_have_text("Invited")
    expect(row).to_contain_text("of 40")
    page.screenshot(path=str(tmp_path / "users.png"), full_page=True)  # to look at when it fails

    message = wait_for(lambda: next((m for m in mail.outbox if m.to == ["colleague@example.com"]), None),
                       timeout=15, message="the invitation e-mail")  # fmt: skip
    path, _uid, _token = invite_link(message)

    invitee = browser.new_context().new_page()
    invitee.set_default_timeout(15_000)
    invitee.goto(live_server.url + path)
    expect(invitee).to_have_url(re.compile(r"/accounts/reset/invite-[^/]+/set-password/$"))
    expect(invitee.get_by_role("heading", name="Accept the invitation")).to_be_visible()
    invitee.get_by_label("Password", exact=True).fill("weak")
    invitee.get_by_label("Password again").fill("weak")
    invitee.get_by_role("button", name="Set my password").click()
    expect(invitee.get_by_test_id("field-error").first).to_be_visible()
    invitee.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    invitee.get_by_label("Password again").fill(NEW_PASSWORD)
    invitee.get_by_role("button", name="Set my password").click()
    expect(invitee.get_by_text("Your password is set.")).to_be_visible()
    expect(invitee.get_by_role("heading", name="Sign in")).to_be_visible()

    sign_in(invitee, live_server.url, "colleague@example.com", NEW_PASSWORD)
    expect(invitee.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(invitee.get_by_test_id("signed-in-as")).to_have_text("colleague@example.com")
    nav = invitee.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Send")).to_be_visible()
    expect(nav.get_by_role("link", name="Users")).to_have_count(0)
    expect(nav.get_by_role("link", name="API keys")).to_have_count(0)
    assert invitee.goto(live_server.url + "/accounts/users/").status == 403
    assert invitee.goto(live_server.url + "/api-keys/").status == 403

    # The link was single use.
    invitee.goto(live_server.url + path)
    expect(invitee.get_by_test_id("invitation-invalid")).to_be_visible()

    # The owner sees the colleague active now, and deactivates them: the colleague is signed out.
    page.reload()
    expect(row.get_by_test_id("member-state")).to_have_text("Active")
    row.get_by_role("button", name="Deactivate").click()
    page.get_by_role("button", name="Deactivate").click()
    expect(page.get_by_text("colleague@example.com is deactivated")).to_be_visible()
    invitee.goto(live_server.url + "/")
    expect(invitee.get_by_role("heading", name="Sign in")).to_be_visible()

    user = User.objects.get(email="colleague@example.com")
    assert not user.is_active
    assert Membership.objects.get(user=user).permissions() == {"send_sms", "view_messages"}
