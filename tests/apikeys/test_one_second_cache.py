"""SPEC §5: no cache may let a disabled key through for more than a second on any worker."""

import time

import pytest
from django.core.management import call_command

from apikeys.models import ApiToken
from core import localcache

pytestmark = pytest.mark.django_db


def test_a_key_disabled_by_another_worker_fails_within_a_second(client, owner, settings, capsys):
    settings.API_LOCAL_CACHE_SECONDS = 1  # the production setting
    localcache.clear()
    call_command("create_api_token", "--email", owner.email, "--scopes", "balance:read")
    token = capsys.readouterr().out.strip().splitlines()[-1]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert client.get("/api/v1/balance", **headers).status_code == 200
    # Another worker disables it: this process is not told.
    ApiToken.objects.update(disabled=True)
    time.sleep(1.1)
    assert client.get("/api/v1/balance", **headers).status_code == 401


def test_a_change_made_in_this_process_applies_at_once(client, owner, settings, capsys):
    from apikeys.services import token_set_disabled

    settings.API_LOCAL_CACHE_SECONDS = 1
    localcache.clear()
    call_command("create_api_token", "--email", owner.email, "--scopes", "balance:read")
    token = capsys.readouterr().out.strip().splitlines()[-1]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert client.get("/api/v1/balance", **headers).status_code == 200
    with pytest.MonkeyPatch.context() as patch:
        # on_commit hooks do not run inside the test transaction; run them as a commit would.
        patch.setattr("django.db.transaction.on_commit", lambda func, *a, **k: func())
        token_set_disabled(user=owner, token_id=ApiToken.objects.get().pk, disabled=True)
    assert client.get("/api/v1/balance", **headers).status_code == 401


def test_a_deleted_key_retried_costs_one_query_a_second(client, owner, settings, capsys):
    """A client that keeps sending a deleted (or made-up) token is refused from this process's
    memory for the second after the first refusal, not with a database query each time."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.API_LOCAL_CACHE_SECONDS = 1
    localcache.clear()
    call_command("create_api_token", "--email", owner.email, "--scopes", "balance:read")
    token = capsys.readouterr().out.strip().splitlines()[-1]
    ApiToken.objects.all().delete()  # deleted by another worker
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    with CaptureQueriesContext(connection) as captured:
        for _ in range(5):
            assert client.get("/api/v1/balance", **headers).status_code == 401
    assert len(captured.captured_queries) == 1


def test_sender_names_and_blocked_domains_apply_within_a_second(client, owner, settings, capsys):
    """The send path keeps the approved sender names and the blocked link domains in the process
    for a second: a revocation or a new block made elsewhere applies within that second."""
    from django.core.cache import cache

    from messaging.models import BlockedDomain, SenderName
    from tests.api_support import send

    settings.API_LOCAL_CACHE_SECONDS = 1
    localcache.clear()
    call_command("create_api_token", "--email", owner.email, "--scopes", "messages:send", "--test")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {capsys.readouterr().out.strip().splitlines()[-1]}"}
    name = SenderName.objects.create(account=owner.membership.account, name="ACME", status=SenderName.Status.APPROVED)
    assert send(client, headers, sender="ACME").status_code == 202
    SenderName.objects.filter(pk=name.pk).update(status=SenderName.Status.REJECTED)  # by another worker
    BlockedDomain.objects.create(domain="evil.example")
    cache.delete("messaging:blocked-domains")  # as the admin does on save
    time.sleep(1.1)
    assert send(client, headers, sender="ACME").json()["code"] == "sender_not_allowed"
    held = send(client, headers, text="see evil.example/x").json()
    assert held["messages"][0]["status"] == "held"
