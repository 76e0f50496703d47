"""The legacy endpoint (/smsapi/send, messaging/legacy.py): where it reads its parameters, what it
refuses and how."""

import json
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from django.test import Client

from messaging.models import Message, PriceRule
from tests.api_support import PHONE, make_credential

pytestmark = pytest.mark.django_db


@pytest.fixture
def priced(db):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})


def test_legacy_a_lone_surrogate_in_the_key_is_a_401_not_a_500(owner, priced):
    credential, _ = make_credential(owner, scopes=["messages:send"])
    client = Client(raise_request_exception=False)
    body = json.dumps({"smsUser": credential.key_id, "smsKey": "\ud800", "to": PHONE, "message": "hi"})
    response = client.post("/smsapi/send", body, content_type="application/json")
    assert response.status_code == 401


def test_legacy_post_reads_parameters_from_the_query_string_too(owner, priced):
    """SPEC §5 and reference 002 write the call as `POST /smsapi/send?smsUser=&smsKey=&to=&message=`."""
    credential, secret = make_credential(owner, scopes=["messages:send"])
    query = urlencode({"smsUser": credential.key_id, "smsKey": secret, "to": PHONE, "message": "hi"})
    assert Client().post(f"/smsapi/send?{query}").status_code == 200
    # The key in the body, the message in the query string.
    auth = {"smsUser": credential.key_id, "smsKey": secret}
    assert Client().post(f"/smsapi/send?{urlencode({'to': PHONE, 'message': 'hi'})}", auth).status_code == 200
    assert Message.objects.filter(account=owner.membership.account).count() == 2


def test_legacy_head_sends_nothing(owner, priced):
    credential, secret = make_credential(owner, scopes=["messages:send"])
    query = urlencode({"smsUser": credential.key_id, "smsKey": secret, "to": PHONE, "message": "hi"})
    assert Client().head(f"/smsapi/send?{query}").status_code == 405
    assert not Message.objects.filter(account=owner.membership.account).exists()


def test_legacy_without_parameters_says_which_it_needs():
    response = Client().get("/smsapi/send?to=%2B447700900123&message=hi")
    assert response.status_code == 401
    assert "smsUser and smsKey" in response.content.decode()


@pytest.mark.parametrize(
    "data",
    [{"to": "+447400123456", "message": "hi\x00there"}, {"to": "+447400123456", "message": "hi", "from": 5}],
)
def test_legacy_endpoint_refuses_bad_input_with_a_400(client, owner, capsys, priced, data):
    call_command("create_api_credential", "--email", owner.email, "--scopes", "messages:send")
    key_id, secret = capsys.readouterr().out.strip().splitlines()[-1].split()
    response = client.post(
        "/smsapi/send", {"smsUser": key_id, "smsKey": secret, **data}, content_type="application/json"
    )
    assert response.status_code == 400
    assert not Message.objects.exists()
