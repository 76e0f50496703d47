"""Every API endpoint by every way authentication can fail (SPEC §5).

Each failure answers 401 (with `WWW-Authenticate`) or 403 as an RFC 9457 problem document. For the
failures that follow a change (disable, expiry, delete, revoke, reset, suspension, deactivation),
the same key is first used successfully on the same endpoint, then the change is made, and the very
next request must fail: nothing may be cached in between.
"""

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.models import Account
from apikeys import services
from apikeys.models import AccessToken
from members.services import user_deactivate
from messaging.models import Message
from messaging.services import message_submit
from tests import api_support as api

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    "POST /auth/token": ("post", "/api/v1/auth/token", {"ttl": 600}),
    "DELETE /auth/token/{id}": ("delete", "/api/v1/auth/token/{access_id}", None),
    "POST /messages": ("post", "/api/v1/messages", {"to": api.PHONE, "text": "Hello"}),
    "GET /messages": ("get", "/api/v1/messages", None),
    "GET /messages/{id}": ("get", "/api/v1/messages/{message_id}", None),
    "DELETE /messages/{id}": ("delete", "/api/v1/messages/{message_id}", None),
    "GET /balance": ("get", "/api/v1/balance", None),
    "POST /api/messages (alias)": ("post", "/api/messages", {"to": api.PHONE, "text": "Hello"}),
}

# What a key that works must never get back from any endpoint.
AUTH_FAILURE_CODES = {"unauthenticated", "account_suspended", "user_inactive"}


@dataclass
class World:
    client: object
    owner: object
    account: Account
    message_id: str
    access_id: str
    travellers: list = field(default_factory=list)

    def travel(self, delta: timedelta) -> None:
        traveller = time_machine.travel(timezone.now() + delta, tick=True)
        traveller.start()
        self.travellers.append(traveller)


