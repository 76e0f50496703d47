import base64
from decimal import Decimal

import pytest
from django.core.management import call_command

from messaging.models import Message, PriceRule

pytestmark = pytest.mark.django_db


def test_quick_start_token_send_status_balance(client, owner, capsys):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    call_command("create_api_token", "--email", owner.email, "--scopes", "messages:send messages:read balance:read")
    token = capsys.readouterr().out.strip().splitlines()[-1]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    response = client.post(
        "/api/v1/messages", {"to": "+447400123456", "text": "Hello"}, content_type="application/json", **headers
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["total_cost"] == "1.0000"
    assert response["RateLimit-Limit"]
    message_id = body["messages"][0]["id"]
    detail = client.get(f"/api/v1/messages/{message_id}", **headers)
    assert detail.json()["status"] == "queued"
    assert client.get("/api/balance", **headers).json()["balance"] == "99.0000"
    assert client.get("/api/v1/messages", **headers).json()["results"][0]["id"] == message_id


def test_credential_basic_and_access_token(client, owner, capsys):
    call_command("create_api_credential", "--email", owner.email, "--scopes", "balance:read messages:read")
    key_id, secret = capsys.readouterr().out.strip().splitlines()[-1].split()
    basic = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()}
    assert client.get("/api/v1/balance", **basic).status_code == 200
    issued = client.post(
        "/api/v1/auth/token", {"ttl": 600, "scopes": ["balance:read"]}, content_type="application/json", **basic
    )
    assert issued.status_code == 201
    body = issued.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_at"].endswith("Z")
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {body['access_token']}"}
    assert client.get("/api/v1/balance", **bearer).status_code == 200
    assert client.get("/api/v1/messages", **bearer).status_code == 403
    again = client.post(
        "/api/v1/auth/token", {"ttl": 600, "scopes": ["balance:read"]}, content_type="application/json", **basic
    )
    assert again.json()["access_token"] == body["access_token"]
    assert client.delete(f"/api/v1/auth/token/{body['id']}", **basic).status_code == 204
    assert client.get("/api/v1/balance", **bearer).status_code == 401


def test_legacy_endpoint(client, owner, capsys):
    call_command("create_api_credential", "--email", owner.email, "--scopes", "messages:send")
    key_id, secret = capsys.readouterr().out.strip().splitlines()[-1].split()
    response = client.post(
        "/smsapi/send", {"smsUser": key_id, "smsKey": secret, "to": "+447400123456", "message": "Hi"}
    )
    assert response.status_code == 200
    assert response.content.startswith(b"OK ")
    assert Message.objects.count() == 1
    bad = client.post("/smsapi/send", {"smsUser": key_id, "smsKey": "nope", "to": "+447400123456", "message": "Hi"})
    assert bad.status_code == 401
    assert bad.content.startswith(b"ERROR unauthenticated")


def test_schema_and_docs_are_served(client):
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/messages" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    assert b"cdn" not in docs.content.lower()
