"""core.api.json_body and json_response do what DRF's parser and Response do, for every body
and every negotiation: the same data or the same error, the same bytes and headers."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

import messaging.apis
from core.api import PLAIN_JSON_MAX_BYTES, json_body, json_response
from core.renderers import ApiContentNegotiation, ApiJSONRenderer, ProblemJSONRenderer
from tests.api_support import PHONE, bearer, make_token

factory = APIRequestFactory()


class Echo(APIView):
    """Answers what the request's body parsed to, with the helpers or with DRF's own pieces."""

    authentication_classes: list = []
    permission_classes: list = []
    renderer_classes = [ApiJSONRenderer, ProblemJSONRenderer]
    content_negotiation_class = ApiContentNegotiation
    plain = True

    def post(self, request):
        data = json_body(request) if self.plain else request.data
        answer = {"data": data, "text": "Zażółć \u2028 \u2029 \U0001f600 </script>", "n": [1, 2.5, None, True]}
        return json_response(request, answer, status=202) if self.plain else Response(answer, status=202)


def answer(body: bytes, content_type: str | None, *, plain: bool, **headers):
    request = factory.generic("POST", "/echo", body, content_type=content_type or "", **headers)
    if content_type is None:
        request.META.pop("CONTENT_TYPE", None)
    response = Echo.as_view(plain=plain)(request)
    if isinstance(response, Response):
        response.render()
    return response.status_code, dict(response.headers), response.content


def assert_same(body: bytes, content_type: str | None = "application/json", **headers):
    assert answer(body, content_type, plain=True, **headers) == answer(body, content_type, plain=False, **headers)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_document_parses_to_the_same_data(value):
    assert_same(json.dumps(value, ensure_ascii=False).encode())


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40) | st.text(max_size=40).map(lambda text: text.encode("utf-16")))
def test_any_bytes_give_the_same_data_or_the_same_error(body):
    assert_same(body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b"\xef\xbb\xbf{}",  # a UTF-8 byte order mark
        '{"a": "é"}'.encode("utf-16"),
        b'{"a": "\xff"}',
        b"",
        b"{",
        b'"just a string"',
        b"[1, 2]",
        b'{"to": "' + PHONE.encode() + b'", "text": "' + b"x" * PLAIN_JSON_MAX_BYTES + b'"}',
    ],
)
def test_edge_bodies_give_the_same_answer(body):
    assert_same(body)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json;charset=utf-8",
        "Application/JSON",
        "application/json; charset=latin-1",
        "text/plain",
        "application/x-www-form-urlencoded",
        "",
        None,
    ],
)
def test_every_content_type_gets_the_same_answer(content_type):
    assert_same(b'{"to": "+447400123456", "text": "Hi"}', content_type)
    assert_same(b'{"text": "caf\xc3\xa9"}', content_type)


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "*/*",
        "application/json",
        "application/json; indent=4",
        "application/problem+json",
        "application/*",
        "text/html",
        "text/html, application/json;q=0.5",
    ],
)
def test_every_negotiation_gets_the_same_answer(accept):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    assert_same(b'{"a": 1}', **headers)


def test_the_helpers_take_their_own_path_for_the_common_request(monkeypatch):
    """The equality above would hold trivially if the helpers always fell back to DRF."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("DRF's parser or Response was used")

    request = factory.post("/echo", b'{"a": [1, "\xc3\xa9"]}', content_type="application/json")
    monkeypatch.setattr("rest_framework.request.Request._parse", refuse)
    monkeypatch.setattr("core.api.Response", refuse)
    response = Echo.as_view()(request)
    assert json.loads(response.content)["data"] == {"a": [1, "é"]}
    assert response["Content-Type"] == "application/json"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"to": PHONE, "text": "Hi"},
        {"to": [PHONE, "+48500100200"], "text": "Hi \u2028 there", "sender": "", "reference": "r-1"},
        {"to": "+1", "text": "Hi"},  # 400: invalid recipients
        {"to": PHONE},  # 400: no text
    ],
)
def test_the_send_endpoint_answers_as_with_drf_pieces(client, owner, monkeypatch, body):
    headers = bearer(make_token(owner, is_test=True)[1])

    def send():
        response = client.post("/api/v1/messages", json.dumps(body), content_type="application/json", **headers)
        content = response.json()
        for key in ("batch_id", "balance"):
            content.pop(key, None)
        for message in content.get("messages", []):
            message.pop("id")
        varying = {"Date", "RateLimit-Remaining", "RateLimit-Reset"}
        return response.status_code, {k: v for k, v in response.headers.items() if k not in varying}, content

    with_helpers = send()
    monkeypatch.setattr(messaging.apis, "json_body", lambda request: request.data)
    monkeypatch.setattr(messaging.apis, "json_response", lambda request, data, status: Response(data, status=status))
    assert send() == with_helpers


def test_a_parse_error_is_drfs():
    request = Echo().initialize_request(factory.post("/echo", b"{", content_type="application/json"))
    with pytest.raises(exceptions.ParseError):
        json_body(request)
