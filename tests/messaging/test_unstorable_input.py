"""Characters no text column can hold (a NUL, or a UTF-16 surrogate on its own, which JSON can
carry as an escaped "\\ud83d"): message_submit refuses them with a 400, whichever way they come
(the legacy endpoint hands its parameters to the service unchecked), instead of its INSERT
failing with a 500."""

import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from accounts.models import Account
from core.errors import ApplicationError
from messaging.models import Message, PriceRule
from messaging.services import message_submit

pytestmark = pytest.mark.django_db

LONE_SURROGATE, NUL = "\ud83d", "\x00"


@pytest.fixture(autouse=True)
def price():
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})


@pytest.mark.parametrize("character", [LONE_SURROGATE, NUL])
@pytest.mark.parametrize("field", ["text", "sender", "reference", "idempotency_key"])
def test_submit_refuses_characters_no_column_can_hold(owner, field, character):
    kwargs = {"to": ["+447400100001"], "text": "Hi", "sender": None, "reference": ""}
    kwargs[field] = "ab" + character
    with pytest.raises(ApplicationError) as refused:
        message_submit(account_id=owner.membership.account_id, user=owner, caller="t", **kwargs)
    assert (refused.value.code, refused.value.status) == ("invalid_request", 400)
    assert field in refused.value.errors
    assert character not in refused.value.detail
    assert not Message.objects.exists()
    assert Account.objects.get(pk=owner.membership.account_id).balance == 100


def test_a_recipient_with_a_lone_surrogate_is_an_invalid_number_and_nothing_is_written(owner):
    with pytest.raises(ApplicationError) as refused:
        message_submit(
            account_id=owner.membership.account_id, user=owner, caller="t", to=["+4474001" + LONE_SURROGATE], text="Hi"
        )
    assert (refused.value.code, refused.value.status) == ("invalid_recipients", 400)
    assert not Message.objects.exists()


def test_an_emoji_written_as_a_surrogate_pair_is_one_character_and_accepted(owner):
    [message] = message_submit(
        account_id=owner.membership.account_id, user=owner, caller="t", to=["+447400100001"], text="hi 🙂"
    ).messages
    assert (message.text, message.encoding) == ("hi 🙂", "UCS-2")


@pytest.fixture
def legacy_credentials(owner, capsys) -> str:
    call_command("create_api_credential", "--email", owner.email, "--scopes", "messages:send")
    key_id, secret = capsys.readouterr().out.strip().splitlines()[-1].split()
    return f'"smsUser": {json.dumps(key_id)}, "smsKey": {json.dumps(secret)}'


@pytest.mark.parametrize(
    "fields",
    [
        '"to": "+447400123456", "message": "hi \\ud83d"',
        '"to": "+4474001\\udc0023456", "message": "hi"',
        '"to": "+447400123456", "message": "hi", "from": "A\\ud800"',
    ],
)
def test_a_lone_surrogate_through_the_legacy_endpoint_is_a_400_not_a_500(client, legacy_credentials, fields):
    client.raise_request_exception = False
    body = "{" + legacy_credentials + ", " + fields + "}"
    response = client.post("/smsapi/send", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert not Message.objects.exists()
