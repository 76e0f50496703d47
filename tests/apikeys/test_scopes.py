"""The scope matrix, generated from the URL configuration: every API route and method, read from the
resolver with its view's `required_scopes`, refuses a key without that scope (403
`insufficient_scope`, naming it). A new route without a scope, or one that exposes account
management, fails here until it is added to the expected set on purpose."""

import re
import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import Membership
from apikeys.api import ApiView
from apikeys.models import SCOPES, ApiCredential, ApiToken
from tests import api_support as api

pytestmark = pytest.mark.django_db

PUBLIC = "public"  # no authentication at all (the OpenAPI document)
CALLER = "caller"  # any working key, no scope: issuing and revoking its own access tokens

# The whole API surface, on purpose: (route, method) → scope.
EXPECTED_ROUTES = {
    ("auth/token", "post"): CALLER,
    ("auth/token/<uuid:token_id>", "delete"): CALLER,
    ("messages", "post"): "messages:send",
    ("messages", "get"): "messages:read",
    ("messages/<uuid:message_id>", "get"): "messages:read",
    ("messages/<uuid:message_id>", "delete"): "messages:send",
    ("balance", "get"): "balance:read",
    ("contacts", "get"): "contacts:read",
    ("contacts", "post"): "contacts:write",
    ("contacts/<int:contact_id>", "get"): "contacts:read",
    ("contacts/<int:contact_id>", "patch"): "contacts:write",
    ("contacts/<int:contact_id>", "delete"): "contacts:write",
    ("groups", "get"): "contacts:read",
    ("groups", "post"): "contacts:write",
    ("groups/<int:group_id>", "get"): "contacts:read",
    ("groups/<int:group_id>", "patch"): "contacts:write",
    ("groups/<int:group_id>", "delete"): "contacts:write",
    ("verifications", "post"): "verify",
    ("verifications/<uuid:verification_id>", "get"): "verify",
    ("verifications/<uuid:verification_id>/check", "post"): "verify",
    ("opt-outs", "get"): "contacts:read",
    ("opt-outs", "post"): "contacts:write",
    ("opt-outs/<str:phone>", "delete"): "contacts:write",
    ("inbound", "get"): "messages:read",
    ("inbound/<uuid:message_id>", "get"): "messages:read",
    ("webhooks", "get"): "webhooks:manage",
    ("webhooks", "post"): "webhooks:manage",
    ("webhooks/<uuid:endpoint_id>", "delete"): "webhooks:manage",
    ("webhooks/<uuid:endpoint_id>/test", "post"): "webhooks:manage",
    ("schema/", "get"): PUBLIC,
}

# Words that would mean an API route touches account management (SPEC §5: no token can manage
# users, tokens, IP lists or billing). `auth/token` is the access-token endpoint, checked above.
# Webhook endpoints are the one exception SPEC §5 makes: `/webhooks`, with `webhooks:manage`.
MANAGEMENT_WORDS = re.compile(
    r"user|member|invite|api-?key|credential|allowlist|ip-|security|billing|top-?up|ledger|price|"
    r"session|password|two-factor|otp|admin|account|policy",
    re.I,
)

CONVERTER_SAMPLES = {"uuid": lambda: str(uuid.uuid4()), "int": lambda: "1", "str": lambda: "x", "slug": lambda: "x"}


def _namespace(name: str) -> URLResolver:
    matches = [p for p in get_resolver().url_patterns if isinstance(p, URLResolver) and p.namespace == name]
    assert len(matches) == 1, f"one `{name}` namespace in the URL configuration"
    return matches[0]


def _methods(view_class) -> list[str]:
    return [m for m in view_class.http_method_names if m not in ("options", "head") and hasattr(view_class, m)]


def api_routes(namespace: str = "api-v1") -> dict[tuple[str, str], str]:
    """(route, method) → its scope, CALLER for an ApiView method without one, PUBLIC otherwise."""
    routes: dict[tuple[str, str], str] = {}
    for pattern in _namespace(namespace).url_patterns:
        assert isinstance(pattern, URLPattern), f"no nested includes under the API: {pattern}"
        view_class = pattern.callback.view_class
        for method in _methods(view_class):
            if issubclass(view_class, ApiView):
                routes[(str(pattern.pattern), method)] = view_class.required_scopes.get(method.upper(), CALLER)
            else:
                routes[(str(pattern.pattern), method)] = PUBLIC
    return routes


