"""Deactivating a member ends its sessions and disables its API keys for good; reactivating
restores sign-in only; a removed permission shrinks its keys' scopes on the next request."""

import re

import pytest
from django.contrib import admin
from django.test import Client, RequestFactory

from accounts.models import User
from apikeys import services as key_services
from apikeys.models import AccessToken, ApiCredential, ApiToken
from audit.models import AuditEvent
from core import localcache
from core.errors import ApplicationError
from members.services import (
    subuser_deactivate,
    subuser_reactivate,
)
from security.models import UserSession
from tests import api_support as api
from tests.conftest import PASSWORD
from tests.members.support import make_member, membership_id, update

pytestmark = pytest.mark.django_db


def test_deactivation_ends_sessions_and_stops_api_keys_then_reactivation_restores_sign_in(client, owner):
    member = make_member(owner, "member@example.com", manage_api_tokens=True, view_billing=True)
    secret = key_services.token_create(user=member, name="Shop", scopes=["balance:read"]).secret
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert client.get("/api/v1/balance", **headers).status_code == 200
    client.force_login(member)
    assert client.get("/").status_code == 200
    assert UserSession.objects.filter(user=member).exists()

    subuser_deactivate(actor=owner, membership_id=membership_id(member))
    assert not User.objects.get(pk=member.pk).is_active
    assert not UserSession.objects.filter(user=member).exists()
    assert client.get("/").status_code == 302  # signed out
    client.logout()
    api.assert_problem(client.get("/api/v1/balance", **headers), 401, "unauthenticated")  # the key is disabled
    assert AuditEvent.objects.filter(action="user.deactivated", object_id=str(member.pk)).count() == 1

    with pytest.raises(ApplicationError) as excinfo:
        subuser_deactivate(actor=owner, membership_id=membership_id(member))
    assert excinfo.value.code == "not_active"

    subuser_reactivate(actor=owner, membership_id=membership_id(member))
    assert User.objects.get(pk=member.pk).is_active
    assert client.post("/accounts/login/", {"username": member.email, "password": PASSWORD}).status_code == 302
    assert AuditEvent.objects.filter(action="user.reactivated", object_id=str(member.pk)).count() == 1


def test_deactivating_a_pending_invitation_is_refused(owner, invited):
    with pytest.raises(ApplicationError) as excinfo:
        subuser_deactivate(actor=owner, membership_id=membership_id(invited))
    assert excinfo.value.code == "not_active"


def test_removing_a_permission_shrinks_an_existing_tokens_scopes_on_the_next_request(client, owner, settings):
    settings.API_LOCAL_CACHE_SECONDS = 1  # the production setting: the change must clear it
    localcache.clear()
    member = make_member(owner, "member@example.com", manage_api_tokens=True, view_billing=True, view_messages=True)
    secret = key_services.token_create(user=member, name="Shop", scopes=["balance:read", "messages:read"]).secret
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert client.get("/api/v1/balance", **headers).status_code == 200  # now in this process's cache
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.db.transaction.on_commit", lambda func, *a, **k: func())
        update(owner, member, permissions=["manage_api_tokens", "view_messages"])
    response = client.get("/api/v1/balance", **headers)
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert client.get("/api/v1/messages", **headers).status_code == 200  # the scope still held


def _key_state(page: str, row_id: str) -> str:
    row = re.search(rf'<tr id="{row_id}".*?</tr>', page, re.S)
    assert row, row_id
    return re.search(r'data-testid="(?:token|credential)-state">([^<]+)<', row.group(0)).group(1)


