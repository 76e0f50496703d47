"""The scope matrix of the SMSGate dialect (as tests/apikeys/test_scopes.py for /api/v1), read from
the URL configuration: every route and method with its view's `required_scopes` refuses a key
without that scope (403 `insufficient_scope` in SMSGate's shape, naming it), and a new route fails
here until it is added to the expected set on purpose."""

import pytest
from django.urls import URLResolver, get_resolver

from apikeys.api import ApiView
from tests import api_support as api
from tests.apikeys.test_scopes import CALLER, MANAGEMENT_WORDS, PUBLIC, request, url_for
from tests.compat.support import assert_smsgate_error

pytestmark = pytest.mark.django_db

PREFIX = "/3rdparty/v1/"

EXPECTED_ROUTES = {
    ("auth/token", "post"): CALLER,
    ("auth/token/<uuid:token_id>", "delete"): CALLER,
    ("messages", "post"): "messages:send",
    ("messages", "get"): "messages:read",
    ("messages/<str:message_id>", "get"): "messages:read",
    ("messages/<str:message_id>", "delete"): "messages:send",
    ("devices", "get"): "messages:read",
    ("health", "get"): PUBLIC,
    ("health/ready", "get"): PUBLIC,
    ("health/startup", "get"): PUBLIC,
    ("health/live", "get"): PUBLIC,
}
# Regex routes: what SMSGate offers and we do not, answered 501 to anyone (no key needed to learn that).
NOT_SUPPORTED = {"token-refresh", "messages-inbox", "device", "inbox", "webhooks", "settings", "logs"}


def smsgate_patterns():
    (resolver,) = [p for p in get_resolver().url_patterns if isinstance(p, URLResolver) and p.namespace == "smsgate"]
    assert str(resolver.pattern) == "3rdparty/v1/"
    return resolver.url_patterns


def smsgate_routes() -> dict[tuple[str, str], str]:
    routes = {}
    for pattern in smsgate_patterns():
        view = pattern.callback.view_class
        if pattern.name in NOT_SUPPORTED:
            continue
        for method in ("get", "post", "put", "patch", "delete"):
            if hasattr(view, method):
                keyed = view.authentication_classes == ApiView.authentication_classes
                scope = view.required_scopes.get(method.upper(), CALLER) if keyed else PUBLIC
                routes[(str(pattern.pattern), method)] = scope
    return routes


SCOPED = sorted((route, method, scope) for (route, method), scope in EXPECTED_ROUTES.items() if ":" in scope)
SCOPED += [(route, "head", scope) for route, method, scope in SCOPED if method == "get"]


def test_the_smsgate_surface_is_exactly_the_expected_one():
    assert smsgate_routes() == EXPECTED_ROUTES
    assert {pattern.name for pattern in smsgate_patterns() if str(pattern.pattern).startswith("^")} == NOT_SUPPORTED


def test_every_keyed_view_runs_the_request_chain_and_none_manages_the_account():
    for pattern in smsgate_patterns():
        view = pattern.callback.view_class
        assert issubclass(view, ApiView), view
        assert view.schema is None  # out of /api/v1/schema/
        if view.authentication_classes:
            assert view.authentication_classes == ApiView.authentication_classes, view
            assert view.permission_classes == ApiView.permission_classes, view
            assert view.throttle_classes == ApiView.throttle_classes, view
            assert not MANAGEMENT_WORDS.search(str(pattern.pattern)), pattern


@pytest.mark.parametrize(("route", "method", "scope"), SCOPED)
def test_route_refuses_a_key_without_its_scope(client, owner, route, method, scope):
    url = url_for(PREFIX, route)
    others = [s for s in api.ALL_SCOPES if s != scope]
    _, token = api.make_token(owner, scopes=others)
    credential, secret = api.make_credential(owner, scopes=others)
    access = api.issue_access(client, api.bearer(api.make_token(owner)[1]), scopes=others)["access_token"]
    for headers in (api.bearer(token), api.basic(credential.key_id, secret), api.bearer(access)):
        response = request(client, method, url, headers)
        if method == "head":
            assert response.status_code == 403
            continue
        body = assert_smsgate_error(response, 403, "insufficient_scope")
        assert f"`{scope}`" in body["message"], body


@pytest.mark.parametrize(("route", "method", "scope"), SCOPED)
def test_route_lets_a_key_with_only_its_scope_through_the_chain(client, owner, route, method, scope):
    _, token = api.make_token(owner, scopes=[scope])
    response = request(client, method, url_for(PREFIX, route), api.bearer(token))
    assert response.status_code not in (401, 403, 429), response.content
    assert response["Content-Type"] == "application/json"  # the dialect's answer (a 404 here: no such id)


@pytest.mark.parametrize(("route", "method"), [key for key, scope in EXPECTED_ROUTES.items() if scope == CALLER])
def test_caller_routes_need_a_working_key_but_no_scope(client, owner, route, method):
    _, token = api.make_token(owner, scopes=["verify"])
    response = request(client, method, url_for(PREFIX, route), api.bearer(token))
    assert response.status_code in (201, 400, 404), response.content  # (the token request names no scope)
    assert_smsgate_error(request(client, method, url_for(PREFIX, route), {}), 401, "unauthenticated")
