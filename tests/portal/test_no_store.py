"""No answer of the portal or the API is kept by a cache: every page, CSV export, redirect and error
says `Cache-Control: no-store` (core.http.NoStoreMiddleware). The pages are read from the URL
configuration, so a new page is covered without being added here."""

import pytest
from django.test import Client

from tests.api_support import bearer, make_token
from tests.conftest import force_login_recent, verified_staff_client
from tests.portal.routes import Samples, admin_routes, admin_url, page_routes

pytestmark = pytest.mark.django_db

# Pages the walk must find open (200) for the account's owner, or it proves little.
MUST_OPEN = {
    "dashboard",
    "messaging:log",
    "messaging:send",
    "messaging:detail",
    "contacts:list",
    "contacts:edit",
    "contacts:groups",
    "contacts:import",
    "security:security",
    "security:audit-log",
    "security:two-factor-setup",
    "apikeys:list",
    "apikeys:token-create",
    "members:users",
    "members:users-edit",
    "accounts:settings",
}
CSV_EXPORTS = {"messaging:log", "security:audit-log"}


def _no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


def test_every_signed_in_page_and_csv_export_answers_no_store(client, owner):
    samples = Samples(owner)
    force_login_recent(client, owner)  # the pages of sudo mode open too
    opened, exports, cached = set(), set(), []
    # Signing out last, so that every other page is asked for signed in.
    for route in sorted(page_routes(), key=lambda route: route.name == "security:logout"):
        url = samples.url(route)
        response = client.get(url)
        if not _no_store(response):
            cached.append((url, response.status_code, response.get("Cache-Control")))
        if response.status_code != 200:
            continue
        opened.add(route.name)
        export = client.get(url, {"format": "csv"})
        if export["Content-Type"].startswith("text/csv"):
            exports.add(route.name)
            b"".join(export.streaming_content)
            if not _no_store(export):
                cached.append((url + "?format=csv", export.status_code, export.get("Cache-Control")))
    assert cached == []
    assert opened >= MUST_OPEN
    assert exports >= CSV_EXPORTS


def test_every_admin_page_answers_no_store():
    client, _ = verified_staff_client()
    cached = []
    routes = [route for route in admin_routes() if not route.name.endswith(":logout")]
    assert len(routes) > 50
    for route in routes:
        url = admin_url(route)
        response = client.get(url)
        if not _no_store(response):
            cached.append((url, response.status_code, response.get("Cache-Control")))
    assert cached == []
    assert _no_store(client.get("/admin/"))


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/password-reset/", "/", "/no-such-page/"])
def test_anonymous_pages_redirects_and_errors_answer_no_store(path, db):
    response = Client().get(path)
    assert response.status_code in (200, 302, 404)
    assert _no_store(response)


def test_api_answers_say_no_store(owner):
    _, secret = make_token(owner)
    client = Client()
    for response in (
        client.get("/api/v1/balance", **bearer(secret)),
        client.get("/api/v1/messages", **bearer(secret)),
        client.get("/api/v1/contacts", **bearer(secret)),
        client.get("/api/v1/balance"),  # 401
        client.get("/api/v1/nowhere"),  # 404
        client.get("/smsapi/send"),
    ):
        assert _no_store(response), (response.status_code, response.get("Cache-Control"))