def test_reactivating_a_member_leaves_its_api_keys_disabled_and_its_access_tokens_ended(client, owner):
    member = make_member(owner, "member@example.com", manage_api_tokens=True, view_billing=True)
    token, token_secret = api.make_token(member, scopes=["balance:read"])
    credential, credential_secret = api.make_credential(member, scopes=["balance:read"])
    access = api.issue_access(client, api.bearer(token_secret))["access_token"]
    callers = {
        "token": api.bearer(token_secret),
        "credential": api.basic(credential.key_id, credential_secret),
        "access token": api.bearer(access),
    }
    for headers in callers.values():
        assert client.get("/api/v1/balance", **headers).status_code == 200

    subuser_deactivate(actor=owner, membership_id=membership_id(member))
    subuser_reactivate(actor=owner, membership_id=membership_id(member))

    for name, headers in callers.items():
        response = client.get("/api/v1/balance", **headers)
        assert response.status_code == 401, name
        api.assert_problem(response, 401, "unauthenticated")
    assert ApiToken.objects.get(pk=token.pk).disabled
    assert ApiCredential.objects.get(pk=credential.pk).disabled
    assert not AccessToken.objects.filter(api_token=token, revoked_at__isnull=True).exists()
    event = AuditEvent.objects.get(action="user.deactivated", object_id=str(member.pk))
    assert (event.actor, event.account) == (owner, owner.membership.account)
    assert event.data == {
        "api_tokens_disabled": [token.prefix],
        "api_credentials_disabled": [credential.key_id],
        "access_tokens_ended": 1,
    }
    assert not AuditEvent.objects.filter(action__in=["api_token.enabled", "api_credential.enabled"]).exists()

    portal = Client()
    portal.force_login(owner)
    page = portal.get("/api-keys/").content.decode()
    assert _key_state(page, f"token-{token.pk}") == "Disabled"
    assert _key_state(page, f"credential-{credential.pk}") == "Disabled"


def test_enabling_a_key_after_reactivation_does_not_revive_its_old_access_tokens(client, owner):
    member = make_member(owner, "member@example.com", manage_api_tokens=True, view_billing=True)
    token, secret = api.make_token(member, scopes=["balance:read"])
    access = api.issue_access(client, api.bearer(secret))["access_token"]
    subuser_deactivate(actor=owner, membership_id=membership_id(member))
    subuser_reactivate(actor=owner, membership_id=membership_id(member))
    key_services.token_set_disabled(user=owner, token_id=token.pk, disabled=False)  # the owner's deliberate act
    assert client.get("/api/v1/balance", **api.bearer(secret)).status_code == 200
    api.assert_problem(client.get("/api/v1/balance", **api.bearer(access)), 401, "unauthenticated")


def test_deactivation_leaves_other_members_keys_alone(client, owner):
    member = make_member(owner, "member@example.com", manage_api_tokens=True, view_billing=True)
    _, owners_secret = api.make_token(owner, scopes=["balance:read"])
    api.make_token(member, scopes=["balance:read"])
    subuser_deactivate(actor=owner, membership_id=membership_id(member))
    assert client.get("/api/v1/balance", **api.bearer(owners_secret)).status_code == 200


def test_staff_deactivating_a_user_in_the_admin_disables_its_keys_the_same_way(client, owner):
    member = make_member(owner, "member@example.com", manage_api_tokens=True, view_billing=True)
    token, secret = api.make_token(member, scopes=["balance:read"])
    staff = User.objects.create_superuser(email="staff@example.com", password=PASSWORD)
    request = RequestFactory().post("/admin/")
    request.user = staff
    member.is_active = False
    form = type("Form", (), {"changed_data": ["is_active"]})()
    admin.site.get_model_admin(User).save_model(request, member, form, change=True)
    User.objects.filter(pk=member.pk).update(is_active=True)  # staff tick "active" again
    api.assert_problem(client.get("/api/v1/balance", **api.bearer(secret)), 401, "unauthenticated")
    assert ApiToken.objects.get(pk=token.pk).disabled
    event = AuditEvent.objects.get(action="user.deactivated", object_id=str(member.pk))
    assert (event.actor, event.data["api_tokens_disabled"]) == (staff, [token.prefix])


def test_a_deactivated_user_cannot_make_an_api_key(owner):
    member = make_member(owner, "member@example.com", manage_api_tokens=True, view_billing=True)
    stale = User.objects.select_related("membership__account").get(pk=member.pk)  # read before the deactivation
    subuser_deactivate(actor=owner, membership_id=membership_id(member))
    with pytest.raises(ApplicationError) as excinfo:  # (a request that authenticated a moment before)
        key_services.token_create(user=stale, name="late", scopes=["balance:read"])
    assert excinfo.value.code == "user_inactive"
    assert not ApiToken.objects.filter(created_by=member).exists()
