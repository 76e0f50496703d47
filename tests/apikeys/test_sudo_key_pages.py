"""A new API key or secret needs a recent authentication (sudo mode, security/sudo.py), and the
account's owner is e-mailed for each."""

import re
from urllib.parse import quote

import pytest

from accounts.models import Membership, User
from apikeys import services
from apikeys.models import ApiCredential, ApiToken
from tests.conftest import PASSWORD, past_the_sudo_window, sign_in_with_password

pytestmark = pytest.mark.django_db

REAUTH = "/accounts/security/reauthenticate/"
FORM_NONCE = re.compile(r'name="form_nonce" value="([^"]+)"')
FORM = {"name": "Billing server", "scopes": ["balance:read"], "mode": "live"}


def post_form(client, path: str, data: dict):
    match = FORM_NONCE.search(client.get(path).content.decode())
    return client.post(path, {**data, "form_nonce": match.group(1) if match else "n" * 22})


def credential_of(owner: User) -> ApiCredential:
    return services.credential_create(user=owner, name="ci", scopes=["balance:read"]).obj


CASES = {
    "token creation": (None, "/api-keys/tokens/new/", FORM, lambda o, c: ApiToken.objects.exists()),
    "credential creation": (
        None,
        "/api-keys/credentials/new/",
        FORM,
        lambda o, c: ApiCredential.objects.filter(name="Billing server").exists(),
    ),
    "credential reset": (
        credential_of,
        "/api-keys/credentials/{pk}/reset/",
        {},
        lambda o, c: ApiCredential.objects.get(pk=c.pk).digest != c.digest,
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_a_new_key_or_secret_from_an_old_sign_in_is_sent_to_reauthenticate_then_made(client, owner, case):
    setup, path, data, changed = CASES[case]
    credential = setup(owner) if setup else None
    path = path.format(pk=credential.pk if credential else 0)
    sign_in_with_password(client, owner)
    with past_the_sudo_window():
        for response in (client.get(path), client.post(path, {**data, "form_nonce": "n" * 22})):
            assert response.status_code == 302
            assert response.url == f"{REAUTH}?next={quote(path, safe='')}"
        assert not changed(owner, credential)
        back = client.post(f"{REAUTH}?next={quote(path, safe='')}", {"method": "password", "password": PASSWORD})
        assert (back.status_code, back.url) == (302, path)
        made = post_form(client, path, data)
    assert made.status_code == 200
    assert b'data-testid="secret"' in made.content
    assert changed(owner, credential)


def test_the_owner_is_emailed_for_each_new_key_and_secret(
    client, owner, mailoutbox, email_tasks, django_capture_on_commit_callbacks
):
    manager = User.objects.create_user("keys@example.com", PASSWORD)
    Membership.objects.create(
        user=manager, account=owner.membership.account, role="subuser", manage_api_tokens=True, view_billing=True
    )
    credential = credential_of(owner)
    sign_in_with_password(client, manager)
    with django_capture_on_commit_callbacks(execute=True):
        post_form(client, "/api-keys/tokens/new/", {**FORM, "name": "first"})
        post_form(client, "/api-keys/tokens/new/", {**FORM, "name": "second", "mode": "test"})
        post_form(client, f"/api-keys/credentials/{credential.pk}/reset/", {})
    mails = [mail for mail in mailoutbox if mail.subject.startswith("Security change")]
    assert [mail.to for mail in mails] == [[owner.email]] * 3  # one each, none held back for an hour
    first, second = ApiToken.objects.order_by("id")
    assert mails[0].subject.endswith(f"a new API token “first” ({first.prefix}, scopes: balance:read) was created")
    assert f"test API token “second” ({second.prefix}" in mails[1].subject
    assert mails[2].subject.endswith(f"the secret of the API credential “ci” ({credential.key_id}, scopes: "
                                     "balance:read) was reset")  # fmt: skip
    assert "User: keys@example.com" in mails[0].body
    assert not any(first.prefix + "_" in mail.body or "live_" in mail.body for mail in mails)  # no secret
