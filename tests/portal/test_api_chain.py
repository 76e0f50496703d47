"""The API's own middleware chain (portal/middleware.py): keys, not sessions, but the same host
validation, HTTPS redirect and security headers as every other page."""

import pytest
from django.test import Client

from tests.api_support import bearer, make_token

pytestmark = pytest.mark.django_db


def test_api_answers_set_no_cookies_and_carry_the_security_headers(owner):
    _, secret = make_token(owner, scopes=["balance:read"])
    response = Client().get("/api/v1/balance", **bearer(secret))
    assert response.status_code == 200
    assert response.cookies == {}
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


def test_a_signed_in_browser_session_does_not_authenticate_the_api(owner):
    client = Client()
    client.force_login(owner)
    response = client.get("/api/v1/balance")
    assert response.status_code == 401
    assert "sessionid" not in response.cookies


@pytest.mark.parametrize("path", ["/api/v1/balance", "/smsapi/send", "/api/v1/nothing-here"])
def test_api_paths_still_validate_the_host(path, settings):
    settings.ALLOWED_HOSTS = ["portal.example.com"]
    response = Client().get(path, HTTP_HOST="evil.example.net")
    assert response.status_code == 400


def test_api_paths_still_redirect_to_https(settings):
    settings.SECURE_SSL_REDIRECT = True
    response = Client().get("/api/v1/balance")
    assert response.status_code == 301
    assert response["Location"].startswith("https://")


def test_the_portal_keeps_its_sessions_and_csrf():
    response = Client().get("/accounts/login/")
    assert response.status_code == 200
    assert "csrftoken" in response.cookies


def test_the_schema_answers_json_to_a_client_asking_for_json():
    """The API's quick content negotiation applies only to plain-JSON views: the schema view's
    first renderer is YAML, and a client asking for JSON still gets JSON."""
    response = Client().get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert "json" in response["Content-Type"]
    assert response.json()["openapi"].startswith("3.")
    assert Client().get("/api/v1/schema/")["Content-Type"].startswith("application/vnd.oai.openapi")
