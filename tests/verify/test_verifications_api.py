"""The Verify API (SPEC §5): a code sent by SMS (charged, redacted after hand-over), checked once,
expiring, closed by wrong codes, capped per number and per account, test keys apart, tenants apart."""

import hashlib
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from accounts.models import Account
from audit import hub
from messaging.backends import locmem
from messaging.models import LedgerEntry, Message
from messaging.services import REDACTED_TEXT
from security.models import hash_secret
from tests import api_support as api
from tests.verify.support import NUMBER, check, code_sent_to, other_code, start
from verify.apis import representations
from verify.models import Verification, VerifySettings

pytestmark = pytest.mark.django_db


def balance(user) -> Decimal:
    return Account.objects.get(pk=user.membership.account_id).balance


def test_a_verification_sends_a_charged_code_whose_text_is_redacted_after_hand_over(client, owner, live, delivered):
    before = balance(owner)
    response = delivered(lambda: start(client, live))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["to"] == NUMBER
    assert body["status"] == "pending"
    assert body["test"] is False
    created = timezone.now()
    expires = timezone.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=9, seconds=58) < expires - created <= timedelta(minutes=10)

    # One SMS, with the account's (default) template and a 6-digit code, handed over at once.
    [sms] = locmem.outbox
    assert sms.to == NUMBER
    code = code_sent_to(NUMBER)
    assert sms.text == f"Your verification code is {code}"
    message = Message.objects.get(pk=body["message_id"])
    assert message.sensitive
    assert not message.is_system
    assert not message.is_test
    assert message.status == Message.Status.DELIVERED
    assert message.text == REDACTED_TEXT  # the code is not at rest once the gateway has it
    assert client.get(f"/api/v1/messages/{message.pk}", **live).json()["text"] == REDACTED_TEXT

    # Charged like any message: a debit of its price on the ledger.
    assert message.cost > 0
    assert balance(owner) == before - message.cost
    assert LedgerEntry.objects.filter(account_id=owner.membership.account_id, kind="debit", amount=-message.cost)
    # Only a keyed digest bound to this verification is stored, never the code (nor its plain hash).
    stored = Verification.objects.get(pk=body["id"])
    assert stored.code_digest == hash_secret(code, context=f"verify:{stored.pk}")
    assert stored.code_digest != hashlib.sha256(code.encode()).hexdigest()


def test_the_right_code_approves_once_and_a_second_check_is_refused(client, owner, live, delivered):
    verification_id = delivered(lambda: start(client, live)).json()["id"]
    code = code_sent_to(NUMBER)
    first = check(client, live, verification_id, code)
    assert first.status_code == 200, first.content
    assert first.json() == {"id": verification_id, "status": "approved"}
    api.assert_problem(check(client, live, verification_id, code), 409, "already_approved")
    body = client.get(f"/api/v1/verifications/{verification_id}", **live).json()
    assert body["status"] == "approved"
    assert body["approved_at"] is not None


def test_a_code_expires_after_ten_minutes(client, owner, live, delivered):
    verification_id = delivered(lambda: start(client, live)).json()["id"]
    code = code_sent_to(NUMBER)
    with time_machine.travel(timezone.now() + timedelta(minutes=10, seconds=1)):
        assert client.get(f"/api/v1/verifications/{verification_id}", **live).json()["status"] == "expired"
        response = check(client, live, verification_id, code)
        assert response.status_code == 200
        assert response.json()["status"] == "expired"
    # Expired for good: the right code does not approve it later either (the clock back or not).
    assert check(client, live, verification_id, code).json()["status"] == "expired"
    assert Verification.objects.get(pk=verification_id).status == "expired"


