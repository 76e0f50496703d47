"""The scope matrix of the SMSAPI dialect (COMPAT §0, C.6), read from the URL configuration: every
route of /smsapi/ runs the API's request chain, and each action refuses a key without its scope
(SMSAPI's error 101, naming the scope) and lets a key with only that scope through."""

import pytest
from django.urls import URLResolver, get_resolver

from apikeys.api import ApiView
from tests import api_support as api

pytestmark = pytest.mark.django_db

# (path, method, the parameters that choose the action) → scope.
EXPECTED = {
    ("sms.do", "post", "to=+447400123456&message=Hi"): "messages:send",
    ("sms.do", "get", "to=+447400123456&message=Hi"): "messages:send",
    ("sms.do", "post", "sch_del=00000000-0000-0000-0000-000000000000"): "messages:send",
    ("sms.do", "get", "status=00000000-0000-0000-0000-000000000000"): "messages:read",
    ("sms.do", "post", "status=00000000-0000-0000-0000-000000000000"): "messages:read",
    ("user.do", "get", "credits=1"): "balance:read",
    ("user.do", "post", "credits=1"): "balance:read",
    ("profile", "get", ""): "balance:read",
}


def smsapi_views() -> dict[str, type]:
    [resolver] = [p for p in get_resolver().url_patterns if isinstance(p, URLResolver) and p.namespace == "smsapi"]
    assert str(resolver.pattern) == "smsapi/"
    return {str(pattern.pattern): pattern.callback.view_class for pattern in resolver.url_patterns}


def test_every_smsapi_route_runs_the_request_chain():
    views = smsapi_views()
    assert set(views) == {"sms.do", "user.do", "profile", r"^[\s\S]*\Z"}
    assert {path for path, _, _ in EXPECTED} == set(views) - {r"^[\s\S]*\Z"}
    for path in ("sms.do", "user.do", "profile"):
        view = views[path]
        assert issubclass(view, ApiView), view
        assert view.schema is None  # not in the REST API's OpenAPI document
        for chain in ("permission_classes", "authentication_classes", "throttle_classes"):
            assert getattr(view, chain) == getattr(ApiView, chain), (view, chain)
    assert "head" not in views["sms.do"].http_method_names  # HEAD would send


def call(client, path: str, method: str, params: str, headers: dict):
    url = f"/smsapi/{path}?format=json&{params}"
    return getattr(client, method)(url, **headers)


@pytest.mark.parametrize(("path", "method", "params", "scope"), [(*key, scope) for key, scope in EXPECTED.items()])
def test_an_action_refuses_a_key_without_its_scope(client, owner, path, method, params, scope):
    others = [s for s in api.ALL_SCOPES if s != scope]
    _, token = api.make_token(owner, scopes=others)
    credential, secret = api.make_credential(owner, scopes=others)
    _, full = api.make_token(owner)
    access = api.issue_access(client, api.bearer(full), scopes=others)["access_token"]
    for headers in (api.bearer(token), api.basic(credential.key_id, secret), api.bearer(access)):
        response = call(client, path, method, params, headers)
        body = response.json()
        if path == "profile":  # REST-style
            assert (response.status_code, body["error"]) == (403, "forbidden")
        else:
            assert (response.status_code, body["error"]) == (200, 101), body
        assert f"`{scope}`" in body["message"], body


@pytest.mark.parametrize(("path", "method", "params", "scope"), [(*key, scope) for key, scope in EXPECTED.items()])
def test_an_action_lets_a_key_with_only_its_scope_through_the_chain(client, owner, path, method, params, scope):
    _, token = api.make_token(owner, scopes=[scope])
    response = call(client, path, method, params, api.bearer(token))
    assert response.status_code == 200, response.content
    assert response.json().get("error") not in (101, 105, 203), response.content
