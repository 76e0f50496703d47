"""schemathesis against the live OpenAPI document of the WSGI app: every operation, generated
requests with a working test-mode token holding every scope. No answer may be a server error, and
every answer (errors included) must be documented: status code, content type and body schema."""

import re
import uuid

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.urls import resolve
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import Account
from tests.api_support import make_token

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def api_token(owner) -> str:
    # Generous limits: the run must exercise the API, not its rate limiter.
    Account.objects.filter(pk=owner.membership.account_id).update(
        api_rate_limit_per_minute=100_000, api_token_rate_limit_per_minute=100_000
    )
    return make_token(owner, is_test=True)[1]


@pytest.fixture
def api_schema(db):
    """The WSGI app itself, called in this thread so it sees the test's transaction. Django's own
    test client keeps the request signals from closing the test's connection; do the same."""
    from portal.wsgi import application

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/v1/schema/", application)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


MAX_EXAMPLES = 25


def server_url(document: dict) -> str:
    return (document.get("servers") or [{"url": "/"}])[0]["url"].rstrip("/")


def base_url(document: dict) -> str:
    """Where the operations live. The document's server URL and paths must compose to the real
    URLs (checked on its own below); this fuzzing does not depend on it."""
    server = server_url(document)
    first_path = next(iter(document["paths"]))
    return "http://localhost" + ("" if first_path.startswith(server + "/") else server)


def run_operation(operation, mode: GenerationMode, headers: dict, base_url: str) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    def check(case):
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

    check()


# schemathesis's own pytest integration (`schemathesis.pytest.from_fixture`) does not run on this
# pytest (it sets a node attribute pytest 9 no longer has), so the operations are driven here
# with Hypothesis directly: the same strategies, the same checks.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_conforms_to_the_schema(api_schema, api_token, mode):
    headers = {"Authorization": f"Bearer {api_token}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 29
    failures = []
    for operation in operations:
        try:
            run_operation(operation, mode, headers, base_url(api_schema.raw_schema))
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)


def test_the_schema_documents_every_operation_and_its_errors(client):
    document = client.get("/api/v1/schema/?format=json").json()
    prefix = base_url(document).removeprefix("http://localhost")
    operations = {(prefix + path, method) for path, item in document["paths"].items() for method in item}
    assert operations == {
        ("/api/v1/auth/token", "post"),
        ("/api/v1/auth/token/{token_id}", "delete"),
        ("/api/v1/messages", "get"),
        ("/api/v1/messages", "post"),
        ("/api/v1/messages/{message_id}", "get"),
        ("/api/v1/messages/{message_id}", "delete"),
        ("/api/v1/balance", "get"),
        ("/api/v1/contacts", "get"),
        ("/api/v1/contacts", "post"),
        ("/api/v1/contacts/{contact_id}", "get"),
        ("/api/v1/contacts/{contact_id}", "patch"),
        ("/api/v1/contacts/{contact_id}", "delete"),
        ("/api/v1/groups", "get"),
        ("/api/v1/groups", "post"),
        ("/api/v1/groups/{group_id}", "get"),
        ("/api/v1/groups/{group_id}", "patch"),
        ("/api/v1/groups/{group_id}", "delete"),
        ("/api/v1/verifications", "post"),
        ("/api/v1/verifications/{verification_id}", "get"),
        ("/api/v1/verifications/{verification_id}/check", "post"),
        ("/api/v1/opt-outs", "get"),
        ("/api/v1/opt-outs", "post"),
        ("/api/v1/opt-outs/{phone}", "delete"),
        ("/api/v1/inbound", "get"),
        ("/api/v1/inbound/{message_id}", "get"),
        ("/api/v1/webhooks", "get"),
        ("/api/v1/webhooks", "post"),
        ("/api/v1/webhooks/{endpoint_id}", "delete"),
        ("/api/v1/webhooks/{endpoint_id}/test", "post"),
    }
    for item in document["paths"].values():
        for operation in item.values():
            responses = operation["responses"]
            assert {"401", "403", "429"} <= set(responses), operation["operationId"]
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], operation["operationId"]
            assert operation["security"] == [{"bearer": []}, {"basic": []}]


def test_the_documents_server_url_and_paths_compose_to_the_real_endpoints(client):
    """A client generated from the document calls `servers[0].url + path`: that must be the
    endpoint, not /api/v1/api/v1/…"""
    document = client.get("/api/v1/schema/?format=json").json()
    server = server_url(document)
    for path, item in document["paths"].items():
        # A sample of each path parameter's type: a UUID, or 1 for an integer id.
        types = {
            parameter["name"]: parameter["schema"].get("type")
            for operation in item.values()
            for parameter in operation.get("parameters", [])
            if parameter["in"] == "path"
        }
        url = server + re.sub(
            r"\{(\w+)\}", lambda m, types=types: "1" if types.get(m.group(1)) == "integer" else str(uuid.uuid4()), path
        )
        assert resolve(url).url_name != "api-not-found", f"{server!r} + {path!r} is not an endpoint"


# Found by the fuzzing above (each was a 500): filters PostgreSQL cannot take as they are.
@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"created_after": "0606-09-04T03:41:49-20:29"}, 200),  # an offset Python takes and PostgreSQL refuses
        ({"created_before": "2026-13-01T00:00:00Z"}, 400),  # well-formed, impossible
        ({"created_after": "2026-02-30T00:00:00Z"}, 400),
        ({"created_before": "9999-12-31T23:59:59-05:00"}, 400),  # past year 9999 in UTC
        ({"to": "+44\x00"}, 400),
        ({"cursor": "WyIyMDI2LTAyLTMwVDAwOjAwOjAwWiIsICJlM2UwIl0"}, 400),  # ["2026-02-30T00:00:00Z", "e3e0"]
    ],
)
def test_list_filters_that_cannot_be_queried_as_given_are_not_a_server_error(client, api_token, params, status):
    response = client.get("/api/v1/messages", params, HTTP_AUTHORIZATION=f"Bearer {api_token}")
    assert response.status_code == status, response.content
    if status == 400:
        assert response.json()["code"] == "invalid_request"
        assert set(response.json()["errors"]) == set(params)
