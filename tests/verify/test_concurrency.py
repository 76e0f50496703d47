"""On PostgreSQL, under real concurrency: checks lock the verification (one approval of many right
codes at once), and the caps are counted under a lock (never more starts than allowed).

The requests are made to overlap for sure: this test's own transaction holds a row they all need
until every one of them waits for a lock, then lets them go."""

import threading

import pytest
from django.db import connection, transaction
from django.test import Client

from accounts.models import Account
from messaging.models import Message
from tests import api_support as api
from tests.conftest import run_concurrently, wait_for
from tests.verify.support import CODE_IN_TEXT, NUMBER, check, start
from verify.models import Verification


@pytest.fixture
def key(transactional_db, owner):
    _, secret = api.make_token(owner, scopes=["verify"])
    return api.bearer(secret)


def waiting_for_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # else read once per transaction
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0]


def overlapping(count: int, request, *, held) -> list:
    """`count` requests, each from its own client, thread and connection, all started while this
    thread holds the rows of `held` (a queryset) and released once all of them wait for a lock."""
    answers: list = []
    requests = threading.Thread(
        target=lambda: answers.extend(run_concurrently(*[lambda: request(Client()) for _ in range(count)]))
    )
    with transaction.atomic():
        list(held.select_for_update())
        requests.start()
        wait_for(lambda: waiting_for_locks() >= count, timeout=30, message=f"{count} requests waiting for locks")
    requests.join(60)
    assert len(answers) == count
    return answers


def test_ten_concurrent_checks_of_the_right_code_approve_exactly_once(key):
    verification_id = start(Client(), key).json()["id"]
    # No worker runs here: the SMS waits in the queue with its text (and code) still in it.
    message = Message.objects.get(pk=Verification.objects.get(pk=verification_id).message_id)
    code = CODE_IN_TEXT.search(message.text).group(1)

    answers = overlapping(
        10,
        lambda client: check(client, key, verification_id, code),
        held=Verification.objects.filter(pk=verification_id),
    )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [409] * 9, [a.content for a in answers]
    approved = [a.json() for a in answers if a.status_code == 200]
    assert approved == [{"id": verification_id, "status": "approved"}]
    assert Verification.objects.get(pk=verification_id).status == "approved"


def test_concurrent_starts_for_one_number_never_pass_its_cap(key, owner):
    # The account's row is what a send's charge waits for: all eight are in flight at once.
    answers = overlapping(
        8, lambda client: start(client, key), held=Account.objects.filter(pk=owner.membership.account_id)
    )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] * 5 + [429] * 3, [a.content for a in answers]
    assert Verification.objects.filter(to=NUMBER).count() == 5
    assert Message.objects.filter(recipient=NUMBER).count() == 5