def url_for(prefix: str, route: str, int_value: int = 1) -> str:
    def sample(match: re.Match) -> str:
        converter = match.group(1) or "str"
        return str(int_value) if converter == "int" else CONVERTER_SAMPLES[converter]()

    return prefix + re.sub(r"<(?:(\w+):)?\w+>", sample, route)


SCOPED = sorted((route, method, scope) for (route, method), scope in api_routes().items() if scope in SCOPES)
# HEAD runs the GET handler: it needs the GET scope too.
SCOPED += [(route, "head", scope) for route, method, scope in SCOPED if method == "get"]


def request(client, method: str, url: str, headers: dict):
    if method in ("post", "put", "patch"):
        return getattr(client, method)(url, {}, content_type="application/json", **headers)
    return getattr(client, method)(url, **headers)


def test_the_api_surface_is_exactly_the_expected_one():
    assert api_routes("api-v1") == EXPECTED_ROUTES
    # /api/ is an alias of the latest version: the same routes and scopes.
    assert api_routes("api") == EXPECTED_ROUTES
    assert str(_namespace("api-v1").pattern) == "api/v1/"
    assert str(_namespace("api").pattern) == "api/"


def test_no_api_route_exposes_account_management():
    for route, _ in api_routes():
        assert not MANAGEMENT_WORDS.search(route), route
    # The scopes themselves cannot express account management.
    assert set(SCOPES) == {
        "messages:send",
        "messages:read",
        "contacts:read",
        "contacts:write",
        "balance:read",
        "verify",
        "webhooks:manage",
    }


def test_every_api_view_runs_the_request_chain():
    for pattern in _namespace("api-v1").url_patterns:
        view_class = pattern.callback.view_class
        if pattern.name == "schema":
            continue
        assert issubclass(view_class, ApiView), view_class
        assert view_class.permission_classes == ApiView.permission_classes, view_class
        assert view_class.authentication_classes == ApiView.authentication_classes, view_class
        assert view_class.throttle_classes == ApiView.throttle_classes, view_class


@pytest.mark.parametrize("prefix", ["/api/v1/", "/api/"])
@pytest.mark.parametrize(("route", "method", "scope"), SCOPED)
def test_route_refuses_a_key_without_its_scope(client, owner, prefix, route, method, scope):
    url = url_for(prefix, route)
    _, token = api.make_token(owner, scopes=[s for s in api.ALL_SCOPES if s != scope])
    credential, secret = api.make_credential(owner, scopes=[s for s in api.ALL_SCOPES if s != scope])
    # An access token issued with every scope but this one, by a key that holds them all.
    _, full = api.make_token(owner)
    access = api.issue_access(client, api.bearer(full), scopes=[s for s in api.ALL_SCOPES if s != scope])[
        "access_token"
    ]
    for headers in (api.bearer(token), api.basic(credential.key_id, secret), api.bearer(access)):
        response = request(client, method, url, headers)
        if method == "head":  # no body to read
            assert response.status_code == 403
            assert response["Content-Type"] == "application/problem+json"
            continue
        body = api.assert_problem(response, 403, "insufficient_scope")
        assert f"`{scope}`" in body["detail"], body


@pytest.mark.parametrize(("route", "method", "scope"), SCOPED)
def test_route_lets_a_key_with_only_its_scope_through_the_chain(client, owner, route, method, scope):
    _, token = api.make_token(owner, scopes=[scope])
    response = request(client, method, url_for("/api/v1/", route), api.bearer(token))
    assert response.status_code not in (401, 403, 429), response.content


@pytest.mark.parametrize(("route", "method"), [key for key, scope in EXPECTED_ROUTES.items() if scope == CALLER])
def test_caller_routes_need_a_working_key_but_no_scope(client, owner, route, method):
    _, token = api.make_token(owner, scopes=["verify"])
    response = request(client, method, url_for("/api/v1/", route), api.bearer(token))
    assert response.status_code in (201, 404), response.content
    api.assert_problem(request(client, method, url_for("/api/v1/", route), {}), 401)


