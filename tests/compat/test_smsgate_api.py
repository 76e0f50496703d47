"""The SMSGate-compatible API at /3rdparty/v1 (shared/COMPAT.md §A), through Django's test client:
shapes, status codes and the rules it shares with /api/v1. The real client library drives it in
test_smsgate_client.py."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from accounts.models import Account
from apikeys.models import AccessToken
from messaging.models import IdempotencyRecord, LedgerEntry, Message, MessageEvent, PriceRule
from tests import api_support as api
from tests.compat.support import BASE, assert_smsgate_error, smsgate_send
from tests.conftest import run_concurrently

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def priced():
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})


@pytest.fixture
def key(owner):
    credential, secret = api.make_credential(owner)
    return api.basic(credential.key_id, secret)


def balance(owner) -> Decimal:
    return Account.objects.get(pk=owner.membership.account_id).balance


# --- Access tokens ----------------------------------------------------------------------------------


def test_a_token_answer_carries_both_spellings_and_works_as_a_bearer_token(client, key):
    response = api.post_json(client, f"{BASE}/auth/token", {"scopes": ["messages:send", "messages:list"]}, **key)
    assert response.status_code == 201, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["access_token"] == body["accessToken"]
    assert body["token_type"] == body["tokenType"] == "Bearer"
    assert body["expires_at"] == body["expiresAt"]
    assert body["scopes"] == ["messages:read", "messages:send"]  # SMSGate's names, aliased to ours
    assert not {"refresh_token", "refreshToken"} & set(body)
    access = AccessToken.objects.get(pk=body["id"])
    assert access.ttl == 3600
    assert client.get(f"{BASE}/messages", **api.bearer(body["accessToken"])).status_code == 200


def test_a_token_is_issued_by_the_same_service_as_api_v1_and_reused_alike(client, key):
    first = api.post_json(client, f"{BASE}/auth/token", {"scopes": ["messages:send"], "ttl": 0}, **key).json()
    again = api.issue_access(client, key, scopes=["messages:send"], ttl=3600)
    assert again["id"] == first["id"]
    assert again["access_token"] == first["accessToken"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scopes": ["devices:list"]}, "scopes"),
        ({"scopes": []}, "scopes"),
        ({}, "scopes"),
        ({"scopes": ["messages:send"], "ttl": 59}, "ttl"),
        ({"scopes": ["messages:send"], "ttl": 86401}, "ttl"),
        ({"scopes": ["messages:send"], "ttl": "60"}, "ttl"),
        ({"scopes": ["messages:send"], "ttl": True}, "ttl"),
        ({"scopes": ["messages:send"], "ttl": False}, "ttl"),
    ],
)
def test_a_bad_token_request_is_a_400_naming_the_field(client, key, body, field):
    error = assert_smsgate_error(api.post_json(client, f"{BASE}/auth/token", body, **key), 400, "invalid_request")
    assert list(error["data"]["errors"]) == [field]
    if body.get("scopes") == ["devices:list"]:
        assert "devices:list" in error["message"]


def test_a_token_beyond_the_callers_scopes_or_minted_by_an_access_token_is_forbidden(client, owner):
    _, narrow = api.make_token(owner, scopes=["messages:read"])
    response = api.post_json(client, f"{BASE}/auth/token", {"scopes": ["messages:send"]}, **api.bearer(narrow))
    assert_smsgate_error(response, 403, "insufficient_scope")
    access = api.issue_access(client, api.bearer(narrow))["access_token"]
    response = api.post_json(client, f"{BASE}/auth/token", {"scopes": ["messages:read"]}, **api.bearer(access))
    assert_smsgate_error(response, 403, "forbidden")


def test_a_revoked_token_stops_working_and_only_its_issuer_may_revoke_it(client, owner, key):
    token = api.post_json(client, f"{BASE}/auth/token", {"scopes": ["messages:read"]}, **key).json()
    _, other = api.make_token(owner)
    assert_smsgate_error(client.delete(f"{BASE}/auth/token/{token['id']}", **api.bearer(other)), 404, "not_found")
    response = client.delete(f"{BASE}/auth/token/{token['id']}", content_type="application/json", **key)
    assert response.status_code == 204
    assert response.content == b""
    assert_smsgate_error(client.get(f"{BASE}/messages", **api.bearer(token["accessToken"])), 401, "unauthenticated")


def test_refreshing_a_token_is_not_supported(client, key):
    response = api.post_json(client, f"{BASE}/auth/token/refresh", {"refresh_token": "x"}, **key)
    assert_smsgate_error(response, 501, "not_supported")


# --- Sending ----------------------------------------------------------------------------------------


def test_a_send_answers_202_with_the_message_state_and_its_location(client, owner, key):
    response = smsgate_send(client, key, numbers=["447400123457", "+447400123456", "00447400123456"])
    assert response.status_code == 202, response.content
    body = response.json()
    batch = Message.objects.filter(account_id=owner.membership.account_id)
    assert {str(m.batch_id) for m in batch} == {body["id"]}
    assert response["Location"] == f"{BASE}/messages/{body['id']}"
    assert response["Content-Type"] == "application/json"
    assert body["state"] == "Pending"
    assert body["deviceId"] == "sms-portal-gateway-01"
    assert body["isHashed"] is False
    assert body["isEncrypted"] is False
    # The duplicate (another spelling of the same number) is sent once; recipients by number.
    assert body["recipients"] == [
        {"phoneNumber": "+447400123456", "state": "Pending"},
        {"phoneNumber": "+447400123457", "state": "Pending"},
    ]
    assert set(body["states"]) == {"Pending"}
    assert body["createdAt"].endswith("Z")
    assert balance(owner) == 98
    assert client.get(response["Location"], **key).json() == body


def test_the_deprecated_message_field_is_the_text(client, owner, key):
    response = api.post_json(client, f"{BASE}/messages", {"phoneNumbers": [api.PHONE], "message": "Old style"}, **key)
    assert response.status_code == 202, response.content
    assert Message.objects.get(account_id=owner.membership.account_id).text == "Old style"


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"phoneNumbers": ["12345", "+447400123456"]}, "invalid_recipients", "phoneNumbers"),
        ({"phoneNumbers": []}, "invalid_request", "phoneNumbers"),
        ({"phoneNumbers": "+447400123456"}, "invalid_request", "phoneNumbers"),
        ({"textMessage": {"text": ""}}, "invalid_request", "textMessage.text"),
        ({"textMessage": {"text": "x" * 1601}}, "text_too_long", "textMessage.text"),
        ({"textMessage": None, "dataMessage": {"data": "AAEC", "port": 53739}}, "unsupported_content", "dataMessage"),
        ({"mmsMessage": {"text": "x"}}, "unsupported_content", "mmsMessage"),
        ({"isEncrypted": True}, "unsupported_content", "isEncrypted"),
        ({"deviceId": "my-phone"}, "unknown_device", "deviceId"),
        ({"id": "x" * 37}, "invalid_request", "id"),
        ({"id": "a\x00b"}, "invalid_request", "id"),
        ({"id": "a/b"}, "invalid_request", "id"),
        ({"id": ".."}, "invalid_request", "id"),
        ({"id": "line\nbreak"}, "invalid_request", "id"),
        ({"scheduleAt": "tomorrow"}, "invalid_request", "scheduleAt"),
        ({"scheduleAt": "2020-01-01T00:00:00Z"}, "invalid_request", "scheduleAt"),
    ],
)
def test_an_invalid_send_is_a_400_naming_the_smsgate_field_and_sends_nothing(client, owner, key, fields, code, field):
    body = assert_smsgate_error(smsgate_send(client, key, **fields), 400, code)
    assert field in body["data"]["errors"], body
    assert not Message.objects.exists()
    assert balance(owner) == 100


def test_an_invalid_number_is_named(client, key):
    body = assert_smsgate_error(smsgate_send(client, key, numbers=["12345", api.PHONE]), 400, "invalid_recipients")
    assert body["data"]["errors"] == {"phoneNumbers": ["Invalid number: 12345"]}
    assert "12345" in body["message"]


def test_a_body_that_is_not_json_is_a_400(client, key):
    form = "application/x-www-form-urlencoded"
    response = client.post(f"{BASE}/messages", "phoneNumbers=1", content_type=form, **key)
    assert_smsgate_error(response, 400, "unsupported_media_type")
    assert_smsgate_error(client.post(f"{BASE}/messages", "[1,", content_type="application/json", **key), 400)


def test_what_smsgate_devices_need_and_we_do_not_is_accepted_and_ignored(client, key):
    fields = {"simNumber": 2, "priority": 100, "ttl": 3600, "deviceId": "sms-portal-gateway-01", "unknown": 1}
    response = api.post_json(
        client,
        f"{BASE}/messages?skipPhoneValidation=true&deviceActiveWithin=12",
        {"phoneNumbers": [api.PHONE], "textMessage": {"text": "Hi"}, **fields},
        **key,
    )
    assert response.status_code == 202, response.content


def test_a_scheduled_send_is_pending_until_its_time(client, owner, key):
    at = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)
    response = smsgate_send(client, key, scheduleAt=at.isoformat())
    assert response.status_code == 202, response.content
    message = Message.objects.get(account_id=owner.membership.account_id)
    assert message.status == "scheduled"
    assert message.scheduled_at == at


def test_no_credit_is_a_402(client, make_account):
    poor = make_account(credit=0).memberships.get().user
    credential, secret = api.make_credential(poor)
    body = assert_smsgate_error(smsgate_send(client, api.basic(credential.key_id, secret)), 402, "insufficient_credit")
    assert body["message"]


def test_a_wrong_secret_or_no_key_is_a_401(client, owner):
    credential, _ = api.make_credential(owner)
    assert_smsgate_error(smsgate_send(client, api.basic(credential.key_id, "wrong")), 401, "unauthenticated")
    assert_smsgate_error(smsgate_send(client, {}), 401, "unauthenticated")


def test_a_key_without_the_scope_is_a_403_naming_it(client, owner):
    _, read_only = api.make_token(owner, scopes=["messages:read"])
    body = assert_smsgate_error(smsgate_send(client, api.bearer(read_only)), 403, "insufficient_scope")
    assert "`messages:send`" in body["message"]


def test_a_test_key_sends_in_test_mode_charging_nothing(client, owner):
    _, secret = api.make_token(owner, is_test=True)
    response = smsgate_send(client, api.bearer(secret), numbers=["+15005550001"])
    assert response.status_code == 202, response.content
    message = Message.objects.get(account_id=owner.membership.account_id)
    assert message.is_test
    assert balance(owner) == 100
    assert not LedgerEntry.objects.filter(kind="debit").exists()
    # Test and live never mix: a live key does not see it.
    _, live = api.make_token(owner)
    assert_smsgate_error(client.get(f"{BASE}/messages/{response.json()['id']}", **api.bearer(live)), 404)


# --- Client-chosen ids ---------------------------------------------------------------------------


def test_a_client_chosen_id_names_the_message_and_its_reuse_is_a_409(client, owner, key):
    response = smsgate_send(client, key, id="order-42")
    assert response.status_code == 202, response.content
    assert response.json()["id"] == "order-42"
    assert response["Location"] == f"{BASE}/messages/order-42"
    assert Message.objects.get().reference == "order-42"
    assert client.get(f"{BASE}/messages/order-42", **key).json()["id"] == "order-42"
    # The same request again, another text, or another key of the account: never a replay.
    _, other_key = api.make_token(owner)
    for headers, text in ((key, "Hello"), (key, "Another"), (api.bearer(other_key), "Hello")):
        body = assert_smsgate_error(smsgate_send(client, headers, text=text, id="order-42"), 409, "duplicate_id")
        assert "already exists" in body["message"]
    assert Message.objects.count() == 1
    assert balance(owner) == 99


def test_a_client_id_is_the_accounts_own(client, owner, key, make_account):
    other = make_account(credit=10).memberships.get().user
    credential, secret = api.make_credential(other)
    assert smsgate_send(client, key, id="shared-id").status_code == 202
    assert smsgate_send(client, api.basic(credential.key_id, secret), id="shared-id").status_code == 202
    assert client.get(f"{BASE}/messages/shared-id", **key).json()["recipients"][0]["phoneNumber"] == api.PHONE


def test_a_client_id_is_still_taken_after_its_idempotency_record_is_gone(client, key):
    assert smsgate_send(client, key, id="old-id").status_code == 202
    IdempotencyRecord.objects.all().delete()  # purged after 24 hours
    assert_smsgate_error(smsgate_send(client, key, id="old-id"), 409, "duplicate_id")


# --- Reading ----------------------------------------------------------------------------------------


def set_statuses(batch_id: str, *statuses: str, error_code: str = "") -> list[Message]:
    messages = list(Message.objects.filter(batch_id=batch_id).order_by("id"))
    now = timezone.now()
    for message, status in zip(messages, statuses, strict=True):
        message.status = status
        message.sent_at = now if status in ("sent", "delivered", "undelivered") else None
        message.delivered_at = now if status == "delivered" else None
        message.error_code = error_code if status in ("failed", "undelivered") else ""
        message.save()
        MessageEvent.objects.create(message=message, status=status, created_at=now)
    return messages


@pytest.mark.parametrize(
    ("statuses", "state", "times"),
    [
        (("queued", "delivered"), "Pending", {"Pending"}),
        (("sending", "delivered"), "Processed", {"Pending"}),
        (("sent", "delivered"), "Sent", {"Pending", "Sent"}),
        (("delivered", "delivered"), "Delivered", {"Pending", "Sent", "Delivered"}),
        (("undelivered", "delivered"), "Failed", {"Pending", "Sent", "Failed"}),
        (("canceled", "delivered"), "Delivered", {"Pending", "Sent", "Delivered"}),
        (("canceled", "canceled"), "Cancelled", {"Pending", "Cancelled"}),
    ],
)
def test_a_batchs_state_follows_its_recipients(client, key, statuses, state, times):
    sent = smsgate_send(client, key, numbers=["+447400123456", "+447400123457"]).json()
    set_statuses(sent["id"], *statuses, error_code="undelivered_by_carrier")
    body = client.get(f"{BASE}/messages/{sent['id']}", **key).json()
    assert body["state"] == state
    assert set(body["states"]) == times
    assert all(value.endswith("Z") for value in body["states"].values())
    failed = [r for r in body["recipients"] if r["state"] == "Failed"]
    assert [r.get("error") for r in failed] == (["undelivered_by_carrier"] if state == "Failed" else [])
    listed = client.get(f"{BASE}/messages", {"state": state}, **key)
    assert [item["id"] for item in listed.json()] == [sent["id"]]


def test_another_accounts_message_or_an_unknown_id_is_a_404(client, key, make_account):
    other = make_account(credit=10).memberships.get().user
    credential, secret = api.make_credential(other)
    theirs = smsgate_send(client, api.basic(credential.key_id, secret), id="their-id").json()["id"]
    their_batch = str(Message.objects.get(reference="their-id").batch_id)
    for ident in (theirs, their_batch, "00000000-0000-0000-0000-000000000000", "x" * 37):
        assert_smsgate_error(client.get(f"{BASE}/messages/{ident}", **key), 404, "not_found")
        assert_smsgate_error(client.delete(f"{BASE}/messages/{ident}", **key), 404, "not_found")


def test_the_list_is_an_array_of_batches_with_the_total_in_a_header(client, key):
    ids = [smsgate_send(client, key, text=f"Hello {n}").json()["id"] for n in range(3)]
    response = client.get(f"{BASE}/messages", {"limit": 2}, **key)
    assert response.status_code == 200
    assert response["X-Total-Count"] == "3"
    assert [item["id"] for item in response.json()] == ids[::-1][:2]  # newest first
    oldest_first = client.get(f"{BASE}/messages", {"sort": "created_at", "offset": 1}, **key).json()
    assert [item["id"] for item in oldest_first] == ids[1:]
    assert client.get(f"{BASE}/messages", {"deviceId": "another"}, **key).json() == []
    future = (timezone.now() + timedelta(days=1)).isoformat()
    assert client.get(f"{BASE}/messages", {"from": future}, **key)["X-Total-Count"] == "0"


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 101}, {"limit": "x"}, {"offset": -1}, {"state": "Lost"}, {"sort": "id"}, {"to": "now"}],
)
def test_a_bad_list_query_is_a_400_naming_it(client, key, params):
    body = assert_smsgate_error(client.get(f"{BASE}/messages", params, **key), 400, "invalid_request")
    assert list(body["data"]["errors"]) == list(params)


def test_cancelling_a_scheduled_message_refunds_it_and_a_second_cancel_is_a_409(client, owner, key):
    at = (timezone.now() + timedelta(hours=1)).isoformat()
    sent = smsgate_send(client, key, numbers=["+447400123456", "+447400123457"], scheduleAt=at, id="later").json()
    assert balance(owner) == 98
    response = client.delete(f"{BASE}/messages/later", content_type="application/json", **key)
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "Cancelled"
    assert set(response.json()["states"]) == {"Pending", "Cancelled"}
    assert balance(owner) == 100
    assert_smsgate_error(client.delete(f"{BASE}/messages/{sent['id']}", **key), 409, "not_cancelable")


# --- The rest of the surface ----------------------------------------------------------------------


@pytest.fixture
def fresh_health(monkeypatch):
    """No readiness answer of an earlier test reused."""
    from core import health

    monkeypatch.setattr(health, "_recent", None)


def test_health_runs_the_readiness_checks_without_a_key(client, fresh_health):
    for path in ("health", "health/ready", "health/startup"):
        body = client.get(f"{BASE}/{path}").json()
        assert body["status"] == "pass"
        assert set(body["checks"]) == {"database", "cache", "broker"}
        assert body["version"]
    live = client.get(f"{BASE}/health/live")
    assert live.json() == {"status": "pass", "version": live.json()["version"], "checks": {}}


def test_health_answers_503_naming_the_failing_check(client, fresh_health):
    from portal.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get(f"{BASE}/health")
    finally:
        app.conf.broker_url = original
    assert response.status_code == 503
    assert response.json()["status"] == "fail"
    assert response.json()["checks"]["broker"]["status"] == "fail"
    assert "127.0.0.1" not in response.content.decode()


def test_public_health_runs_the_checks_at_most_once_a_second_while_readyz_stays_live(client, fresh_health):
    from portal.celery import app

    assert client.get(f"{BASE}/health").status_code == 200
    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        again = client.get(f"{BASE}/health")  # within the second: the last round's answer
        readyz = client.get("/readyz")
    finally:
        app.conf.broker_url = original
    assert again.status_code == 200
    assert readyz.status_code == 503


def test_the_one_device_is_listed(client, key):
    devices = client.get(f"{BASE}/devices", **key).json()
    assert [device["id"] for device in devices] == ["sms-portal-gateway-01"]
    assert devices[0]["lastSeen"].endswith("Z")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "webhooks"),
        ("post", "webhooks"),
        ("delete", "webhooks/abc"),
        ("get", "settings"),
        ("patch", "settings"),
        ("get", "logs"),
        ("get", "inbox"),
        ("post", "inbox/refresh"),
        ("post", "messages/inbox/export"),
        ("delete", "devices/sms-portal-gateway-01"),
    ],
)
def test_what_this_service_does_not_offer_is_a_501(client, key, method, path):
    response = getattr(client, method)(f"{BASE}/{path}", content_type="application/json", **key)
    assert_smsgate_error(response, 501, "not_supported")


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
@pytest.mark.parametrize(
    "path",
    ["/3rdparty", "/3rdparty/", "/3rdparty/v1", "/3rdparty/v1/", "/3rdparty/v2/messages", "/3rdparty/v1/nothing",
     "/3rdparty/v1/messages/a/b", "/3rdparty/sms.do%0A", "/3rdparty/v1/messages%0A", "/3rdparty/v1/%FF"],
)  # fmt: skip
def test_an_unknown_path_is_a_404_in_smsgate_shape_never_html(path, debug):
    with override_settings(DEBUG=debug):
        for method in ("get", "post", "delete"):
            response = getattr(Client(), method)(path)
            assert_smsgate_error(response, 404, "not_found")


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_with_one_client_id_from_different_keys_send_once(make_account):
    owner = make_account(credit=100).memberships.get().user
    keys = [api.bearer(api.make_token(owner)[1]) for _ in range(4)]
    keys += [api.basic(credential.key_id, secret) for credential, secret in (api.make_credential(owner),) * 4]
    answers = run_concurrently(
        *(lambda headers=headers: smsgate_send(Client(), headers, id="once").status_code for headers in keys)
    )
    assert sorted(answers) == [202] + [409] * 7
    assert Message.objects.filter(reference="once").count() == 1
    assert balance(owner) == 99


def test_rate_limited_requests_get_a_429_with_retry_after(client, owner):
    Account.objects.filter(pk=owner.membership.account_id).update(api_token_rate_limit_per_minute=1)
    headers = api.bearer(api.make_token(owner)[1])
    assert client.get(f"{BASE}/messages", **headers).status_code == 200
    refused = client.get(f"{BASE}/messages", **headers)
    assert_smsgate_error(refused, 429, "rate_limited")
    assert int(refused["Retry-After"]) > 0
    assert refused["RateLimit-Remaining"] == "0"


@pytest.mark.urls("tests.core.problem_urls")
def test_a_bug_under_3rdparty_is_a_500_in_smsgate_shape(client):
    client.raise_request_exception = False
    body = assert_smsgate_error(client.get("/3rdparty/test/broken"), 500, "server_error")
    assert "a bug" not in body["message"]


def test_too_many_recipients_is_a_413(client, key, settings):
    settings.SMS_MAX_RECIPIENTS = 3
    numbers = [f"+4474001{i:05d}" for i in range(4)]
    assert_smsgate_error(smsgate_send(client, key, numbers=numbers), 413, "too_many_recipients")


def test_a_sub_user_without_view_messages_cancels_only_its_own_batches(client, owner, key):
    sub = api.make_subuser(owner, view_messages=False, manage_api_tokens=True)
    sub_key = api.bearer(api.make_token(sub, scopes=["messages:send"])[1])
    at = (timezone.now() + timedelta(hours=1)).isoformat()
    smsgate_send(client, key, id="owners", scheduleAt=at)
    assert smsgate_send(client, sub_key, id="mine", scheduleAt=at).status_code == 202
    assert_smsgate_error(client.delete(f"{BASE}/messages/owners", **sub_key), 404, "not_found")
    assert client.delete(f"{BASE}/messages/mine", **sub_key).json()["state"] == "Cancelled"
    assert client.get(f"{BASE}/messages/owners", **key).json()["state"] == "Pending"
