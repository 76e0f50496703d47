"""The Verify page (/verify/, `manage_security`): the account's verification SMS text, with
{code}; the change is audited. And the admin's read-only verifications, without the code's digest."""

import pytest
from django.test import Client

from audit.models import AuditEvent
from tests import api_support as api
from tests.conftest import force_login_recent, verified_staff_client
from tests.verify.support import start
from verify.models import Verification, VerifySettings

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, owner):
    force_login_recent(client, owner)  # the key form is a sudo-mode page
    return client


def test_the_page_shows_the_default_then_saves_the_accounts_text(signed_in, owner):
    page = signed_in.get("/verify/")
    assert page.status_code == 200
    assert "Your verification code is {code}" in page.content.decode()
    assert b"csrfmiddlewaretoken" in page.content
    assert b'href="/verify/"' in signed_in.get("/accounts/security/").content  # linked from Security

    response = signed_in.post("/verify/", {"template": "  {code} is your ACME code  "})
    assert response.status_code == 302
    assert VerifySettings.objects.get(account_id=owner.membership.account_id).template == "{code} is your ACME code"
    assert AuditEvent.objects.filter(action="verify.template_changed", actor=owner).count() == 1
    assert "{code} is your ACME code" in signed_in.get("/verify/").content.decode()


def test_a_text_without_the_code_is_refused_on_the_page(signed_in, owner):
    response = signed_in.post("/verify/", {"template": "Welcome to ACME"})
    assert response.status_code == 400
    assert "must contain {code}" in response.content.decode()
    assert not VerifySettings.objects.exists()
    assert not AuditEvent.objects.filter(action="verify.template_changed").exists()


def test_only_members_who_manage_security_reach_the_page(client, owner):
    plain = api.make_subuser(owner, send_sms=True)
    client.force_login(plain)
    assert client.get("/verify/").status_code == 403
    assert client.post("/verify/", {"template": "{code}"}).status_code == 403
    assert b'href="/verify/"' not in client.get("/accounts/security/").content
    manager = api.make_subuser(owner, manage_security=True)
    client.force_login(manager)
    assert client.get("/verify/").status_code == 200


def test_the_form_needs_its_csrf_token(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post("/verify/", {"template": "{code} is yours"}).status_code == 403
    assert not VerifySettings.objects.exists()


def test_staff_see_verifications_read_only_and_never_the_codes_digest(client, owner):
    _, secret = api.make_token(owner, scopes=["verify"])
    assert start(client, api.bearer(secret)).status_code == 201
    verification = Verification.objects.get()
    admin, _ = verified_staff_client()
    listing = admin.get("/admin/verify/verification/")
    assert listing.status_code == 200
    assert verification.to in listing.content.decode()
    for term in (str(verification.pk), verification.to[-6:], "not-a-uuid"):
        assert admin.get("/admin/verify/verification/", {"q": term}).status_code == 200
    assert verification.to in admin.get("/admin/verify/verification/", {"q": str(verification.pk)}).content.decode()
    page = admin.get(f"/admin/verify/verification/{verification.pk}/change/")
    assert page.status_code == 200
    assert verification.code_digest not in page.content.decode()
    assert "code_digest" not in page.content.decode()
    assert b'name="status"' not in page.content  # nothing to edit
    assert admin.get("/admin/verify/verification/add/").status_code == 403
    assert admin.post(f"/admin/verify/verification/{verification.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Verification.objects.filter(pk=verification.pk).exists()


def test_the_labels_name_what_manage_security_and_the_verify_scope_give(signed_in):
    """The invitation's permission and the key form's scope say what they open: the Verify page
    (above, gated by manage_security) and the Verify API (a charged SMS per code)."""
    invite = signed_in.get("/accounts/users/invite/").content.decode()
    assert "Manage security (IP lists, policies, webhooks, the verification SMS)" in invite
    key_form = signed_in.get("/api-keys/tokens/new/").content.decode()
    assert "verify: Send verification codes by SMS (charged like any message) and check them" in key_form
