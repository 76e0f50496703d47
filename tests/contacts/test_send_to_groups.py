"""POST /messages with `to_groups`: the groups' contacts join `to`, each number once, within the
recipient limit; a group that is not the caller's account's is refused, named."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts import services
from core.errors import ApplicationError
from messaging.models import Message
from messaging.services import message_submit
from tests.api_support import assert_problem, bearer, make_token, post_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(make_account):
    return make_account(credit=1000)


@pytest.fixture
def token(account):
    return bearer(make_token(account.memberships.get().user)[1])


@pytest.fixture
def send(client, token):
    return lambda body: post_json(client, "/api/v1/messages", body, **token)


@pytest.fixture
def groups(account):
    a = services.group_create(account_id=account.pk, name="A")
    b = services.group_create(account_id=account.pk, name="B")
    services.contact_create(account_id=account.pk, phone="+447400000001", group_ids=[a.pk, b.pk])
    services.contact_create(account_id=account.pk, phone="+447400000002", group_ids=[a.pk])
    services.contact_create(account_id=account.pk, phone="+447400000003", group_ids=[b.pk])
    services.contact_create(account_id=account.pk, phone="+447400000009")  # in no group
    return a, b


def sent_to(response) -> list[str]:
    assert response.status_code == 202, response.content
    return sorted(m["to"] for m in response.json()["messages"])


def test_groups_are_merged_with_to_and_each_number_is_sent_once(send, groups):
    a, b = groups
    response = send({"to": ["+447400000001", "+48500100200"], "to_groups": [a.pk, b.pk], "text": "Hi"})
    assert sent_to(response) == ["+447400000001", "+447400000002", "+447400000003", "+48500100200"]
    assert Message.objects.count() == 4


def test_groups_alone_are_enough(send, groups):
    response = send({"to_groups": [groups[0].pk], "text": "Hi"})
    assert sent_to(response) == ["+447400000001", "+447400000002"]


def test_an_unknown_or_another_accounts_group_is_refused_by_id(send, groups, make_account):
    theirs = make_account()
    their_group = services.group_create(account_id=theirs.pk, name="Theirs")
    services.contact_create(account_id=theirs.pk, phone="+447400000777", group_ids=[their_group.pk])
    for unknown in (their_group.pk, 987_654):
        response = send({"to": "+447400000001", "to_groups": [groups[0].pk, unknown], "text": "Hi"})
        body = assert_problem(response, 400, "unknown_groups")
        assert str(unknown) in body["detail"]
        assert body["errors"] == {"to_groups": [f"No group with id {unknown}."]}
    assert not Message.objects.exists()


def test_invalid_group_ids_and_empty_groups_are_400(send, account):
    empty = services.group_create(account_id=account.pk, name="Empty")
    for body in ({"to_groups": ["x"], "text": "Hi"}, {"to_groups": [2**70], "text": "Hi"}, {"to_groups": 5}):
        assert_problem(send(body), 400, "invalid_request")
    body = assert_problem(send({"to_groups": [empty.pk], "text": "Hi"}), 400)
    assert "to_groups" in body["errors"]


def test_the_recipient_limit_counts_the_merged_numbers(send, groups, settings):
    settings.SMS_MAX_RECIPIENTS = 3
    a, b = groups
    # Three distinct numbers: within the limit, although `to` and the groups name five.
    within = send({"to": ["+447400000001", "+447400000002"], "to_groups": [a.pk, b.pk], "text": "Hi"})
    assert len(sent_to(within)) == 3
    response = send({"to": "+48500100200", "to_groups": [a.pk, b.pk], "text": "Hi"})
    assert_problem(response, 413, "too_many_recipients")
    assert Message.objects.count() == 3


def test_expanding_groups_is_one_query_whatever_their_size(send, account, groups):
    a, _ = groups

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert send({"to_groups": [a.pk], "text": "Hi"}).status_code == 202
        return len(captured.captured_queries)

    queries()  # warm: the key's first use
    few = queries()
    for i in range(30):
        services.contact_create(account_id=account.pk, phone=f"+4474001{i:05d}", group_ids=[a.pk])
    # A request of more than 20 recipients reads the balance once before writing (the precheck).
    assert queries() == few + 1


def test_idempotency_tells_requests_with_other_groups_apart(account, groups):
    owner = account.memberships.get().user
    a, b = groups

    def submit(**kwargs):
        return message_submit(account_id=account.pk, user=owner, caller="t", text="Hi", idempotency_key="k", **kwargs)

    first = submit(to=[], to_groups=[a.pk])
    assert submit(to=[], to_groups=[a.pk]).batch_id == first.batch_id
    with pytest.raises(ApplicationError) as refused:
        submit(to=[], to_groups=[b.pk])
    assert refused.value.code == "idempotency_conflict"


def test_to_groups_needs_contacts_read_too(client, account, groups):
    """The answer names every number sent to, so a key that may not read contacts cannot learn a
    group's numbers by sending to it."""
    _, secret = make_token(account.memberships.get().user, scopes=["messages:send"])
    body = {"to_groups": [groups[0].pk], "text": "Hi"}
    refused = assert_problem(post_json(client, "/api/v1/messages", body, **bearer(secret)), 403, "insufficient_scope")
    assert "`contacts:read`" in refused["detail"]
    plain = post_json(client, "/api/v1/messages", {"to": "+447400000001", "text": "Hi"}, **bearer(secret))
    assert plain.status_code == 202
    assert not Message.objects.filter(recipient="+447400000002").exists()


def test_a_group_larger_than_the_limit_is_413_without_reading_it_all(send, account, groups, settings):
    settings.SMS_MAX_RECIPIENTS = 1
    a, b = groups
    assert_problem(send({"to_groups": [a.pk], "text": "Hi"}), 413, "too_many_recipients")  # 2 contacts
    assert_problem(send({"to_groups": [a.pk, b.pk], "text": "Hi"}), 413, "too_many_recipients")
    assert not Message.objects.exists()
