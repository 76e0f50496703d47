import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_dashboard_and_sign_out(page, live_server, owner):
    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    page.get_by_label("Email").fill(owner.email.upper())  # the login is case-insensitive
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_test_id("signed-in-as")).to_have_text(owner.email)
    expect(page.get_by_test_id("balance")).to_contain_text("100")
    expect(page.get_by_text("No messages yet")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def test_wrong_password_shows_a_form_error(page, live_server, owner):
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill("Wrong-password-1")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_test_id("form-error")).to_contain_text("The email or password is not right")
    expect(page.get_by_label("Email")).to_have_value(owner.email)
    expect(page.get_by_role("heading", name="Dashboard")).to_have_count(0)


def test_unknown_email_gets_the_same_error_as_a_wrong_password(page, live_server, db):
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email").fill("nobody@example.com")
    page.get_by_label("Password").fill("Wrong-password-1")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("The email or password is not right")
