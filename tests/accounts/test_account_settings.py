"""The Account settings page (/settings/): the owner sets the account's default country, audited;
nobody else may."""

import pytest

from accounts.models import Account
from audit.models import AuditEvent
from tests.api_support import ALL_PERMISSIONS, make_subuser

pytestmark = pytest.mark.django_db


def test_the_owner_sets_the_default_country_and_the_change_is_audited(client, owner):
    client.force_login(owner)
    page = client.get("/settings/").content.decode()
    assert '<option value="GB">United Kingdom (GB)</option>' in page
    response = client.post("/settings/", {"default_country": "GB"})
    assert response.status_code == 302
    account = Account.objects.get(pk=owner.membership.account_id)
    assert account.default_country == "GB"
    event = AuditEvent.objects.get(action="account.settings_changed")
    assert (event.actor_id, event.data) == (owner.pk, {"default_country": ["", "GB"]})
    assert "The account settings are saved." in client.get("/settings/").content.decode()

    client.post("/settings/", {"default_country": "GB"})  # unchanged: no second event
    assert AuditEvent.objects.filter(action="account.settings_changed").count() == 1
    client.post("/settings/", {"default_country": ""})
    assert Account.objects.get(pk=account.pk).default_country == ""


def test_an_unknown_country_is_a_form_error(client, owner):
    client.force_login(owner)
    response = client.post("/settings/", {"default_country": "UK"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert Account.objects.get(pk=owner.membership.account_id).default_country == ""


def test_only_the_owner_may_open_the_settings(client, owner):
    member = make_subuser(owner, **ALL_PERMISSIONS)
    client.force_login(member)
    assert client.get("/settings/").status_code == 403
    assert client.post("/settings/", {"default_country": "GB"}).status_code == 403
    assert Account.objects.get(pk=owner.membership.account_id).default_country == ""
    assert "/settings/" not in client.get("/accounts/security/").content.decode()


def test_the_security_page_links_to_the_settings_for_the_owner(client, owner):
    client.force_login(owner)
    assert 'href="/settings/"' in client.get("/accounts/security/").content.decode()
