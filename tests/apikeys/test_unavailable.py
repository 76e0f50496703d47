"""A service behind the API that is down (Redis here, for real: nothing listens on the port) is a
503 problem with Retry-After, never a 500, and the request does nothing."""

import logging

import pytest
from django.test import override_settings

from messaging.models import Message
from tests.api_support import assert_problem, bearer, make_token

UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:9/0",  # the discard port: nothing answers
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
    }
}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("get", "/api/v1/balance", None), ("post", "/api/v1/messages", {"to": "+447400123456", "text": "Hi"})],
)
def test_redis_down_is_a_503_problem_and_nothing_is_done(client, owner, method, path, body, caplog):
    _, secret = make_token(owner, scopes=["balance:read", "messages:send"])
    kwargs = {"data": body, "content_type": "application/json"} if body else {}
    with override_settings(CACHES=UNREACHABLE_REDIS), caplog.at_level(logging.ERROR, logger="core.api"):
        response = getattr(client, method)(path, **kwargs, **bearer(secret))
    assert_problem(response, 503, "service_unavailable")
    assert response["Retry-After"] == "5"
    assert not Message.objects.exists()
    assert "ConnectionError" in caplog.text
    assert secret not in caplog.text
    # Redis back: the same request works.
    response = getattr(client, method)(path, **kwargs, **bearer(secret))
    assert response.status_code in (200, 202), response.content


@pytest.mark.django_db
def test_the_legacy_endpoint_answers_503_too(client, owner):
    from tests.api_support import make_credential

    credential, secret = make_credential(owner)
    params = {"smsUser": credential.key_id, "smsKey": secret, "to": "+447400123456", "message": "Hi"}
    with override_settings(CACHES=UNREACHABLE_REDIS):
        response = client.post("/smsapi/send", params)
    assert response.status_code == 503
    assert response.content.startswith(b"ERROR service_unavailable")
    assert response["Retry-After"] == "5"
    assert not Message.objects.exists()
