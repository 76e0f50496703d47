"""Canary: API tokens, credential secrets and access tokens never reach a log, the captured output
or an audit row, whatever the API is asked (successes, refusals, rate limits, the legacy endpoint
with the key in the query string). Audit events name keys by their public prefix or key id only.

Everything runs with the root logger and the project's loggers at DEBUG, stdout and stderr
captured at the file-descriptor level, commit hooks executed and deliveries run in-process.
"""

import io
import re

import pytest
from django.core.management import call_command

from accounts.models import Account
from apikeys import services
from apikeys.models import ApiCredential, ApiToken
from audit.models import AuditEvent
from security.services import ip_allowlist_replace
from tests.api_support import PHONE, basic, bearer, make_credential, make_token, post_json, send

pytestmark = pytest.mark.django_db

# What a key looks like: token `live_<12 hex>_<43>`, credential secret `live_<43>`, access token
# `at_<32 hex>_<64 hex>` (43 = 256 random bits in URL-safe base64).
KEY_SHAPE = re.compile(
    r"(?<![\w-])(?:(?:live|test)_(?:[0-9a-f]{12}_)?([A-Za-z0-9_-]{43})|at_[0-9a-f]{32}_([0-9a-f]{64}))(?![\w-])"
)


def key_shaped(text: str) -> str | None:
    """Something that looks like a key (random part with capitals and digits, not a name)."""
    for match in KEY_SHAPE.finditer(text):
        random_part = match.group(1) or match.group(2)
        if match.group(2) or (any(c.isupper() for c in random_part) and any(c.isdigit() for c in random_part)):
            return match.group(0)[:8]
    return None


def secret_parts(secret: str) -> set[str]:
    """The whole secret and its random part (a prefix or key id is public; the rest is not)."""
    parts = {secret}
    if secret.startswith("at_"):
        parts.add(secret.rsplit("_", 1)[1])
    else:
        parts.add(secret.split("_", 2)[-1] if secret.count("_") >= 2 and len(secret.split("_")[1]) == 12 else "")
        parts.add(secret.split("_", 1)[1])
    return {part for part in parts if len(part) >= 20}


def assert_nowhere(secrets: set[str], capture) -> None:
    haystacks = capture.texts()
    for where, text in haystacks.items():
        for secret in secrets:
            assert secret not in text, f"a secret ({secret[:6]}…) appears in {where}"
        assert not key_shaped(text), f"something shaped like a key ({key_shaped(text)}…) appears in {where}"


