"""Deactivating a member ends its sessions and stops its API keys; reactivating restores sign-in;
a removed permission shrinks its keys' scopes on the next request."""

import pytest

from accounts.models import User
from apikeys import services as key_services
from audit.models import AuditEvent
from core import localcache
from core.errors import ApplicationError
from members.services import (
    subuser_deactivate,
    subuser_reactivate,
)
from security.models import UserSession
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
    response = client.get("/api/v1/balance", **headers)
    assert response.status_code == 403
    assert response.json()["code"] == "user_inactive"
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
