"""Helpers shared by the tests of portal pages: forms with a one-use nonce (the send page; pages
that show a secret once: API keys, webhooks), signing in through the browser, the account's
default country."""

import re

from tests.conftest import PASSWORD

FORM_NONCE = re.compile(r'name="form_nonce" value="([^"]+)"')
SECRET = re.compile(r'data-testid="secret">([^<]+)</code>')


def post_form(client, path, data=None, **extra):
    """POST a form as a browser does: with the one-use nonce of the page that showed it."""
    match = FORM_NONCE.search(client.get(path).content.decode())
    return client.post(path, {**(data or {}), **({"form_nonce": match.group(1)} if match else {})}, **extra)


def shown_secret(response) -> str:
    found = SECRET.findall(response.content.decode())
    assert len(found) == 1, "the secret must be on the page exactly once"
    return found[0]


def browser_sign_in(page, base: str, email: str, password: str = PASSWORD) -> None:
    """The sign-in page's password step in the browser (a second factor, if any, is the caller's)."""
    page.goto(base + "/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def set_default_country(user, code: str) -> None:
    """The user's account's default country (ISO code; "" for none): national numbers in the portal."""
    from accounts.models import Account

    Account.objects.filter(pk=user.membership.account_id).update(default_country=code)
