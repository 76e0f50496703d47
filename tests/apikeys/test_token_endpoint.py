"""`POST /auth/token` and `DELETE /auth/token/{id}` exactly as SPEC §5: the 201 body, the ttl
bounds, the subset rule, the reuse rule (with time travel) and revocation."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from apikeys import services
from apikeys.models import AccessToken
from tests import api_support as api

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token"
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
# Mid-window, far from any minute boundary: the rate-limit windows do not matter here anyway.
T0 = datetime(2031, 3, 10, 9, 0, 30, tzinfo=UTC)


def at(moment: datetime):
    return time_machine.travel(moment, tick=False)


@pytest.fixture
def token(owner):
    return api.make_token(owner, scopes=["messages:send", "messages:read", "balance:read"])


@pytest.fixture
def caller(token):
    return api.bearer(token[1])


def test_issue_returns_201_with_the_documented_body(client, caller):
    with at(T0):
        response = api.post_json(client, TOKEN_URL, {"ttl": 900, "scopes": ["messages:send"]}, **caller)
    assert response.status_code == 201, response.content
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert set(body) == {"id", "access_token", "token_type", "expires_at", "scopes"}
    assert uuid.UUID(body["id"])
    assert body["token_type"] == "Bearer"
    assert body["scopes"] == ["messages:send"]
    assert ISO_Z.match(body["expires_at"]), body["expires_at"]
    assert body["expires_at"] == "2031-03-10T09:15:30Z"
    assert body["access_token"].startswith("at_")
    # The access token is not stored anywhere.
    row = AccessToken.objects.get(pk=body["id"])
    assert body["access_token"] not in repr(row.__dict__)


@pytest.mark.parametrize("ttl", [60, 61, 3600, 86399, 86400])
def test_ttl_within_bounds_is_accepted(client, caller, ttl):
    with at(T0):
        body = api.issue_access(client, caller, ttl=ttl)
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert expires - T0 == timedelta(seconds=ttl)


def test_ttl_defaults_to_an_hour_and_scopes_to_all_of_the_callers(client, caller):
    with at(T0):
        response = api.post_json(client, TOKEN_URL, {}, **caller)
    assert response.status_code == 201
    body = response.json()
    assert body["expires_at"] == "2031-03-10T10:00:30Z"
    assert body["scopes"] == ["balance:read", "messages:read", "messages:send"]


@pytest.mark.parametrize("ttl", [59, 0, -1, 86401, 10**9, "an hour", None, 3600.5, [3600]])
def test_ttl_outside_bounds_or_not_a_number_is_400(client, caller, ttl):
    body = api.assert_problem(api.post_json(client, TOKEN_URL, {"ttl": ttl}, **caller), 400, "invalid_request")
    assert "ttl" in body["errors"]


@pytest.mark.parametrize(
    "body", [[], "ttl=60", {"scopes": "messages:send"}, {"scopes": ["nope"]}, {"scopes": []}, {"scopes": None}]
)
def test_malformed_requests_are_400(client, caller, body):
    """An explicit empty list of scopes is refused: it must not turn into every scope."""
    api.assert_problem(api.post_json(client, TOKEN_URL, body, **caller), 400, "invalid_request")
    assert AccessToken.objects.count() == 0


def test_scopes_must_be_a_subset_of_the_callers(client, caller):
    for scopes in (["contacts:read"], ["messages:send", "verify"], api.ALL_SCOPES):
        body = api.assert_problem(
            api.post_json(client, TOKEN_URL, {"scopes": scopes}, **caller), 403, "insufficient_scope"
        )
        assert body["detail"]
    assert AccessToken.objects.count() == 0
    assert api.issue_access(client, caller, scopes=["messages:read", "balance:read"])["scopes"] == [
        "balance:read",
        "messages:read",
    ]


def test_scopes_are_limited_by_the_creators_current_permissions(client, owner):
    sub = api.make_subuser(owner, send_sms=True, view_messages=True, view_billing=False, manage_api_tokens=True)
    _, secret = api.make_token(sub, scopes=["messages:send"])
    api.assert_problem(api.post_json(client, TOKEN_URL, {"scopes": ["balance:read"]}, **api.bearer(secret)), 403)


def test_credentials_issue_access_tokens_too(client, owner):
    credential, secret = api.make_credential(owner, scopes=["balance:read"])
    body = api.issue_access(client, api.basic(credential.key_id, secret), ttl=120)
    assert body["scopes"] == ["balance:read"]
    assert client.get("/api/v1/balance", **api.bearer(body["access_token"])).status_code == 200
    assert AccessToken.objects.get(pk=body["id"]).credential_id == credential.pk


def test_the_same_request_gets_the_same_token_while_more_than_a_24th_of_its_life_is_left(client, caller):
    """A 24 h token is handed out again for 23 h, then a new one is issued."""
    with at(T0):
        first = api.issue_access(client, caller, ttl=86400, scopes=["messages:send"])
    with at(T0 + timedelta(hours=12)):
        assert api.issue_access(client, caller, ttl=86400, scopes=["messages:send"]) == first
    with at(T0 + timedelta(hours=23) - timedelta(seconds=1)):
        assert api.issue_access(client, caller, ttl=86400, scopes=["messages:send"]) == first
    with at(T0 + timedelta(hours=23)):
        second = api.issue_access(client, caller, ttl=86400, scopes=["messages:send"])
    assert second["id"] != first["id"]
    assert second["access_token"] != first["access_token"]
    assert second["expires_at"] == "2031-03-12T08:00:30Z"
    with at(T0 + timedelta(hours=23, minutes=30)):
        # The new one is reused from now on, and the old one still works until it expires.
        assert api.issue_access(client, caller, ttl=86400, scopes=["messages:send"]) == second
        assert client.get("/api/v1/messages", **api.bearer(first["access_token"])).status_code == 403  # scope only
    with at(T0 + timedelta(hours=24)):
        api.assert_problem(client.get("/api/v1/balance", **api.bearer(first["access_token"])), 401)


def test_the_reuse_rule_for_a_one_hour_token(client, caller):
    """1/24 of an hour is 150 s."""
    with at(T0):
        first = api.issue_access(client, caller, ttl=3600)
    with at(T0 + timedelta(seconds=3600 - 151)):
        assert api.issue_access(client, caller, ttl=3600)["id"] == first["id"]
    with at(T0 + timedelta(seconds=3600 - 150)):
        assert api.issue_access(client, caller, ttl=3600)["id"] != first["id"]


def test_different_scopes_ttl_or_caller_get_different_tokens(client, owner, caller):
    with at(T0):
        base = api.issue_access(client, caller, ttl=600, scopes=["messages:send", "messages:read"])
        # The order of the scopes does not matter, nor a repeated one.
        same = api.issue_access(client, caller, ttl=600, scopes=["messages:read", "messages:send", "messages:read"])
        assert same["id"] == base["id"]
        other_scopes = api.issue_access(client, caller, ttl=600, scopes=["messages:send"])
        other_ttl = api.issue_access(client, caller, ttl=601, scopes=["messages:send", "messages:read"])
        _, sibling = api.make_token(owner, scopes=["messages:send", "messages:read"])
        other_caller = api.issue_access(client, api.bearer(sibling), ttl=600, scopes=["messages:send", "messages:read"])
    ids = {base["id"], other_scopes["id"], other_ttl["id"], other_caller["id"]}
    assert len(ids) == 4


def test_a_revoked_token_is_not_handed_out_again(client, caller):
    first = api.issue_access(client, caller, ttl=600)
    assert client.delete(f"{TOKEN_URL}/{first['id']}", **caller).status_code == 204
    second = api.issue_access(client, caller, ttl=600)
    assert second["id"] != first["id"]
    assert client.get("/api/v1/balance", **api.bearer(second["access_token"])).status_code == 200


def test_revocation_works_at_once(client, caller):
    body = api.issue_access(client, caller, ttl=600)
    access = api.bearer(body["access_token"])
    assert client.get("/api/v1/balance", **access).status_code == 200
    response = client.delete(f"{TOKEN_URL}/{body['id']}", **caller)
    assert response.status_code == 204
    assert response.content == b""
    api.assert_problem(client.get("/api/v1/balance", **access), 401, "unauthenticated")
    api.assert_problem(client.get("/api/balance", **access), 401, "unauthenticated")
    assert AccessToken.objects.get(pk=body["id"]).revoked_at is not None
    # Revoking again is harmless.
    assert client.delete(f"{TOKEN_URL}/{body['id']}", **caller).status_code == 204


def test_an_access_token_cannot_issue_or_revoke_access_tokens(client, caller):
    body = api.issue_access(client, caller)
    access = api.bearer(body["access_token"])
    api.assert_problem(api.post_json(client, TOKEN_URL, {"ttl": 600}, **access), 403)
    api.assert_problem(client.delete(f"{TOKEN_URL}/{body['id']}", **access), 403)
    assert AccessToken.objects.count() == 1
    assert client.get("/api/v1/balance", **access).status_code == 200


def test_delete_of_another_callers_token_id_is_404(client, owner, make_account, caller):
    body = api.issue_access(client, caller)
    _, sibling = api.make_token(owner)
    credential, secret = api.make_credential(owner)
    stranger = make_account().memberships.get().user
    _, strangers = api.make_token(stranger)
    for other in (api.bearer(sibling), api.basic(credential.key_id, secret), api.bearer(strangers)):
        api.assert_problem(client.delete(f"{TOKEN_URL}/{body['id']}", **other), 404, "not_found")
    api.assert_problem(client.delete(f"{TOKEN_URL}/{uuid.uuid4()}", **caller), 404, "not_found")
    api.assert_problem(client.delete(f"{TOKEN_URL}/not-a-uuid", **caller), 404, "not_found")
    assert client.get("/api/v1/balance", **api.bearer(body["access_token"])).status_code == 200


def test_a_disabled_or_deleted_parent_ends_its_access_tokens(client, owner, token):
    parent, secret = token
    body = api.issue_access(client, api.bearer(secret))
    services.token_set_disabled(user=owner, token_id=parent.pk, disabled=True)
    api.assert_problem(client.get("/api/v1/balance", **api.bearer(body["access_token"])), 401)
    services.token_set_disabled(user=owner, token_id=parent.pk, disabled=False)
    # Enabled again, the key works; what it handed out before stays revoked (tests/apikeys/test_key_holders.py).
    api.assert_problem(client.get("/api/v1/balance", **api.bearer(body["access_token"])), 401)
    again = api.issue_access(client, api.bearer(secret))
    assert again["id"] != body["id"]
    assert client.get("/api/v1/balance", **api.bearer(again["access_token"])).status_code == 200
    services.token_delete(user=owner, token_id=parent.pk)
    api.assert_problem(client.get("/api/v1/balance", **api.bearer(again["access_token"])), 401)
    assert not AccessToken.objects.filter(pk=again["id"]).exists()