def test_no_token_secret_or_access_token_reaches_a_log(client, owner, capture_everything, fresh_window):
    run = capture_everything
    secrets: set[str] = set()
    account = owner.membership.account
    Account.objects.filter(pk=account.pk).update(api_token_rate_limit_per_minute=30)

    # Keys made by the commands (their output is the secret, shown once: kept out of the logs).
    command_out = io.StringIO()
    call_command("create_api_token", "--email", owner.email, "--scopes", "messages:send balance:read",
                 stdout=command_out)  # fmt: skip
    call_command("create_api_credential", "--email", owner.email, "--scopes", "messages:send", stdout=command_out)
    command_lines = command_out.getvalue().strip().splitlines()
    command_token = next(line for line in command_lines if line.startswith("live_")).strip()
    command_key_id, command_secret = next(line for line in command_lines if line.startswith("ak_")).split()
    secrets |= secret_parts(command_token) | secret_parts(command_secret)

    token, live = make_token(owner)
    test_token, test = make_token(owner, is_test=True)
    credential, credential_secret = make_credential(owner)
    test_credential, test_credential_secret = make_credential(owner, is_test=True)
    for secret in (live, test, credential_secret, test_credential_secret):
        secrets |= secret_parts(secret)

    # Bearer, Basic, test mode, successes and refusals.
    assert run(lambda: client.get("/api/v1/balance", **bearer(live))).status_code == 200
    assert run(lambda: send(client, bearer(live))).status_code == 202
    assert run(lambda: send(client, bearer(test), to="+15005550003")).status_code == 202
    assert run(lambda: send(client, bearer(command_token))).status_code == 202
    assert run(lambda: send(client, basic(credential.key_id, credential_secret))).status_code == 202
    assert run(lambda: send(client, basic(test_credential.key_id, test_credential_secret))).status_code == 202
    assert run(lambda: send(client, bearer(live), to="not-a-number")).status_code == 400
    wrong_live = live[:-1] + ("y" if live.endswith("x") else "x")  # never the token itself
    assert run(lambda: client.get("/api/v1/balance", **bearer(wrong_live))).status_code == 401
    assert run(lambda: client.get("/api/v1/balance", **bearer(live + " extra"))).status_code == 401
    assert run(lambda: client.get("/api/v1/balance", **basic(credential.key_id, live))).status_code == 401
    other_digit = "1" if credential.key_id.endswith("0") else "0"  # a key id that is not this one
    wrong_key_id = basic(credential.key_id[:-1] + other_digit, credential_secret)
    assert run(lambda: client.get("/api/v1/balance", **wrong_key_id)).status_code == 401
    assert run(lambda: client.get("/api/v1/messages", **bearer(command_token))).status_code == 403

    # Access tokens: issued, reused, used, refused, revoked.
    issued = run(lambda: post_json(client, "/api/v1/auth/token", {"ttl": 600}, **bearer(live))).json()
    access = issued["access_token"]
    secrets |= secret_parts(access)
    run(lambda: post_json(client, "/api/v1/auth/token", {"ttl": 600}, **bearer(live)))
    from_credential = run(
        lambda: post_json(client, "/api/v1/auth/token", {"ttl": 60}, **basic(credential.key_id, credential_secret))
    ).json()["access_token"]
    secrets |= secret_parts(from_credential)
    assert run(lambda: send(client, bearer(access))).status_code == 202
    assert run(lambda: post_json(client, "/api/v1/auth/token", {"ttl": 600}, **bearer(access))).status_code == 403
    assert run(lambda: post_json(client, "/api/v1/auth/token", {"ttl": 5}, **bearer(live))).status_code == 400
    wrong_access = access[:-2] + ("11" if access.endswith("00") else "00")
    assert run(lambda: client.get("/api/v1/balance", **bearer(wrong_access))).status_code == 401
    assert run(lambda: client.delete(f"/api/v1/auth/token/{issued['id']}", **bearer(live))).status_code == 204
    assert run(lambda: client.get("/api/v1/balance", **bearer(access))).status_code == 401

    # The legacy endpoint: POST, and GET with the key in the query string, accepted and refused.
    legacy = {"smsUser": credential.key_id, "smsKey": credential_secret, "to": PHONE, "message": "Hi"}
    assert run(lambda: client.post("/smsapi/send", legacy)).status_code == 200
    assert run(lambda: client.get("/smsapi/send", legacy)).status_code == 200
    assert run(lambda: client.get("/smsapi/send", {**legacy, "format": "json"})).status_code == 200
    assert run(lambda: client.get("/smsapi/send", {**legacy, "to": "nonsense"})).status_code == 400
    assert run(lambda: client.get("/smsapi/send", {**legacy, "smsKey": credential_secret + "x"})).status_code == 401
    assert run(lambda: client.get("/smsapi/send", {**legacy, "smsUser": command_key_id})).status_code == 401
    assert run(lambda: client.get("/smsapi/send", {**legacy, "smsKey": command_secret, "smsUser": command_key_id,
                                                   "message": ""})).status_code == 400  # fmt: skip

    # A credential reset: the old secret is refused everywhere, the new one works.
    new_secret = run(lambda: services.credential_reset(user=owner, credential_id=credential.pk)).secret
    secrets |= secret_parts(new_secret)
    assert run(lambda: client.get("/api/v1/balance", **basic(credential.key_id, credential_secret))).status_code == 401
    assert run(lambda: client.get("/smsapi/send", legacy)).status_code == 401
    assert run(lambda: client.get("/smsapi/send", {**legacy, "smsKey": new_secret})).status_code == 200

    # Disabled, expired by deletion, refused by the allowlist, rate limited.
    run(lambda: services.token_set_disabled(user=owner, token_id=test_token.pk, disabled=True))
    assert run(lambda: client.get("/api/v1/balance", **bearer(test))).status_code == 401
    run(lambda: ip_allowlist_replace(account=account, scope="api", entries=[("203.0.113.0/24", "")], actor=owner))
    assert run(lambda: client.get("/api/v1/balance", **bearer(live))).status_code == 403
    assert run(lambda: client.get("/smsapi/send", {**legacy, "smsKey": new_secret})).status_code == 403
    run(lambda: ip_allowlist_replace(account=account, scope="api", entries=[], actor=owner))
    statuses = [run(lambda: client.get("/api/v1/balance", **bearer(live))).status_code for _ in range(30)]
    assert statuses[-1] == 429
    run(lambda: services.token_delete(user=owner, token_id=token.pk))
    assert run(lambda: client.get("/api/v1/balance", **bearer(live))).status_code == 401

    assert_nowhere(secrets, capture_everything)

    # The audit trail names keys by prefix or key id, never by secret.
    events = list(AuditEvent.objects.filter(account=account))
    stored = [repr((e.action, e.actor_token, e.data, e.object_repr, e.user_agent)) for e in events]
    for secret in secrets:
        assert not any(secret in row for row in stored), f"a secret ({secret[:6]}…) is in an audit row"
    assert not any(key_shaped(row) for row in stored)
    by_action = {}
    for event in events:
        by_action.setdefault(event.action, []).append(event)
    assert {e.data["prefix"] for e in by_action["api_token.created"]} == set(
        ApiToken.objects.filter(account=account).values_list("prefix", flat=True)
    ) | {token.prefix}
    assert {e.data["key_id"] for e in by_action["api_credential.created"]} == set(
        ApiCredential.objects.filter(account=account).values_list("key_id", flat=True)
    )
    assert [e.data for e in by_action["api_credential.reset"]] == [{"key_id": credential.key_id}]
    used = by_action["api_token.used_from_new_ip"] + by_action["api_credential.used_from_new_ip"]
    assert used
    labels = {token.prefix, test_token.prefix, credential.key_id, test_credential.key_id, command_key_id}
    labels |= set(ApiToken.objects.values_list("prefix", flat=True))
    assert {e.actor_token for e in used} <= labels
    # The commands print the secret once, on their own output, and nowhere else.
    assert command_token in command_out.getvalue()
