"""No key does more than whoever holds it may: a reset credential acts for the user who reset it,
a send-only token of a sub-user cannot cancel or read others' messages, an access token never
outlives its parent, and disabling a key ends its access tokens for good."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apikeys import services
from audit.models import AuditEvent
from messaging.models import Message, PriceRule
from tests import api_support as api

pytestmark = pytest.mark.django_db


@pytest.fixture
def priced(db):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})


def test_a_credential_reset_by_a_sub_user_acts_for_that_sub_user(owner, priced):
    credential, _ = api.make_credential(owner, scopes=["messages:send"])
    sub = api.make_subuser(owner, send_sms=True, manage_api_tokens=True, monthly_limit=Decimal("0"))
    client = Client()
    own, own_secret = api.make_credential(sub, scopes=["messages:send"])
    assert api.send(client, api.basic(own.key_id, own_secret)).status_code == 402  # its limit of 0 points
    new = services.credential_reset(user=sub, credential_id=credential.pk)
    # The sub-user holds the new secret: it sends under the sub-user's limit, not the owner's.
    api.assert_problem(api.send(client, api.basic(credential.key_id, new.secret)), 402)
    credential.refresh_from_db()
    assert credential.created_by == sub
    event = AuditEvent.objects.get(action="api_credential.reset")
    assert event.data["acted_for"] == owner.email
    # The owner resetting their own: nothing moves.
    mine, _ = api.make_credential(owner, scopes=["messages:send"])
    services.credential_reset(user=owner, credential_id=mine.pk)
    assert "acted_for" not in AuditEvent.objects.filter(action="api_credential.reset").latest("id").data


def test_a_send_only_sub_user_token_cannot_cancel_or_read_others_messages(owner, priced):
    client = Client()
    _, owner_secret = api.make_token(owner)
    at = (timezone.now() + timedelta(days=2)).isoformat().replace("+00:00", "Z")
    sent = api.send(client, api.bearer(owner_secret), text="Owner's private text", scheduled_at=at)
    assert sent.status_code == 202, sent.content
    message_id = sent.json()["messages"][0]["id"]
    sub = api.make_subuser(owner, send_sms=True, view_messages=False, manage_api_tokens=True)
    _, sub_secret = api.make_token(sub, scopes=["messages:send"])
    api.assert_problem(client.delete(f"/api/v1/messages/{message_id}", **api.bearer(sub_secret)), 404)
    assert Message.objects.get(pk=message_id).status == Message.Status.SCHEDULED
    # Its own scheduled message it can cancel.
    own = api.send(client, api.bearer(sub_secret), scheduled_at=at).json()["messages"][0]["id"]
    assert client.delete(f"/api/v1/messages/{own}", **api.bearer(sub_secret)).status_code == 200


def test_an_access_token_never_outlives_its_parent(owner):
    parent_expiry = timezone.now() + timedelta(minutes=10)
    _, secret = api.make_token(owner, expires_at=parent_expiry)
    issued = api.issue_access(Client(), api.bearer(secret), ttl=86400)
    assert parse_datetime(issued["expires_at"]) <= parent_expiry
    # Asked again, the same token (a new one would not last longer), not a new row per call.
    assert api.issue_access(Client(), api.bearer(secret), ttl=86400)["id"] == issued["id"]


def test_disabling_a_key_ends_its_access_tokens_for_good(owner):
    token, secret = api.make_token(owner)
    access = api.issue_access(Client(), api.bearer(secret))["access_token"]
    assert Client().get("/api/v1/balance", **api.bearer(access)).status_code == 200
    services.token_set_disabled(user=owner, token_id=token.pk, disabled=True)
    services.token_set_disabled(user=owner, token_id=token.pk, disabled=False)
    assert Client().get("/api/v1/balance", **api.bearer(secret)).status_code == 200  # the key itself again
    api.assert_problem(Client().get("/api/v1/balance", **api.bearer(access)), 401)  # not what it handed out
