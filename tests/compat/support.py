"""Helpers of the SMSGate dialect's tests: its base path, its message body and the check every
SMSGate error answer must pass."""

from django.test import Client

from tests.api_support import PHONE, post_json

BASE = "/3rdparty/v1"


def smsgate_send(client: Client, headers: dict, numbers=(PHONE,), text: str = "Hello", **fields):
    body = {"phoneNumbers": list(numbers), "textMessage": {"text": text}, "withDeliveryReport": True, **fields}
    return post_json(client, f"{BASE}/messages", body, **headers)


def assert_smsgate_error(response, status: int, code: str | None = None) -> dict:
    """SMSGate's ErrorResponse: JSON `{"message", "code": <status>, "data": {"code"}}`, never HTML
    or a problem document; 401s keep WWW-Authenticate."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    body = response.json()
    assert set(body) == {"message", "code", "data"}, body
    assert body["code"] == status
    assert body["message"]
    if code is not None:
        assert body["data"]["code"] == code, body
    if status == 401:
        assert response.get("WWW-Authenticate", "").startswith("Bearer"), response.headers
    return body
