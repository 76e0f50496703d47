"""SMSGate's own Python client (`android-sms-gateway` 4.3.3, pinned, unmodified) against a served
product (pytest-django's live server on PostgreSQL) with a real Celery worker, and Kannel with its
fake SMSC where delivery is proven: a customer changes the base URL and the key, not the code."""

from decimal import Decimal

import pytest
from android_sms_gateway import APIClient, Message, MessagesQueryFilter, TextMessage, TokenRequest
from android_sms_gateway.enums import ProcessState
from android_sms_gateway.errors import APIError, BadRequestError, ForbiddenError, UnauthorizedError

from accounts.models import Account
from messaging.models import LedgerEntry
from messaging.models import Message as OurMessage
from tests import api_support as api
from tests.conftest import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def smsgate(live_server, login: str | None, password: str) -> APIClient:
    """The client as SMSGate's README has it, with our base URL."""
    return APIClient(login, password, base_url=f"{live_server.url}/3rdparty/v1")


def text(numbers: list[str], body: str = "Hello from SMSGate's client", **fields) -> Message:
    return Message(phone_numbers=numbers, text_message=TextMessage(text=body), **fields)


@pytest.fixture
def funded(make_account):
    return make_account(credit=50).memberships.get().user


def test_basic_auth_with_a_credential_sends_through_kannel_and_reads_the_state_until_delivered(
    kannel_worker, kannel, live_server, funded
):
    kannel_worker()
    credential, secret = api.make_credential(funded)
    numbers = ["+447400123456", "+447400123457"]
    with smsgate(live_server, credential.key_id, secret) as client:
        sent = client.send(text(numbers))
        assert sent.state is ProcessState.Pending
        assert [recipient.phone_number for recipient in sent.recipients] == numbers

        def delivered():
            state = client.get_state(sent.id)
            return state if state.state is ProcessState.Delivered else None

        state = wait_for(delivered, timeout=90, interval=0.5, message="the message Delivered through Kannel")
        listed = client.get_messages(query=MessagesQueryFilter(state="Delivered"))
    assert {recipient.state for recipient in state.recipients} == {ProcessState.Delivered}
    assert {"Pending", "Sent", "Delivered"} <= set(state.states)
    assert state.created_at is not None
    assert [message.id for message in listed] == [sent.id]
    assert sorted(receiver for _, receiver, _ in kannel.received()) == numbers
    assert Account.objects.get(pk=funded.membership.account_id).balance < 50


def test_an_access_token_is_issued_used_and_revoked(live_server, funded):
    credential, secret = api.make_credential(funded, scopes=["messages:send", "messages:read"])
    with smsgate(live_server, credential.key_id, secret) as client:
        token = client.generate_token(TokenRequest(scopes=["messages:send", "messages:list"], ttl=600))
        assert token.token_type == "Bearer"
        assert token.refresh_token is None
        with smsgate(live_server, None, token.access_token) as bearer:
            sent = bearer.send(text(["+447400123456"]))
            assert bearer.get_state(sent.id).id == sent.id
            client.revoke_token(token.id)
            with pytest.raises(UnauthorizedError) as refused:
                bearer.get_state(sent.id)
    assert refused.value.status_code == 401
    assert refused.value.response["data"]["code"] == "unauthenticated"


def test_a_key_without_the_scope_gets_forbidden_error(live_server, funded):
    credential, secret = api.make_credential(funded, scopes=["messages:read"])
    with smsgate(live_server, credential.key_id, secret) as client:
        with pytest.raises(ForbiddenError) as refused:
            client.send(text(["+447400123456"]))
        assert "`messages:send`" in refused.value.response["message"]
        with pytest.raises(ForbiddenError):
            client.generate_token(TokenRequest(scopes=["messages:send"]))
        assert client.get_messages() == []  # what it may do still works
    assert not OurMessage.objects.exists()


def test_a_client_chosen_id_is_kept_and_its_reuse_is_a_409(live_server, funded):
    credential, secret = api.make_credential(funded)
    with smsgate(live_server, credential.key_id, secret) as client:
        sent = client.send(text(["+447400123456"], id="invoice-2026-0042"))
        assert sent.id == "invoice-2026-0042"
        assert client.get_state("invoice-2026-0042").recipients[0].phone_number == "+447400123456"
        with pytest.raises(APIError) as conflict:
            client.send(text(["+447400123456"], id="invoice-2026-0042"))
    assert conflict.value.status_code == 409
    assert conflict.value.response["data"]["code"] == "duplicate_id"
    assert OurMessage.objects.count() == 1


def test_errors_raise_the_clients_classes_for_400_401_and_402(live_server, funded, make_account):
    credential, secret = api.make_credential(funded)
    with smsgate(live_server, credential.key_id, secret) as client, pytest.raises(BadRequestError) as invalid:
        client.send(text(["12345", "+447400123456"]))
    assert invalid.value.response["data"]["errors"] == {"phoneNumbers": ["Invalid number: 12345"]}
    with smsgate(live_server, credential.key_id, "not-the-secret") as client, pytest.raises(UnauthorizedError):
        client.send(text(["+447400123456"]))
    poor = make_account(credit=0).memberships.get().user
    credential, secret = api.make_credential(poor)
    with smsgate(live_server, credential.key_id, secret) as client, pytest.raises(APIError) as no_credit:
        client.send(text(["+447400123456"]))
    assert type(no_credit.value) is APIError  # 4.3.3 has no class of its own for 402
    assert no_credit.value.status_code == 402
    assert no_credit.value.response["data"]["code"] == "insufficient_credit"
    assert not OurMessage.objects.exists()


def test_a_test_key_stays_in_test_mode_nothing_sent_nothing_charged(celery_worker, live_server, funded):
    sms_file = celery_worker  # the worker's backend: a live message would be written here
    credential, secret = api.make_credential(funded, is_test=True)
    with smsgate(live_server, credential.key_id, secret) as client:
        sent = client.send(text(["+15005550001", "+15005550002"]))
        final = {ProcessState.Delivered, ProcessState.Failed}

        def settled():
            state = client.get_state(sent.id)
            return state if {recipient.state for recipient in state.recipients} <= final else None

        state = wait_for(settled, timeout=60, message="the test messages settled by the worker")
    assert {r.phone_number: r.state for r in state.recipients} == {
        "+15005550001": ProcessState.Delivered,
        "+15005550002": ProcessState.Failed,
    }
    assert state.state is ProcessState.Failed
    assert set(OurMessage.objects.values_list("is_test", flat=True)) == {True}
    assert Account.objects.get(pk=funded.membership.account_id).balance == Decimal(50)
    assert not LedgerEntry.objects.filter(kind="debit").exists()
    assert not sms_file.exists() or sms_file.read_text() == ""
