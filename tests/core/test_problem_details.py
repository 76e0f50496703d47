import pytest

from core.problems import problem_type

pytestmark = pytest.mark.urls("tests.core.problem_urls")

PROBLEM_FIELDS = {"type", "title", "status", "detail", "code"}


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body.keys() >= PROBLEM_FIELDS
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == problem_type(code)
    return body


def test_validation_error_is_a_problem_with_field_errors(client):
    response = client.post("/api/v1/test/echo", {"to": "12345", "count": 99}, content_type="application/json")
    body = assert_problem(response, 400, "invalid_request")
    assert set(body["errors"]) == {"to", "count"}
    assert all(isinstance(m, str) for messages in body["errors"].values() for m in messages)
    assert "count" in body["detail"]
    assert "to" in body["detail"]


def test_malformed_json_is_a_problem(client):
    response = client.post("/api/v1/test/echo", "{not json", content_type="application/json")
    assert_problem(response, 400, "invalid_request")


def test_application_error_keeps_its_status_and_code(client):
    response = client.post("/api/v1/test/echo", {"to": "+447700900123", "count": 7}, content_type="application/json")
    body = assert_problem(response, 402, "insufficient_credit")
    assert body["detail"] == "Not enough credit."


def test_valid_request_passes(client):
    response = client.post("/api/v1/test/echo", {"to": "+447700900123", "count": 2}, content_type="application/json")
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/nowhere", "/api/nowhere/at/all", "/api", "/api/v1/"])
def test_unknown_api_route_is_a_problem(client, path):
    body = assert_problem(client.get(path), 404, "not_found")
    assert path in body["detail"]


def test_unknown_route_outside_the_api_is_an_html_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_unauthenticated_is_401_with_www_authenticate(client):
    response = client.get("/api/v1/test/protected")
    assert_problem(response, 401, "unauthenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_wrong_method_is_a_problem(client):
    assert_problem(client.delete("/api/v1/test/echo"), 405, "method_not_allowed")


def test_client_accepting_only_problem_json_gets_it(client):
    response = client.post(
        "/api/v1/test/echo",
        {"to": "x", "count": 1},
        content_type="application/json",
        HTTP_ACCEPT="application/problem+json",
    )
    assert_problem(response, 400, "invalid_request")


@pytest.mark.parametrize("path", ["/api/v1/test/broken", "/smsapi/test/broken"])
def test_a_bug_under_the_api_is_a_problem_500(client, path):
    client.raise_request_exception = False
    response = client.get(path)
    body = assert_problem(response, 500, "server_error")
    assert "a bug" not in body["detail"]