def test_five_wrong_codes_close_the_verification_and_further_checks_are_429(client, owner, live, delivered):
    verification_id = delivered(lambda: start(client, live)).json()["id"]
    code = code_sent_to(NUMBER)
    wrong = other_code(code)
    for _ in range(4):
        assert check(client, live, verification_id, wrong).json()["status"] == "pending"
    assert check(client, live, verification_id, wrong).json()["status"] == "max_attempts_reached"
    # Closed: even the right code is refused now.
    refused = check(client, live, verification_id, code)
    api.assert_problem(refused, 429, "max_attempts_reached")
    assert refused["Retry-After"]
    assert client.get(f"/api/v1/verifications/{verification_id}", **live).json()["status"] == "max_attempts_reached"


def test_at_most_five_verifications_per_number_in_ten_minutes(client, owner, live):
    for _ in range(5):
        assert start(client, live).status_code == 201
    refused = start(client, live)
    api.assert_problem(refused, 429, "number_rate_limited")
    assert 590 <= int(refused["Retry-After"]) <= 600
    assert Verification.objects.count() == 5
    # Another number is not affected, and the first opens again once the window has moved on.
    assert start(client, live, to="+447400123457").status_code == 201
    with time_machine.travel(timezone.now() + timedelta(minutes=10, seconds=1)):
        assert start(client, live).status_code == 201


def test_an_account_starts_at_most_its_hourly_cap(client, owner, live, settings):
    settings.VERIFY_ACCOUNT_HOURLY_CAP = 3
    for n in range(3):
        assert start(client, live, to=f"+44740012345{n}").status_code == 201
    refused = start(client, live, to="+447400123459")
    api.assert_problem(refused, 429, "verify_hourly_cap_reached")
    assert 3590 <= int(refused["Retry-After"]) <= 3600
    assert Message.objects.count() == 3  # nothing sent for the refused one
    with time_machine.travel(timezone.now() + timedelta(hours=1, seconds=1)):
        assert start(client, live, to="+447400123459").status_code == 201


def test_without_credit_nothing_is_started_and_the_answer_is_402(client, make_account):
    broke = make_account(credit=0).memberships.get().user
    _, secret = api.make_token(broke, scopes=["verify"])
    api.assert_problem(start(client, api.bearer(secret)), 402, "insufficient_credit")
    assert not Verification.objects.exists()
    assert not Message.objects.exists()


def test_the_requests_template_or_the_accounts_is_used(client, owner, live, delivered):
    delivered(lambda: start(client, live, template="{code} is your ACME code"))
    assert locmem.outbox[-1].text == f"{code_sent_to(NUMBER)} is your ACME code"
    VerifySettings.objects.create(account_id=owner.membership.account_id, template="Code: {code}. Do not share it.")
    delivered(lambda: start(client, live))
    assert locmem.outbox[-1].text == f"Code: {code_sent_to(NUMBER)}. Do not share it."
    body = api.assert_problem(start(client, live, template="Your code is here"), 400, "invalid_request")
    assert "template" in body["errors"]
    assert len(locmem.outbox) == 2


def test_an_invalid_number_is_a_400(client, owner, live):
    body = api.assert_problem(start(client, live, to="12"), 400, "invalid_recipients")
    assert "to" in body["errors"]
    api.assert_problem(api.post_json(client, "/api/v1/verifications", {}, **live), 400)


def test_a_number_that_opted_out_is_refused_and_nothing_is_started_or_charged(client, owner, live):
    """Its SMS would never be handed over (SPEC §3: a send to an opt-out is rejected), so the code
    could not arrive: a clear 403 instead of a pending verification nobody can complete."""
    from contacts.services import opt_out_add

    opt_out_add(account_id=owner.membership.account_id, phone=NUMBER, source="api")
    before = balance(owner)
    api.assert_problem(start(client, live), 403, "opted_out")
    assert not Verification.objects.exists()
    assert not Message.objects.filter(recipient=NUMBER).exists()
    assert balance(owner) == before


