"""Hostile input on the SMSAPI dialect, and generated requests (schemathesis-style: the dialect
has no OpenAPI document, so Hypothesis draws the parameters, methods, bodies and paths): never a
5xx, never an HTML page, every refusal in SMSAPI's shape, and nothing sent by a refused request."""

import json
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Account
from messaging.models import Message, PriceRule
from tests import api_support as api

pytestmark = pytest.mark.django_db

SMS = "/smsapi/sms.do"
DEEP = "[" * 3000  # deeper than Python's JSON parser goes


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


@pytest.fixture
def key(owner) -> dict:
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    Account.objects.filter(pk=owner.membership.account_id).update(
        api_rate_limit_per_minute=100_000, api_token_rate_limit_per_minute=100_000
    )
    return api.bearer(api.make_token(owner, is_test=True)[1])


def smsapi_error(response, error: int) -> dict:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"] == error, body
    return body


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=latin-1"])
def test_a_document_nested_too_deep_is_error_8(client, key, content_type):
    smsapi_error(client.post(f"{SMS}?format=json", DEEP, content_type=content_type, **key), 8)


def test_a_lone_surrogate_quoted_back_is_escaped(client, key):
    body = json.dumps({"to": "\ud800", "message": "hi", "format": "json"})
    response = client.post(SMS, body, content_type="application/json", **key)
    assert smsapi_error(response, 13)["invalid_numbers"][0]["submitted_number"] == "\ud800"


@pytest.mark.parametrize(
    "params",
    [
        {"to": api.PHONE, "message": "nul\x00"},
        {"to": api.PHONE, "message": "hi", "from": "A\x00"},
        {"to": api.PHONE, "message": "hi", "idx": "\x00"},
        {"to": api.PHONE, "message": "hi", "idx": "\x00", "check_idx": "1"},
        {"to": f"{api.PHONE},+48500100200", "message": "hi", "idx": "a|\x00", "check_idx": "1"},
        {"to": "\x00", "message": "hi"},
        {"to": api.PHONE, "message": "hi", "date": "2030-01-01T00:00:00\x00Z"},
        {"to": api.PHONE, "message": "hi", "group": "\x00"},
        {"status": "\x00"},
        {"sch_del": "\x00"},
        {"status": ",".join(["00000000-0000-0000-0000-000000000000"] * 1001)},
        {"sch_del": ",".join(["00000000-0000-0000-0000-000000000000"] * 101)},
        {"to": api.PHONE, "message": "hi", "date": "9999-12-31T23:59:59-05:00"},
        {"to": api.PHONE, "message": "hi", "date": "0000-00-00 00:00:00+00:00"},
        {"to": api.PHONE, "message": "hi", "max_parts": "9" * 50},
        {"to": api.PHONE, "message": "hi", "max_parts": "²"},  # a digit to isdigit(), not to int()
        {"to": ",".join(f"+4474001{i:05d}" for i in range(10_001)), "message": "hi"},
    ],
)
def test_input_no_column_or_parser_takes_is_an_smsapi_error(client, key, params):
    response = client.post(SMS, {**params, "format": "json"}, **key)
    assert response.status_code == 200, response.content[:300]
    assert response.json()["error"] in (8, 11, 12, 13, 14, 53, 54, 301), response.content[:300]
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "body", [{"to": [api.PHONE], "message": "hi"}, {"to": api.PHONE, "message": 7}, {"to": api.PHONE, "message": None}]
)
def test_json_values_that_are_not_text_are_refused(client, key, body):
    response = api.post_json(client, f"{SMS}?format=json", body, **key)
    assert response.json()["error"] in (8, 11, 13), response.content
    assert not Message.objects.exists()


def test_a_body_over_the_upload_limit_is_refused(client, key, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    fields = {"to": api.PHONE, "message": "x" * 2000}
    smsapi_error(client.post(f"{SMS}?format=json", fields, **key), 8)  # multipart
    encoded = urlencode(fields)
    form = client.post(f"{SMS}?format=json", encoded, content_type="application/x-www-form-urlencoded", **key)
    smsapi_error(form, 8)
    assert client.post(SMS, encoded, content_type="application/x-www-form-urlencoded", **key).content == b"ERROR:8"


def test_a_body_of_an_unknown_type_is_error_8(client, key):
    response = client.post(f"{SMS}?format=json", b"\xff\xfe", content_type="application/x-nonsense", **key)
    smsapi_error(response, 8)


# --- Generated requests --------------------------------------------------------------------------

PARAMETERS = [
    "to", "message", "from", "date", "details", "test", "max_parts", "nounicode", "idx", "check_idx", "group",
    "format", "status", "sch_del", "credits", "encoding", "normalize", "fast", "flash", "list", "add_user",
]  # fmt: skip
VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["1", "0", "true", "True", "json", "xml", api.PHONE, "447400123456", "0044 7400 123456",
                     "2030-01-01T10:00:00Z", "1", "4102444800", "-1", "00000000-0000-0000-0000-000000000000"]),
)  # fmt: skip
PATHS = st.sampled_from(["sms.do", "user.do", "profile", "send.do", "sms.do/", "mfa/codes", "contacts", ""])
METHODS = st.sampled_from(["get", "post", "put", "patch", "delete", "head", "options"])
BODIES = st.sampled_from(["form", "multipart", "json", "query", "garbage"])


@given(
    path=PATHS,
    method=METHODS,
    body=BODIES,
    params=st.dictionaries(st.sampled_from(PARAMETERS), VALUES, max_size=6),
    authenticated=st.booleans(),
)
@settings(max_examples=300, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_generated_requests_are_never_a_server_error_nor_html(client, key, path, method, body, params, authenticated):
    headers = key if authenticated else {}
    url = f"/smsapi/{path}"
    if body == "query" or method in ("get", "head", "options", "delete"):
        response = getattr(client, method)(url + "?" + urlencode(params), **headers)
    elif body == "multipart" and method == "post":
        response = client.post(url, params, **headers)
    elif body == "json":
        response = getattr(client, method)(url, json.dumps(params), content_type="application/json", **headers)
    elif body == "garbage":
        response = getattr(client, method)(url, b"\x00\xff{[", content_type="application/json", **headers)
    else:
        encoded = urlencode(params)
        response = getattr(client, method)(url, encoded, content_type="application/x-www-form-urlencoded", **headers)
    assert response.status_code < 500, (url, method, params, response.content[:300])
    content_type = response.get("Content-Type", "")
    assert not content_type.startswith("text/html"), (url, method, params)
    if method != "head" and response.content:
        assert content_type in ("application/json", "text/plain; charset=utf-8"), (url, method, content_type)
        if content_type == "application/json" and response.status_code != 200:
            assert set(response.json()) >= {"error", "message"}, response.content[:300]
