"""Canary (as tests/apikeys/test_canary.py for /api/v1): on the SMSGate dialect too, no credential
secret, API token or access token reaches a log, the captured output or an audit row: token issued
in both spellings, used, revoked and refused, sends accepted and refused."""

import pytest

from audit.models import AuditEvent
from tests.api_support import basic, bearer, make_credential, make_token, post_json
from tests.apikeys.test_canary import assert_nowhere, secret_parts
from tests.compat.support import BASE, smsgate_send

pytestmark = pytest.mark.django_db


def test_no_secret_of_the_smsgate_dialect_reaches_a_log(client, owner, capture_everything):
    run = capture_everything
    credential, secret = make_credential(owner)
    _, token = make_token(owner)
    key = basic(credential.key_id, secret)
    secrets = secret_parts(secret) | secret_parts(token)

    issued = run(lambda: post_json(client, f"{BASE}/auth/token", {"scopes": ["messages:send"]}, **key)).json()
    access = issued["accessToken"]
    secrets |= secret_parts(access)
    assert run(lambda: smsgate_send(client, bearer(access))).status_code == 202
    assert run(lambda: smsgate_send(client, key, id="canary-1")).status_code == 202
    assert run(lambda: smsgate_send(client, bearer(token), id="canary-1")).status_code == 409
    assert run(lambda: smsgate_send(client, key, numbers=["12345"])).status_code == 400
    assert run(lambda: smsgate_send(client, basic(credential.key_id, token))).status_code == 401
    assert (
        run(lambda: post_json(client, f"{BASE}/auth/token", {"scopes": ["verify"]}, **bearer(access))).status_code
        == 403
    )
    assert run(lambda: client.delete(f"{BASE}/auth/token/{issued['id']}", **key)).status_code == 204
    assert run(lambda: client.get(f"{BASE}/messages", **bearer(access))).status_code == 401
    assert run(lambda: client.get(f"{BASE}/messages/canary-1", **bearer(token))).status_code == 200

    assert_nowhere(secrets, run)
    for row in AuditEvent.objects.values_list("data", "object_repr", "actor_token", "user_agent"):
        for secret in secrets:
            assert secret not in repr(row)
