"""Inputs that once made the API answer 500, and the one-second windows of the
per-process key cache: a clear problem document, never a 500, and no change outlived."""

import base64
import json
from decimal import Decimal

import pytest
import time_machine
from django.test import Client

from apikeys.models import ApiCredential, ApiToken
from apikeys.services import credential_reset
from core import localcache
from messaging.models import PriceRule
from tests.api_support import PHONE, assert_problem, basic, bearer, make_credential, make_token, post_json, send

pytestmark = pytest.mark.django_db

DEEP = "[" * 3000  # deeper than Python's JSON parser can go: a RecursionError, no ValueError


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


@pytest.fixture
def priced(db):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=latin-1"])
def test_a_document_nested_too_deep_is_a_400(client, owner, content_type):
    headers = bearer(make_token(owner)[1])
    for path in ("/api/v1/messages", "/api/v1/auth/token"):
        assert_problem(client.post(path, DEEP, content_type=content_type, **headers), 400, "invalid_request")
    legacy = client.post("/smsapi/send?format=json", DEEP, content_type=content_type)
    assert legacy.status_code in (400, 401)  # the parameters are in the body that cannot be read
    assert legacy.json()["code"] in ("invalid_request", "unauthenticated")


def test_a_cursor_nested_too_deep_is_a_400(client, owner):
    cursor = base64.urlsafe_b64encode(DEEP.encode()).decode().rstrip("=")
    response = client.get(f"/api/v1/messages?cursor={cursor}", **bearer(make_token(owner)[1]))
    assert assert_problem(response, 400, "invalid_request")["errors"] == {"cursor": ["Not a cursor from this API."]}


def test_a_lone_surrogate_quoted_back_in_an_error_is_escaped(client, owner, priced):
    headers = bearer(make_token(owner)[1])
    surrogate = '{"to": ["\\ud800"], "text": "hi"}'
    response = client.post("/api/v1/messages", surrogate, content_type="application/json", **headers)
    body = assert_problem(response, 400, "invalid_recipients")
    assert "\ud800" in body["detail"]  # the same JSON, with its non-ASCII characters escaped
    response = client.post("/api/v1/auth/token", '{"scopes": ["\\ud800"]}', content_type="application/json", **headers)
    assert_problem(response, 400, "invalid_request")
    credential, secret = make_credential(owner)
    for answer in ("json", "text"):
        fields = {"smsUser": credential.key_id, "smsKey": secret, "to": "\ud800", "message": "hi", "format": answer}
        response = client.post("/smsapi/send", json.dumps(fields), content_type="application/json")
        assert response.status_code == 400, response.content
        if answer == "text":
            assert response.content.startswith(b"ERROR invalid_recipients: ")
            assert b"\\ud800" in response.content
        else:
            assert response.json()["code"] == "invalid_recipients"


def test_a_body_over_the_upload_limit_is_refused_before_it_is_read(client, owner, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    headers = bearer(make_token(owner)[1])
    big = json.dumps({"to": PHONE, "text": "x" * 2000})
    for path in ("/api/v1/messages", "/api/v1/auth/token"):
        body = assert_problem(post_json(client, path, big, **headers), 413, "request_too_large")
        assert "1,000" in body["detail"]
    credential, secret = make_credential(owner)
    fields = {"smsUser": credential.key_id, "smsKey": secret, "to": PHONE, "message": "x" * 2000}
    form = client.post("/smsapi/send", fields)  # multipart
    assert form.status_code == 413
    assert form.content.startswith(b"ERROR request_too_large: ")
    encoded = f"smsUser={credential.key_id}&smsKey={secret}&to=%2B447400123456&message={'x' * 2000}"
    urlencoded = client.post("/smsapi/send", encoded, content_type="application/x-www-form-urlencoded")
    assert urlencoded.status_code == 413


def test_an_old_secret_in_its_last_cached_second_cannot_mint_an_access_token(client, owner, one_second_cache):
    credential, secret = make_credential(owner)
    old = basic(credential.key_id, secret)
    assert client.get("/api/v1/balance", **old).status_code == 200  # this worker now holds the row
    credential_reset(user=owner, credential_id=credential.pk)  # on another worker, so this one keeps its copy:
    stale = ApiCredential.objects.select_related("account", "created_by__membership").get(pk=credential.pk)
    stale.digest = credential.digest  # the row as read before the reset
    localcache.put(("ApiCredential", credential.key_id), stale)
    assert client.get("/api/v1/balance", **old).status_code == 200  # the second SPEC §5 allows
    response = post_json(client, "/api/v1/auth/token", {"ttl": 86400}, **old)
    assert_problem(response, 401, "unauthenticated")


def test_a_key_deleted_in_its_last_cached_second_gets_a_401_from_the_token_endpoint(client, owner, one_second_cache):
    token, secret = make_token(owner)
    assert client.get("/api/v1/balance", **bearer(secret)).status_code == 200
    ApiToken.objects.filter(pk=token.pk).delete()  # on another worker
    assert_problem(post_json(client, "/api/v1/auth/token", {"ttl": 600}, **bearer(secret)), 401, "unauthenticated")


def test_the_balance_read_right_after_a_send_shows_it(client, owner, priced, one_second_cache):
    headers = bearer(make_token(owner)[1])
    assert client.get("/api/v1/balance", **headers).json()["balance"] == "100.0000"
    with time_machine.travel("2031-03-10 09:20:05Z", tick=True):
        sent = send(client, headers)
        assert sent.status_code == 202, sent.content
        assert sent.json()["balance"] == "99.0000"
        balance = client.get("/api/v1/balance", **headers).json()
    assert balance["balance"] == "99.0000"
    assert balance["monthly_spent"] == "1.0000"
