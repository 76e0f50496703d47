"""Canary: a verification's code reaches the phone and nowhere else: no log line, no output, no
audit row, no answer of the API, no message text at rest once handed over (the pattern of
tests/security/test_log_canary.py, whose checks this reuses)."""

import pytest

from messaging.backends import locmem
from messaging.models import Message
from tests import api_support as api
from tests.security.test_log_canary import assert_nowhere
from tests.verify.support import NUMBER, check, code_sent_to, other_code, start

pytestmark = pytest.mark.django_db


def test_no_verification_code_reaches_a_log(client, owner, capture_everything):
    run = capture_everything
    _, secret = api.make_token(owner, scopes=["verify", "messages:read"])
    key = api.bearer(secret)
    answers = []

    first = run(lambda: start(client, key, template="{code} is your ACME code"))
    answers.append(first)
    code = code_sent_to(NUMBER)
    answers.append(run(lambda: check(client, key, first.json()["id"], other_code(code))))
    answers.append(run(lambda: check(client, key, first.json()["id"], code)))
    answers.append(run(lambda: check(client, key, first.json()["id"], code)))  # refused: single use
    answers.append(run(lambda: client.get(f"/api/v1/verifications/{first.json()['id']}", **key)))

    second = run(lambda: start(client, key))
    answers.append(second)
    second_code = code_sent_to(NUMBER)
    for _ in range(6):  # closed after five, then refused
        answers.append(run(lambda: check(client, key, second.json()["id"], other_code(second_code))))
    answers.append(run(lambda: client.get("/api/v1/messages", **key)))

    codes = {code, second_code}
    assert len(locmem.outbox) == 2  # the codes did reach the phone
    assert [a.status_code for a in answers] == [201, 200, 200, 409, 200, 201, *[200] * 5, 429, 200]
    assert_nowhere(codes, capture_everything)
    for answer in answers:
        for secret_code in codes:
            assert secret_code not in answer.content.decode()
    for text in Message.objects.values_list("text", flat=True):
        assert not any(secret_code in text for secret_code in codes)
