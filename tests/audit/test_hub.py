"""The event hub: what a service records is published to the subscribers after commit."""

import pytest
from django.db import transaction

from audit import hub
from audit.services import SECURITY_ALERT, audit_record, security_alert

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def seen():
    events: list[hub.Event] = []

    def subscriber(event: hub.Event) -> None:
        events.append(event)

    hub.subscribe(subscriber, actions={"test.happened", SECURITY_ALERT})
    yield events
    hub.unsubscribe(subscriber)


def test_a_recorded_event_reaches_its_subscribers_after_commit(owner, seen):
    with transaction.atomic():
        recorded = audit_record(action="test.happened", actor=owner, data={"n": 1})
        assert seen == []  # not before the commit
    [event] = seen
    assert (event.action, event.audit_event_id, event.account_id, event.actor_id, event.data) == (
        "test.happened",
        recorded.pk,
        owner.membership.account_id,
        owner.pk,
        {"n": 1},
    )


def test_a_rolled_back_event_reaches_no_subscriber(owner, seen):
    def failing_request():
        with transaction.atomic():
            audit_record(action="test.happened", actor=owner)
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        failing_request()
    assert seen == []


def test_subscribers_get_only_the_actions_they_asked_for(owner, seen):
    audit_record(action="test.other", actor=owner)
    assert seen == []


def test_a_failing_subscriber_does_not_stop_the_others_or_the_request(owner, caplog):
    after: list[str] = []

    def broken(event):
        raise ValueError("subscriber bug")

    def next_one(event):
        after.append(event.action)

    for handler in (broken, next_one):
        hub.subscribe(handler, actions={"test.failing"})
    try:
        audit_record(action="test.failing", actor=owner)  # does not raise
    finally:
        hub.unsubscribe(broken)
        hub.unsubscribe(next_one)
    assert after == ["test.failing"]
    assert "broken" in caplog.text
    assert "test.failing" in caplog.text


def test_a_security_alert_is_an_event_with_a_notice_for_the_owner(owner, seen):
    security_alert(account=owner.account, kind="test", subject="Subject", body="Body")
    [event] = seen
    assert (event.action, event.account_id, event.notice) == (
        SECURITY_ALERT,
        owner.membership.account_id,
        hub.Notice(kind="test", subject="Subject", body="Body"),
    )


def test_the_owner_gets_one_alert_an_hour_per_kind(owner, mailoutbox, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    for _ in range(3):
        security_alert(account=owner.account, kind="test-hourly", subject="Subject", body="Body")
    security_alert(account=owner.account, kind="test-other", subject="Other", body="Body")
    assert [(mail.subject, mail.to) for mail in mailoutbox] == [("Subject", [owner.email]), ("Other", [owner.email])]
