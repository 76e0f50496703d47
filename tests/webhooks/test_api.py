"""The webhooks API (SPEC §5): shapes, the secret in the 201 only, problem details, tenant isolation,
the test event, and audit events for every change."""

import uuid

import pytest

from audit.models import AuditEvent
from core.errors import Forbidden
from tests import api_support as api
from webhooks.models import Delivery, Endpoint
from webhooks.services import MAX_ENDPOINTS

pytestmark = pytest.mark.django_db


@pytest.fixture
def key(account_owner) -> dict:
    _, token = api.make_token(account_owner, scopes=["webhooks:manage"])
    return api.bearer(token)


def create(client, key, receiver, events=("message.delivered", "message.received")):
    return api.post_json(client, "/api/v1/webhooks", {"url": receiver.url, "events": list(events)}, **key)


def test_create_answers_the_endpoint_with_its_secret_once(client, key, receiver):
    response = create(client, key, receiver)
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "url", "events", "enabled", "created_at", "secret"}
    assert body["secret"].startswith("whsec_")
    assert (body["url"], body["events"], body["enabled"]) == (
        receiver.url,
        ["message.delivered", "message.received"],
        True,
    )
    assert body["created_at"].endswith("Z")

    listed = client.get("/api/v1/webhooks", **key).json()
    assert [item["id"] for item in listed["results"]] == [body["id"]]
    assert "secret" not in listed["results"][0]
    assert body["secret"] not in str(listed)
    event = AuditEvent.objects.get(action="webhook.created")
    assert event.actor_token
    assert event.data["events"] == ["message.delivered", "message.received"]
    assert body["secret"] not in str(event.data)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"events": ["message.delivered"]}, "url"),
        ({"url": "https://x.example/", "events": []}, "events"),
        ({"url": "https://x.example/", "events": ["message.exploded"]}, "events"),
    ],
)
def test_invalid_requests_are_problems_naming_the_field(client, key, payload, field):
    body = api.assert_problem(api.post_json(client, "/api/v1/webhooks", payload, **key), 400)
    assert {name.split(".")[0] for name in body["errors"]} == {field}
    assert not Endpoint.objects.exists()


def test_an_unsafe_url_is_a_400_naming_url(client, key, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    response = api.post_json(
        client, "/api/v1/webhooks", {"url": "http://127.0.0.1:8000/x", "events": ["message.sent"]}, **key
    )
    body = api.assert_problem(response, 400, "unsafe_url")
    assert "loopback" in body["errors"]["url"][0]


def test_at_most_twenty_endpoints(client, key, receiver):
    for _ in range(MAX_ENDPOINTS):
        assert create(client, key, receiver).status_code == 201
    api.assert_problem(create(client, key, receiver), 409, "too_many_endpoints")


def test_delete_and_test(client, key, receiver, queued_tasks):
    endpoint_id = create(client, key, receiver).json()["id"]
    response = api.post_json(client, f"/api/v1/webhooks/{endpoint_id}/test", {}, **key)
    assert response.status_code == 202
    [delivery] = Delivery.objects.all()
    assert (delivery.event_type, str(delivery.endpoint_id)) == ("webhook.test", endpoint_id)

    assert client.delete(f"/api/v1/webhooks/{endpoint_id}", **key).status_code == 204
    assert not Endpoint.objects.exists()
    assert AuditEvent.objects.filter(action="webhook.deleted", object_id=endpoint_id).exists()
    api.assert_problem(client.delete(f"/api/v1/webhooks/{endpoint_id}", **key), 404, "not_found")


def test_another_accounts_endpoint_is_not_found(client, key, receiver, make_account):
    other = make_account(credit=1).memberships.get().user
    _, their_token = api.make_token(other, scopes=["webhooks:manage"])
    theirs = create(client, api.bearer(their_token), receiver).json()["id"]

    assert client.get("/api/v1/webhooks", **key).json()["results"] == []
    api.assert_problem(client.delete(f"/api/v1/webhooks/{theirs}", **key), 404, "not_found")
    api.assert_problem(api.post_json(client, f"/api/v1/webhooks/{theirs}/test", {}, **key), 404, "not_found")
    api.assert_problem(client.delete(f"/api/v1/webhooks/{uuid.uuid4()}", **key), 404, "not_found")
    assert Endpoint.objects.filter(pk=theirs).exists()
    assert not Delivery.objects.exists()


def test_a_subuser_needs_manage_security_to_hand_out_the_scope(account_owner):
    member = api.make_subuser(account_owner, send_sms=True, manage_api_tokens=True)
    with pytest.raises(Forbidden, match="webhooks:manage"):
        api.make_token(member, scopes=["webhooks:manage"])
    manager = api.make_subuser(account_owner, manage_security=True, manage_api_tokens=True)
    api.make_token(manager, scopes=["webhooks:manage"])