@dataclass
class Case:
    headers: dict
    change: Callable[[], None] | None = None
    status: int = 401
    codes: tuple[str, ...] = ("unauthenticated",)


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """Passwords play no part in API authentication; a cheap hasher keeps this big matrix quick."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(client, make_account):
    account = make_account(credit=1000)
    owner = account.memberships.get().user
    scheduled = message_submit(
        account_id=account.pk,
        user=owner,
        caller=f"user:{owner.pk}",
        to=[api.PHONE],
        text="Later",
        scheduled_at=timezone.now() + timedelta(days=1),
    )
    # An access token of a bystander key, so the DELETE /auth/token/{id} route has a real id.
    _, bystander = api.make_token(owner, name="Bystander")
    access = api.issue_access(client, api.bearer(bystander), ttl=600)
    world = World(client, owner, account, str(scheduled.messages[0].id), access["id"])
    yield world
    for traveller in reversed(world.travellers):
        traveller.stop()


def call(world: World, endpoint: str, headers: dict):
    method, path, body = ENDPOINTS[endpoint]
    url = path.format(message_id=world.message_id, access_id=world.access_id)
    if body is None:
        return getattr(world.client, method)(url, **headers)
    return getattr(world.client, method)(url, body, content_type="application/json", **headers)


def raw(value: str) -> dict:
    return {"HTTP_AUTHORIZATION": value}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --- Scenarios: each builds its key and says how it fails ------------------------------------


def no_header(w: World) -> Case:
    return Case({})


def bearer_without_token(w: World) -> Case:
    return Case(raw("Bearer"))


def bearer_blank(w: World) -> Case:
    return Case(raw("Bearer    "))


def bearer_two_words(w: World) -> Case:
    return Case(raw("Bearer a b"))


def basic_not_base64(w: World) -> Case:
    return Case(raw("Basic !!!"))


def basic_without_colon(w: World) -> Case:
    credential, secret = api.make_credential(w.owner)
    return Case(raw("Basic " + b64(credential.key_id + secret)))


def basic_empty_secret(w: World) -> Case:
    credential, _ = api.make_credential(w.owner)
    return Case(raw("Basic " + b64(credential.key_id + ":")))


def unknown_scheme(w: World) -> Case:
    _, secret = api.make_token(w.owner)
    return Case(raw(f"Token {secret}"))


def unknown_token(w: World) -> Case:
    return Case(api.bearer("live_000000000000_" + "x" * 43))


def token_without_prefix(w: World) -> Case:
    _, secret = api.make_token(w.owner)
    return Case(api.bearer(secret.split("_", 2)[2]))


def unknown_access_token(w: World) -> Case:
    return Case(api.bearer(f"at_{uuid.uuid4().hex}_{'0' * 64}"))


def unknown_credential(w: World) -> Case:
    return Case(api.basic("ak_0000000000000000", "live_" + "x" * 43))


def wrong_secret_for_real_token_prefix(w: World) -> Case:
    token, _ = api.make_token(w.owner)
    return Case(api.bearer(f"live_{token.prefix}_{'A' * 43}"))


def live_token_sent_as_test(w: World) -> Case:
    _, secret = api.make_token(w.owner)
    return Case(api.bearer("test_" + secret.removeprefix("live_")))


def wrong_secret_for_real_credential(w: World) -> Case:
    credential, _ = api.make_credential(w.owner)
    return Case(api.basic(credential.key_id, "live_" + "A" * 43))


def forged_access_token_for_real_id(w: World) -> Case:
    return Case(api.bearer(f"at_{uuid.UUID(w.access_id).hex}_{'f' * 64}"))


def non_ascii_access_token(w: World) -> Case:
    return Case(api.bearer(f"at_{uuid.UUID(w.access_id).hex}_\u00e9"))


def nul_in_token_prefix(w: World) -> Case:
    return Case(api.bearer("live_\x00abc_" + "x" * 43))


def nul_in_credential_key_id(w: World) -> Case:
    return Case(raw("Basic " + b64("ak_\x00:" + "x" * 43)))


def disabled_token(w: World) -> Case:
    token, secret = api.make_token(w.owner)
    return Case(api.bearer(secret), lambda: services.token_set_disabled(user=w.owner, token_id=token.pk, disabled=True))


def disabled_credential(w: World) -> Case:
    credential, secret = api.make_credential(w.owner)
    return Case(
        api.basic(credential.key_id, secret),
        lambda: services.credential_set_disabled(user=w.owner, credential_id=credential.pk, disabled=True),
    )


def expired_token(w: World) -> Case:
    _, secret = api.make_token(w.owner, expires_at=timezone.now() + timedelta(hours=1))
    return Case(api.bearer(secret), lambda: w.travel(timedelta(hours=1, seconds=1)))


def expired_access_token(w: World) -> Case:
    _, secret = api.make_token(w.owner)
    access = api.issue_access(w.client, api.bearer(secret), ttl=60)
    return Case(api.bearer(access["access_token"]), lambda: w.travel(timedelta(seconds=61)))


def deleted_token(w: World) -> Case:
    token, secret = api.make_token(w.owner)
    return Case(api.bearer(secret), lambda: services.token_delete(user=w.owner, token_id=token.pk))


def deleted_credential(w: World) -> Case:
    credential, secret = api.make_credential(w.owner)
    return Case(
        api.basic(credential.key_id, secret),
        lambda: services.credential_delete(user=w.owner, credential_id=credential.pk),
    )


def revoked_access_token(w: World) -> Case:
    _, secret = api.make_token(w.owner)
    access = api.issue_access(w.client, api.bearer(secret))

    def revoke():
        assert w.client.delete(f"/api/v1/auth/token/{access['id']}", **api.bearer(secret)).status_code == 204

    return Case(api.bearer(access["access_token"]), revoke)


def access_token_of_disabled_token(w: World) -> Case:
    token, secret = api.make_token(w.owner)
    access = api.issue_access(w.client, api.bearer(secret))
    return Case(
        api.bearer(access["access_token"]),
        lambda: services.token_set_disabled(user=w.owner, token_id=token.pk, disabled=True),
    )


def access_token_of_deleted_token(w: World) -> Case:
    token, secret = api.make_token(w.owner)
    access = api.issue_access(w.client, api.bearer(secret))
    return Case(api.bearer(access["access_token"]), lambda: services.token_delete(user=w.owner, token_id=token.pk))


def access_token_of_disabled_credential(w: World) -> Case:
    credential, secret = api.make_credential(w.owner)
    access = api.issue_access(w.client, api.basic(credential.key_id, secret))
    return Case(
        api.bearer(access["access_token"]),
        lambda: services.credential_set_disabled(user=w.owner, credential_id=credential.pk, disabled=True),
    )


def access_token_of_expired_token(w: World) -> Case:
    _, secret = api.make_token(w.owner, expires_at=timezone.now() + timedelta(hours=1))
    access = api.issue_access(w.client, api.bearer(secret), ttl=86400)
    return Case(api.bearer(access["access_token"]), lambda: w.travel(timedelta(hours=1, seconds=1)))


def access_token_of_reset_credential(w: World) -> Case:
    credential, secret = api.make_credential(w.owner)
    access = api.issue_access(w.client, api.basic(credential.key_id, secret))
    return Case(
        api.bearer(access["access_token"]),
        lambda: services.credential_reset(user=w.owner, credential_id=credential.pk),
    )


def reset_credential_old_secret(w: World) -> Case:
    credential, secret = api.make_credential(w.owner)
    return Case(
        api.basic(credential.key_id, secret),
        lambda: services.credential_reset(user=w.owner, credential_id=credential.pk),
    )


def _suspend(account: Account) -> Callable[[], None]:
    # Staff suspend an account in the admin: a change of its status.
    return lambda: Account.objects.filter(pk=account.pk).update(status=Account.Status.SUSPENDED)


def suspended_account_token(w: World) -> Case:
    _, secret = api.make_token(w.owner)
    return Case(api.bearer(secret), _suspend(w.account), 403, ("account_suspended",))


def suspended_account_credential(w: World) -> Case:
    credential, secret = api.make_credential(w.owner)
    return Case(api.basic(credential.key_id, secret), _suspend(w.account), 403, ("account_suspended",))


def suspended_account_access_token(w: World) -> Case:
    _, secret = api.make_token(w.owner)
    access = api.issue_access(w.client, api.bearer(secret))
    return Case(api.bearer(access["access_token"]), _suspend(w.account), 403, ("account_suspended",))


def _deactivated(w: World, headers_for) -> Case:
    sub = api.make_subuser(w.owner, **api.ALL_PERMISSIONS)
    headers = headers_for(sub)
    # Deactivation may refuse the key as unauthenticated (disabled) or as forbidden (inactive user).
    return Case(headers, lambda: user_deactivate(user=sub, actor=w.owner), 403, ("user_inactive", "unauthenticated"))


def deactivated_subuser_token(w: World) -> Case:
    return _deactivated(w, lambda sub: api.bearer(api.make_token(sub)[1]))


def deactivated_subuser_credential(w: World) -> Case:
    def headers(sub):
        credential, secret = api.make_credential(sub)
        return api.basic(credential.key_id, secret)

    return _deactivated(w, headers)


def deactivated_subuser_access_token(w: World) -> Case:
    return _deactivated(
        w, lambda sub: api.bearer(api.issue_access(w.client, api.bearer(api.make_token(sub)[1]))["access_token"])
    )


# Refused whatever the state: no change needed, so one test walks every endpoint.
STATIC_SCENARIOS = [
    no_header,
    bearer_without_token,
    bearer_blank,
    bearer_two_words,
    basic_not_base64,
    basic_without_colon,
    basic_empty_secret,
    unknown_scheme,
    unknown_token,
    token_without_prefix,
    unknown_access_token,
    unknown_credential,
    wrong_secret_for_real_token_prefix,
    live_token_sent_as_test,
    wrong_secret_for_real_credential,
    forged_access_token_for_real_id,
    non_ascii_access_token,
    nul_in_token_prefix,
    nul_in_credential_key_id,
]

# A key that worked until something changed: each endpoint gets a fresh key, used once before.
CHANGE_SCENARIOS = [
    disabled_token,
    disabled_credential,
    expired_token,
    expired_access_token,
    deleted_token,
    deleted_credential,
    revoked_access_token,
    access_token_of_disabled_token,
    access_token_of_deleted_token,
    access_token_of_disabled_credential,
    access_token_of_expired_token,
    access_token_of_reset_credential,
    reset_credential_old_secret,
    suspended_account_token,
    suspended_account_credential,
    suspended_account_access_token,
    deactivated_subuser_token,
    deactivated_subuser_credential,
    deactivated_subuser_access_token,
]


def assert_refused(response, case: Case, endpoint: str) -> None:
    status = 401 if case.status == 403 and response.status_code == 401 else case.status
    try:
        body = api.assert_problem(response, status)
        assert body["code"] in case.codes, body
        if status == 401:
            assert response["WWW-Authenticate"] in ('Bearer realm="api"', 'Basic realm="api"')
    except AssertionError as exc:
        raise AssertionError(f"{endpoint}: {exc}") from exc


@pytest.mark.parametrize("scenario", STATIC_SCENARIOS, ids=lambda scenario: scenario.__name__)
def test_every_endpoint_refuses_bad_credentials_with_a_problem(world, scenario):
    case = scenario(world)
    for endpoint in ENDPOINTS:
        assert_refused(call(world, endpoint, case.headers), case, endpoint)


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("scenario", CHANGE_SCENARIOS, ids=lambda scenario: scenario.__name__)
def test_endpoint_refuses_a_key_on_the_first_request_after_it_stops_working(world, endpoint, scenario):
    case = scenario(world)
    before = call(world, endpoint, case.headers)
    assert before.status_code != 401, before.content
    if before["Content-Type"].startswith("application/problem+json"):
        assert before.json()["code"] not in AUTH_FAILURE_CODES, before.content
    case.change()
    assert_refused(call(world, endpoint, case.headers), case, endpoint)


def test_refused_requests_change_nothing(world):
    """A refused DELETE does not cancel the message; a refused send does not charge."""
    token, secret = api.make_token(world.owner)
    services.token_set_disabled(user=world.owner, token_id=token.pk, disabled=True)
    balance = Account.objects.get(pk=world.account.pk).balance
    api.assert_problem(call(world, "DELETE /messages/{id}", api.bearer(secret)), 401)
    api.assert_problem(call(world, "POST /messages", api.bearer(secret)), 401)
    api.assert_problem(call(world, "DELETE /auth/token/{id}", api.bearer(secret)), 401)
    assert Message.objects.get(pk=world.message_id).status == "scheduled"
    assert Message.objects.filter(account=world.account).count() == 1
    assert Account.objects.get(pk=world.account.pk).balance == balance
    assert AccessToken.objects.get(pk=world.access_id).revoked_at is None


def test_a_reenabled_token_works_again_at_once(world):
    token, secret = api.make_token(world.owner)
    services.token_set_disabled(user=world.owner, token_id=token.pk, disabled=True)
    api.assert_problem(world.client.get("/api/v1/balance", **api.bearer(secret)), 401)
    services.token_set_disabled(user=world.owner, token_id=token.pk, disabled=False)
    assert world.client.get("/api/v1/balance", **api.bearer(secret)).status_code == 200


def test_a_reset_credential_works_with_its_new_secret_at_once(world):
    credential, old = api.make_credential(world.owner)
    new = services.credential_reset(user=world.owner, credential_id=credential.pk).secret
    api.assert_problem(world.client.get("/api/v1/balance", **api.basic(credential.key_id, old)), 401)
    assert world.client.get("/api/v1/balance", **api.basic(credential.key_id, new)).status_code == 200


def test_legacy_endpoint_refuses_a_reset_credential_and_a_suspended_account(world):
    credential, old = api.make_credential(world.owner)
    params = {"smsUser": credential.key_id, "smsKey": old, "to": api.PHONE, "message": "Hi"}
    assert world.client.post("/smsapi/send", params).status_code == 200
    new = services.credential_reset(user=world.owner, credential_id=credential.pk).secret
    refused = world.client.post("/smsapi/send", params)
    assert refused.status_code == 401
    assert refused.content.startswith(b"ERROR unauthenticated")
    assert refused["WWW-Authenticate"]
    assert world.client.get("/smsapi/send", {**params, "smsKey": new}).status_code == 200
    nul = world.client.get("/smsapi/send", {**params, "smsUser": "ak_\x00", "smsKey": new})
    assert nul.status_code == 401
    _suspend(world.account)()
    suspended = world.client.get("/smsapi/send", {**params, "smsKey": new, "format": "json"})
    api.assert_problem(suspended, 403, "account_suspended")
