"""Every path under the API's prefixes that names no endpoint answers in JSON, never Django's HTML
page: a problem document under `/api/` (and `/smsapi` itself), SMSAPI's own error under
`/smsapi/`, SMSGate's under `/3rdparty` (tests/compat). Newlines, percent-encoded bytes and
trailing garbage included, with DEBUG on (where Django's own 404 page would list the URL patterns)
as with DEBUG off."""

import pytest
from django.test import Client, override_settings

from tests.api_support import assert_problem

pytestmark = pytest.mark.django_db

# As a client sends them: the test client decodes the percent-escapes into the path, as a server does.
HOSTILE_PATHS = [
    "/api/v1/messages%0A",
    "/api/v1/messages%0Ax",
    "/api/v1/%0A",
    "/api/%0A",
    "/api%0A",
    "/api%0A/v1/balance",
    "/api/v1/balance%0D%0A",
    "/api/v1/balance%0D%0AX-Injected:%201",
    "/api/v1/messages/00000000-0000-0000-0000-000000000000%0A",
    "/api/v1/messages/%0A00000000-0000-0000-0000-000000000000",
    "/api/v1/contacts/1%0A",
    "/api/v1/contacts/1;x",
    "/api/v1/contacts/1/trailing/garbage",
    "/api/v1/messages%E2%80%A8",  # U+2028, a line separator
    "/api/v1/%00",
    "/api/%FF%FE",  # not UTF-8
    "/api/v1/%C0%AF..%C0%AF",  # an overlong '/'
    "/api/v1/../../etc/passwd",
    "/api/docs%0A",
    "/api/v1/schema/%0A",
    "/api",
    "/api/",
    "/smsapi",
    "/smsapi%0A",
]  # `/3rdparty/…` answers the SMSGate dialect's error body instead: tests/compat/test_smsgate_api.py


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_any_unknown_path_under_the_api_answers_a_problem_document(path, method, debug):
    with override_settings(DEBUG=debug):
        response = getattr(Client(), method)(path)
    body = assert_problem(response, 404, "not_found")
    assert body["detail"].startswith("No API endpoint at /")
    assert b"URLconf" not in response.content  # Django's DEBUG page, listing the URL patterns


# Under /smsapi/ (but the legacy `send`), SMSAPI's own "unknown endpoint" (compat/smsapi).
SMSAPI_PATHS = ["/smsapi/", "/smsapi/send%0A", "/smsapi/send/", "/smsapi/send.php", "/smsapi/%0A%0A", "/smsapi/%FF"]


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("path", SMSAPI_PATHS)
def test_any_unknown_path_under_smsapi_answers_smsapi_s_error(path, method, debug):
    with override_settings(DEBUG=debug):
        response = getattr(Client(), method)(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": 8, "message": "Unknown endpoint."}


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
@pytest.mark.parametrize("path", ["/apiary", "/api-keys%0A", "/smsapis", "/no-such-page%0A"])
def test_an_unknown_path_beside_the_api_stays_the_portal_s_html_page(path, debug):
    with override_settings(DEBUG=debug):
        response = Client().get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_the_portal_s_api_keys_page_is_not_taken_for_the_api(owner):
    client = Client()
    client.force_login(owner)
    response = client.get("/api-keys/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
