"""Each API answer has one definition, its serializer; the views render with
core.serializers.Representation, which reads the same fields without making a serializer per
call. For many varied objects the two give the same bytes, and the bytes keep the API's formats
(times in UTC with a Z to the second, points with four decimals)."""

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from apikeys.apis import TokenResponse, token_json
from contacts.apis import ContactOut, GroupOut, contact_json, group_json
from contacts.models import Contact, Group
from core.renderers import ApiJSONRenderer
from core.serializers import Representation
from messaging.apis import BalanceOut, MessageOut, SendResponse, Sent, balance_json, message_json, send_json
from messaging.models import Message
from messaging.selectors import BalanceNow
from verify.apis import CheckOut, VerificationOut, check_json, verification_json
from verify.models import Verification

RENDERER = ApiJSONRenderer()

texts = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.sampled_from('aZ0 +\u00e9\u20ac\U0001f600\u2028\x00\ud800"\\</>'), max_size=10),
)
zones = st.sampled_from([UTC, ZoneInfo("Europe/Warsaw"), ZoneInfo("America/New_York"), timezone(timedelta(hours=14))])
times = st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=zones)
points = st.decimals(min_value=-(10**11), max_value=10**11, places=4, allow_nan=False, allow_infinity=False)
ids = st.integers(min_value=1, max_value=2**63 - 1)

messages = st.builds(
    Message,
    id=st.uuids(),
    recipient=texts,
    sender=texts,
    text=texts,
    status=st.sampled_from(Message.Status.values),
    error_code=texts,
    segments=st.integers(min_value=0, max_value=10**6),
    encoding=st.sampled_from(["GSM-7", "UCS-2"]),
    cost=points,
    batch_id=st.none() | st.uuids(),
    reference=texts,
    scheduled_at=st.none() | times,
    created_at=times,
    sent_at=st.none() | times,
    delivered_at=st.none() | times,
    is_test=st.booleans(),
)


def with_attribute(instance, name, value):
    setattr(instance, name, value)
    return instance


contacts = st.builds(
    with_attribute,
    st.builds(Contact, id=ids, phone=texts, name=texts, created_at=times),
    st.just("group_ids"),
    st.lists(ids, max_size=5),
)
groups = st.builds(
    with_attribute, st.builds(Group, id=ids, name=texts), st.just("contact_count"), st.integers(0, 10**7)
)
balances = st.builds(BalanceNow, balance=points, monthly_limit=st.none() | points, monthly_spent=points)
sends = st.builds(
    Sent,
    batch_id=st.uuids(),
    messages=st.lists(messages, max_size=4),
    total_cost=points,
    balance=points,
    test=st.booleans(),
)
verifications = st.builds(
    Verification,
    id=st.uuids(),
    to=texts,
    status=st.sampled_from(Verification.Status.values),
    created_at=times,
    expires_at=times,
    approved_at=st.none() | times,
    message_id=st.none() | st.uuids(),
    is_test=st.booleans(),
)
tokens = st.fixed_dictionaries(
    {
        "id": st.uuids(),
        "access_token": texts,
        "token_type": st.just("Bearer"),
        "expires_at": times,
        "scopes": st.lists(texts, max_size=4),
    }
)


def assert_same_bytes(serializer_class, representation, instance):
    assert RENDERER.render(representation(instance)) == RENDERER.render(serializer_class(instance).data)


# Each answer: its serializer, its fast rendering, varied objects, and how many to try.
ANSWERS = {
    "message": (MessageOut, message_json, messages, 300),
    "send": (SendResponse, lambda sent: send_json(sent, sent.test), sends, 150),
    "contact": (ContactOut, contact_json, contacts, 200),
    "group": (GroupOut, group_json, groups, 200),
    "balance": (BalanceOut, balance_json, balances, 200),
    "access token": (TokenResponse, token_json, tokens, 100),
    "verification": (VerificationOut, verification_json, verifications, 200),
    "verification check": (CheckOut, check_json, verifications, 100),
}


@pytest.mark.parametrize("answer", ANSWERS)
def test_each_answer_renders_as_its_serializer_does(answer):
    serializer_class, representation, objects, examples = ANSWERS[answer]

    @settings(max_examples=examples, deadline=None)
    @given(objects)
    def renders_the_same(instance):
        assert_same_bytes(serializer_class, representation, instance)

    renders_the_same()


def test_the_answers_keep_the_apis_formats():
    message = Message(
        id=uuid.UUID("0190a3c4-0000-7000-8000-000000000001"),
        recipient="+447400123456",
        sender="ACME",
        text="Zażółć",
        status="queued",
        error_code="",
        segments=1,
        encoding="UCS-2",
        cost=Decimal("0.04"),
        batch_id=None,
        reference="",
        scheduled_at=None,
        created_at=datetime(2026, 5, 1, 11, 0, 0, 123456, tzinfo=ZoneInfo("Europe/Warsaw")),
        sent_at=None,
        delivered_at=None,
        is_test=False,
    )
    assert (
        RENDERER.render(message_json(message))
        == (
            '{"id":"0190a3c4-0000-7000-8000-000000000001","to":"+447400123456","sender":"ACME","text":"Zażółć",'
            '"status":"queued","error_code":"","segments":1,"encoding":"UCS-2","cost":"0.0400","batch_id":null,'
            '"reference":"","scheduled_at":null,"created_at":"2026-05-01T09:00:00Z","sent_at":null,'
            '"delivered_at":null,"test":false}'
        ).encode()
    )
    now = BalanceNow(balance=Decimal("12.5"), monthly_limit=None, monthly_spent=Decimal(0))
    assert balance_json(now) == {"balance": "12.5000", "monthly_limit": None, "monthly_spent": "0.0000"}


class Odd(serializers.Serializer):
    label = serializers.CharField(source="describe")
    size = serializers.IntegerField(default=7)
    note = serializers.CharField(required=False)


class Described:
    def __init__(self, **attrs):
        self.__dict__.update(attrs)

    def describe(self):
        return "described"


def test_what_is_not_a_plain_attribute_follows_drfs_own_rules():
    """A method named as the source is called, a missing attribute takes the field's default or
    is left out, a mapping is read by its keys: as the serializer does."""
    render = Representation(Odd)
    for instance in (Described(), Described(size=3, note="n"), {"describe": "d", "size": 1}, {"describe": "d"}):
        assert render(instance) == Odd(instance).data
    assert render(Described()) == {"label": "described", "size": 7}
