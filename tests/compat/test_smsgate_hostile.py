"""Hostile and generated input on the SMSGate dialect (as tests/apikeys/test_hostile_input.py and
test_schemathesis.py for /api/v1): whatever a client sends, the answer is never a 5xx and never an
HTML page, always SMSGate's JSON."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messaging.models import Message
from tests import api_support as api
from tests.apikeys.test_hostile_input import DEEP
from tests.apikeys.test_schemathesis import api_token  # noqa: F401 (the schemathesis run's fixture, shared)
from tests.compat.support import BASE, assert_smsgate_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def headers(api_token):  # noqa: F811
    """A test-mode token with every scope and generous rate limits (the schemathesis run's). The
    test client raises any exception of a view: a 500 fails the test there."""
    return api.bearer(api_token)


def assert_json_not_5xx(response) -> None:
    """No server error; a 501 only as the dialect's deliberate "not supported" (inbox, webhooks, …)."""
    deliberate = response.status_code == 501 and json.loads(response.content)["data"]["code"] == "not_supported"
    assert response.status_code < 500 or deliberate, (response.status_code, response.content[:300])
    if response.status_code != 204:
        assert response["Content-Type"] == "application/json", (response.status_code, response["Content-Type"])
        json.loads(response.content)


@pytest.mark.parametrize("path", ["messages", "auth/token"])
@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=latin-1"])
def test_a_document_nested_too_deep_is_a_400(client, headers, path, content_type):
    response = client.post(f"{BASE}/{path}", DEEP, content_type=content_type, **headers)
    assert_smsgate_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    "body",
    [
        '{"phoneNumbers": ["\\ud800"], "textMessage": {"text": "hi"}}',
        '{"phoneNumbers": ["+447400123456"], "textMessage": {"text": "\\ud800"}}',
        '{"phoneNumbers": ["+447400123456"], "textMessage": {"text": "a\\u0000b"}}',
        '{"phoneNumbers": ["+447400123456"], "textMessage": {"text": "hi"}, "id": "\\udfff"}',
        '{"phoneNumbers": ["+447400123456"], "textMessage": {"text": "hi"}, "scheduleAt": "2026-13-01T00:00:00Z"}',
        '{"phoneNumbers": ["+447400123456"], "textMessage": {"text": "hi"}, "scheduleAt": "9999-12-31T23:59:59-05:00"}',
        '{"phoneNumbers": ["+447400123456"], "textMessage": "hi"}',
        '{"phoneNumbers": [1, 2], "textMessage": {"text": "hi"}}',
        '{"phoneNumbers": ["+447400123456"], "textMessage": {"text": "hi"}, "isEncrypted": "yes"}',
        "[]",
        "null",
        '"text"',
        "1e999",
        "NaN",
    ],
)
def test_hostile_send_bodies_are_a_400_never_a_500(client, headers, body):
    response = client.post(f"{BASE}/messages", body, content_type="application/json", **headers)
    assert_json_not_5xx(response)
    assert response.status_code in (202, 400), response.content  # `isEncrypted: "yes"` is not `true`
    assert Message.objects.count() == (1 if response.status_code == 202 else 0)


def test_a_body_over_the_upload_limit_is_a_413(client, headers, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    big = json.dumps({"phoneNumbers": [api.PHONE], "textMessage": {"text": "x" * 2000}})
    for path in ("messages", "auth/token"):
        assert_smsgate_error(api.post_json(client, f"{BASE}/{path}", big, **headers), 413, "request_too_large")


HOSTILE_IDS = ["a%00b", "%ED%A0%80", "x" * 200, "..", "%20", "00000000-0000-0000-0000-00000000000g"]


@pytest.mark.parametrize("ident", HOSTILE_IDS)
def test_hostile_message_ids_are_a_404(client, headers, ident):
    for method in ("get", "delete"):
        assert_smsgate_error(getattr(client, method)(f"{BASE}/messages/{ident}", **headers), 404, "not_found")


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "application/problem+json", "*/*", ""])
def test_the_answer_is_json_whatever_the_client_accepts_or_asks_by_format(client, headers, accept):
    for query in ("", "?format=xml", "?format=api", "?format=json"):
        ok = client.get(f"{BASE}/messages{query}", HTTP_ACCEPT=accept, **headers)
        assert ok.status_code == 200, ok.content
        assert ok["Content-Type"] == "application/json"
        assert_smsgate_error(client.get(f"{BASE}/messages/nothing{query}", HTTP_ACCEPT=accept, **headers), 404)


# --- Generated input (hypothesis, as the schemathesis run does for the documented API) -------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
PHONE_LIKE = st.one_of(st.text(max_size=20), st.from_regex(r"\A(\+|00)?[0-9]{6,16}\Z"), st.just(api.PHONE))
SEND_BODIES = st.fixed_dictionaries(
    {},
    optional={
        "phoneNumbers": st.lists(PHONE_LIKE, max_size=4) | JSON_VALUES,
        "textMessage": st.fixed_dictionaries({"text": st.text(max_size=200)}) | JSON_VALUES,
        "message": JSON_VALUES,
        "id": st.text(max_size=40) | JSON_VALUES,
        "deviceId": st.sampled_from(["sms-portal-gateway-01", "other"]) | JSON_VALUES,
        "scheduleAt": st.datetimes().map(lambda moment: moment.isoformat() + "Z") | st.text(max_size=30),
        "isEncrypted": JSON_VALUES,
        "dataMessage": JSON_VALUES,
        "ttl": JSON_VALUES,
    },
)
TOKEN_BODIES = st.fixed_dictionaries(
    {},
    optional={
        "scopes": st.lists(st.sampled_from([*api.ALL_SCOPES, "messages:list", "devices:list"]) | st.text(max_size=12))
        | JSON_VALUES,
        "ttl": st.integers(min_value=-10, max_value=100_000) | JSON_VALUES,
    },
)
QUERY_VALUES = st.text(max_size=30) | st.integers(min_value=-5, max_value=500).map(str)
LIST_QUERIES = st.dictionaries(
    st.sampled_from(["from", "to", "state", "deviceId", "limit", "offset", "sort", "format"]), QUERY_VALUES, max_size=5
)
FUZZ = settings(
    max_examples=60, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


@FUZZ
@given(body=SEND_BODIES | JSON_VALUES)
def test_generated_send_bodies_never_get_a_5xx(client, headers, body):
    assert_json_not_5xx(api.post_json(client, f"{BASE}/messages", json.dumps(body), **headers))


@FUZZ
@given(body=TOKEN_BODIES | JSON_VALUES)
def test_generated_token_requests_never_get_a_5xx(client, headers, body):
    assert_json_not_5xx(api.post_json(client, f"{BASE}/auth/token", json.dumps(body), **headers))


@FUZZ
@given(params=LIST_QUERIES)
def test_generated_list_queries_never_get_a_5xx(client, headers, params):
    response = client.get(f"{BASE}/messages", params, **headers)
    assert_json_not_5xx(response)
    assert response.status_code in (200, 400)


@FUZZ
@given(suffix=st.text(max_size=40), method=st.sampled_from(["get", "post", "put", "patch", "delete"]))
def test_generated_paths_never_get_a_5xx_or_html(client, headers, suffix, method):
    response = getattr(client, method)(f"{BASE}/{suffix}", **headers)
    assert_json_not_5xx(response)
