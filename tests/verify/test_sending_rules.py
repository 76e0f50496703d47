"""How a verification's SMS is sent: published at once (never in the dispatch buffer), by the
key's creator with that member's rules, and never left waiting where its code would die (a
sub-user's closed sending window, a link held for review): refused instead, nothing charged."""

from datetime import time

import pytest
import time_machine

from accounts.models import Account
from messaging import dispatch
from messaging.models import BlockedDomain, Message
from tests import api_support as api
from tests.verify.support import NUMBER, start
from verify import services
from verify.models import Verification, VerifySettings

pytestmark = pytest.mark.django_db


def test_the_sms_is_published_at_its_commit_not_buffered(client, owner, live, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        assert start(client, live).status_code == 201
    message = Message.objects.get()
    publishes = [c for c in callbacks if getattr(c, "func", None) is dispatch.publish]
    assert [c.args for c in publishes] == [([str(message.pk)],)]
    assert not any(getattr(c, "func", None) == dispatch.dispatcher.add for c in callbacks)


def test_outside_a_sub_users_sending_window_the_code_is_refused_not_scheduled(client, owner):
    sub = api.make_subuser(
        owner,
        send_sms=True,
        manage_api_tokens=True,
        window_weekdays=[1, 2, 3, 4, 5],
        window_start=time(9),
        window_end=time(17),
    )
    _, secret = api.make_token(sub, scopes=["verify"])
    key = api.bearer(secret)
    balance = Account.objects.get(pk=owner.membership.account_id).balance
    with time_machine.travel("2026-11-21T12:00:00Z", tick=False):  # a Saturday
        api.assert_problem(start(client, key), 403, "outside_sending_window")
    assert not Message.objects.exists()
    assert not Verification.objects.exists()
    assert Account.objects.get(pk=owner.membership.account_id).balance == balance
    with time_machine.travel("2026-11-23T10:00:00Z", tick=False):  # Monday, open
        assert start(client, key).status_code == 201
    assert Message.objects.get().status == Message.Status.QUEUED


def test_a_template_linking_to_a_blocked_domain_is_refused_before_and_at_sending(client, owner, live):
    BlockedDomain.objects.get_or_create(domain="bit.ly")
    body = api.assert_problem(start(client, live, template="{code} or tap bit.ly/x"), 400, "invalid_request")
    assert "template" in body["errors"]
    # Saved before the domain was blocked: the send refuses it rather than hold the code for review.
    VerifySettings.objects.create(account_id=owner.membership.account_id, template="{code} or tap bit.ly/x")
    api.assert_problem(start(client, live), 400, "blocked_domain")
    assert not Message.objects.exists()
    assert not Verification.objects.exists()


def test_the_key_creators_send_permission_is_needed(client, owner):
    sub = api.make_subuser(owner, send_sms=True, manage_api_tokens=True)
    _, secret = api.make_token(sub, scopes=["verify"])
    sub.membership.send_sms = False
    sub.membership.save(update_fields=["send_sms"])
    # The scope goes with the permission (apikeys.models.SCOPE_PERMISSION).
    api.assert_problem(start(client, api.bearer(secret)), 403, "insufficient_scope")


def test_the_service_refuses_a_template_without_the_code(owner):
    with pytest.raises(services.ApplicationError) as refused:
        services.verification_start(
            account_id=owner.membership.account_id, user=owner, caller="user:1", to=NUMBER, template="Hello"
        )
    assert refused.value.errors == {"template": ["Must contain {code}."]}