def test_test_keys_send_nothing_charge_nothing_and_the_code_is_123456(client, owner, delivered, settings):
    settings.SMS_BACKEND = "locmem"
    _, secret = api.make_token(owner, scopes=["verify"], is_test=True)
    test = api.bearer(secret)
    before = balance(owner)
    body = delivered(lambda: start(client, test)).json()
    assert body["test"] is True
    assert locmem.outbox == []  # no gateway
    assert balance(owner) == before
    assert Message.objects.get(pk=body["message_id"]).cost > 0  # priced like a live one, never charged
    assert check(client, test, body["id"], "654321").json()["status"] == "pending"
    assert check(client, test, body["id"], "123456").json()["status"] == "approved"


def test_test_and_live_verifications_never_mix(client, owner, live):
    _, secret = api.make_token(owner, scopes=["verify"], is_test=True)
    test = api.bearer(secret)
    test_id = start(client, test).json()["id"]
    live_id = start(client, live).json()["id"]
    api.assert_problem(client.get(f"/api/v1/verifications/{test_id}", **live), 404)
    api.assert_problem(client.get(f"/api/v1/verifications/{live_id}", **test), 404)
    api.assert_problem(check(client, live, test_id, "123456"), 404)
    # Counted apart too: a test key's verifications leave the live number's cap alone.
    for _ in range(4):
        assert start(client, test).status_code == 201
    api.assert_problem(start(client, test), 429, "number_rate_limited")
    assert start(client, live).status_code == 201


def test_another_accounts_verification_is_not_found(client, owner, live, make_account, delivered):
    verification_id = delivered(lambda: start(client, live)).json()["id"]
    code = code_sent_to(NUMBER)
    stranger = make_account(credit=100).memberships.get().user
    _, secret = api.make_token(stranger, scopes=["verify"])
    other = api.bearer(secret)
    api.assert_problem(client.get(f"/api/v1/verifications/{verification_id}", **other), 404, "not_found")
    api.assert_problem(check(client, other, verification_id, code), 404, "not_found")
    # Its checks changed nothing: the owner's code still approves.
    assert Verification.objects.get(pk=verification_id).wrong_attempts == 0
    assert check(client, live, verification_id, code).json()["status"] == "approved"


def test_approval_is_published_once_with_the_verification_as_the_api_shows_it(client, owner, live, delivered):
    events: list[hub.Event] = []

    def record(event: hub.Event) -> None:
        events.append(event)

    hub.subscribe(record, actions={"verification.approved"})
    try:
        verification_id = delivered(lambda: start(client, live)).json()["id"]
        code = code_sent_to(NUMBER)
        delivered(lambda: check(client, live, verification_id, other_code(code)))
        assert events == []
        delivered(lambda: check(client, live, verification_id, code))
        delivered(lambda: check(client, live, verification_id, code))
    finally:
        hub.unsubscribe(record)
    [event] = events
    assert (event.account_id, event.object_type, event.object_id) == (
        owner.membership.account_id,
        "verification",
        verification_id,
    )
    assert event.data == {}
    shown = client.get(f"/api/v1/verifications/{verification_id}", **live).json()
    assert representations(owner.membership.account_id, [verification_id]) == {verification_id: shown}
    # Scoped to the account: another account gets nothing for the same id.
    assert representations(owner.membership.account_id + 1, [verification_id]) == {}
    assert representations(owner.membership.account_id, ["not-an-id", verification_id]) == {verification_id: shown}


def test_a_start_and_a_check_cost_a_few_queries(client, owner, live, django_assert_max_num_queries):
    start(client, live)  # the first request of a process warms what it keeps
    # The key, the template, the lock, the two caps, the send (prices, senders, the message, the
    # traffic count, the debit, the monthly spend, the recipient's opt-out), the verification, and
    # their savepoints.
    with django_assert_max_num_queries(17):
        verification_id = start(client, live, to="+447400123457").json()["id"]
    # The key, the locked row, its update, and the savepoint.
    with django_assert_max_num_queries(5):
        assert check(client, live, verification_id, "000000").status_code == 200