def test_the_legacy_endpoint_needs_messages_send(client, owner):
    credential, secret = api.make_credential(owner, scopes=[s for s in api.ALL_SCOPES if s != "messages:send"])
    params = {"smsUser": credential.key_id, "smsKey": secret, "to": "+447400123456", "message": "Hi", "format": "json"}
    body = api.assert_problem(client.post("/smsapi/send?format=json", params), 403, "insufficient_scope")
    assert "`messages:send`" in body["detail"]


# --- No key reaches the portal's management pages ---------------------------------------------

# Pages anyone may open without signing in.
PUBLIC_PAGES = re.compile(
    r"^/(healthz|readyz|accounts/login/|accounts/login/verify/|accounts/password-reset/.*|accounts/reset/.*|"
    r"api/docs/|docs/errors)$"
)


def _portal_urls(patterns, prefix: str = "/", int_value: int = 1):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace in ("api", "api-v1", "smsgate", "smsapi") or str(pattern.pattern) == "admin/":
                continue  # the APIs are tested above (the dialects' in tests/compat); the admin's URLs below
            yield from _portal_urls(pattern.url_patterns, prefix + str(pattern.pattern), int_value)
        elif not str(pattern.pattern).startswith("^"):  # path(), not the regex catch-alls
            yield url_for(prefix, str(pattern.pattern), int_value)


def test_a_key_with_every_scope_reaches_no_portal_or_admin_page(client, owner):
    """Portal and admin pages use sessions: an API key in the header signs nobody in, so no key
    can manage users, keys, IP lists or billing through them either."""
    token, secret_token = api.make_token(owner)
    credential, secret = api.make_credential(owner)
    tokens_before = list(ApiToken.objects.values_list("pk", "disabled"))
    credentials_before = list(ApiCredential.objects.values_list("pk", "digest", "disabled"))
    # Numeric ids are the real key's, so a page that let a key in would act on it.
    urls = sorted(
        set(_portal_urls(get_resolver().url_patterns, int_value=token.pk))
        | set(_portal_urls(get_resolver().url_patterns, int_value=credential.pk))
    )
    urls += ["/admin/", "/admin/accounts/account/", "/admin/apikeys/apitoken/"]
    assert "/accounts/security/ip-allowlist/" in urls
    for url in urls:
        if PUBLIC_PAGES.match(url) or url.startswith("/hooks/") or url == "/smsapi/send":
            continue
        for headers in (api.bearer(secret_token), api.basic(credential.key_id, secret)):
            for method in ("get", "post"):
                response = getattr(client, method)(url, REMOTE_ADDR="203.0.113.9", **headers)
                assert response.status_code in (302, 403, 404, 405), (method, url, response.status_code)
                if response.status_code == 302:
                    assert "login" in response["Location"], (method, url, response["Location"])
    assert list(ApiToken.objects.values_list("pk", "disabled")) == tokens_before
    assert list(ApiCredential.objects.values_list("pk", "digest", "disabled")) == credentials_before


# --- Effective scopes follow the creator's permissions ----------------------------------------


def test_a_keys_scopes_shrink_at_once_when_its_creator_loses_the_permission(client, owner):
    sub = api.make_subuser(owner, view_billing=True, send_sms=True, manage_api_tokens=True)
    _, token = api.make_token(sub, scopes=["balance:read", "messages:send"])
    credential, secret = api.make_credential(sub, scopes=["balance:read"])
    access = api.issue_access(client, api.bearer(token), scopes=["balance:read"])["access_token"]
    keys = (api.bearer(token), api.basic(credential.key_id, secret), api.bearer(access))
    for headers in keys:
        assert client.get("/api/v1/balance", **headers).status_code == 200

    Membership.objects.filter(user=sub).update(view_billing=False)
    for headers in keys:
        body = api.assert_problem(client.get("/api/v1/balance", **headers), 403, "insufficient_scope")
        assert "`balance:read`" in body["detail"]
    # The scope it still holds keeps working (an empty send is refused by validation, not by scope).
    api.assert_problem(client.post("/api/v1/messages", {}, content_type="application/json", **api.bearer(token)), 400)
    # Nor can the key hand the lost scope on.
    refused = client.post(
        "/api/v1/auth/token", {"scopes": ["balance:read"]}, content_type="application/json", **api.bearer(token)
    )
    api.assert_problem(refused, 403, "insufficient_scope")

    Membership.objects.filter(user=sub).update(view_billing=True)
    for headers in keys:
        assert client.get("/api/v1/balance", **headers).status_code == 200
