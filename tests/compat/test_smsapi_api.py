"""The SMSAPI dialect at /smsapi/ (COMPAT §B) through Django's test client: parameters in, answers
and errors out (HTTP 200 with `{"error", "message"}`), scopes per action, test mode, and every
refusal in SMSAPI's shape, never a problem document or an HTML page."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Account, Membership
from contacts.models import Contact, Group
from messaging.models import Message, PriceRule
from tests import api_support as api
from tests.conftest import allow_ips, run_concurrently

pytestmark = pytest.mark.django_db

SMS = "/smsapi/sms.do"
USER = "/smsapi/user.do"
OTHER_PHONE = "+48500100200"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture(autouse=True)
def priced(db):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})


@pytest.fixture
def key(owner) -> dict:
    return api.bearer(api.make_token(owner)[1])


def sms(client: Client, headers: dict, **params):
    return client.post(SMS, {"format": "json", **params}, **headers)


def refused(response, error: int, status: int = 200) -> dict:
    """SMSAPI's error shape: the HTTP status (200 but for 404/405/429/503), JSON, `error` and `message`."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    body = response.json()
    assert body["error"] == error, body
    assert body["message"]
    assert "WWW-Authenticate" not in response
    return body


def balance(owner) -> Decimal:
    return Account.objects.get(pk=owner.membership.account_id).balance


# --- Send --------------------------------------------------------------------------------------


def test_a_send_with_details_answers_our_message_ids_and_charges_once(client, owner, key):
    response = sms(client, key, to=f"{api.PHONE[1:]},00{OTHER_PHONE[1:]},{api.PHONE}", message="Hello", details="True")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["count"] == 2  # the duplicate collapsed
    assert body["message"] == "Hello"
    assert body["length"] == 5
    assert body["parts"] == 1
    first, second = body["list"]
    stored = Message.objects.get(pk=first["id"])
    assert stored.recipient == api.PHONE
    assert stored.is_test is False
    assert first == {
        "id": str(stored.pk),
        "points": 1.0,
        "number": api.PHONE[1:],
        "date_sent": int(stored.created_at.timestamp()),
        "submitted_number": api.PHONE[1:],
        "status": "QUEUE",
        "error": None,
        "idx": None,
        "parts": 1,
    }
    assert second["submitted_number"] == "00" + OTHER_PHONE[1:]
    assert second["number"] == OTHER_PHONE[1:]
    assert balance(owner) == 98
    # The same id in the REST API.
    assert client.get(f"/api/v1/messages/{first['id']}", **key).json()["to"] == api.PHONE


def test_a_send_by_get_with_basic_auth_and_json_body_work_alike(client, owner):
    credential, secret = api.make_credential(owner)
    headers = api.basic(credential.key_id, secret)
    by_get = client.get(SMS, {"to": api.PHONE, "message": "Hi", "format": "json"}, **headers)
    assert by_get.status_code == 200, by_get.content
    assert by_get.json()["count"] == 1
    by_json = api.post_json(client, SMS, {"to": api.PHONE, "message": "Hi", "format": "json"}, **headers)
    assert by_json.json()["count"] == 1
    assert Message.objects.filter(recipient=api.PHONE).count() == 2


def test_without_format_json_the_answer_is_smsapi_plain_text(client, owner, key):
    response = client.post(SMS, {"to": f"{api.PHONE},{OTHER_PHONE}", "message": "Hi"}, **key)
    assert response["Content-Type"].startswith("text/plain")
    ids = list(Message.objects.order_by("recipient").values_list("pk", flat=True))
    parts = response.content.decode().split(";")
    assert sorted(parts) == sorted(f"OK:{pk}:1.0" for pk in ids)
    error = client.post(SMS, {"to": "12", "message": "Hi"}, **key)
    assert error.status_code == 200
    assert error.content == b"ERROR:13"


def test_a_format_drf_does_not_know_is_not_a_404(client, owner, key):
    # DRF reads `?format=` as a renderer override (COMPAT C.1); SMSAPI's `format` is its own.
    response = client.post(f"{SMS}?format=xml", {"to": api.PHONE, "message": "Hi"}, **key)
    assert response.status_code == 200
    assert response.content.startswith(b"OK:")
    assert client.get(USER, {"credits": "1", "format": "xml"}, **key).content.startswith(b"Points: ")


def test_head_on_sms_do_sends_nothing(client, owner, key):
    response = client.head(SMS, {"to": api.PHONE, "message": "Hi", "format": "json"}, **key)
    assert response.status_code == 405
    assert not Message.objects.exists()


def test_a_send_from_an_approved_sender_at_a_date_is_scheduled(client, owner, key):
    from messaging.models import SenderName

    SenderName.objects.create(account=owner.membership.account, name="ACME", status=SenderName.Status.APPROVED)
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    for date in (str(int(at.timestamp())), str(at), at.isoformat().replace("+00:00", "Z")):
        body = sms(client, key, to=api.PHONE, message="Later", date=date, **{"from": "ACME"}).json()
        message = Message.objects.get(pk=body["list"][0]["id"])
        assert (message.status, message.sender, message.scheduled_at) == ("scheduled", "ACME", at)
        assert body["list"][0]["date_sent"] == int(at.timestamp())


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"to": "", "message": "Hi"}, 13),
        ({"message": "Hi"}, 13),
        ({"to": api.PHONE, "message": ""}, 11),
        ({"to": api.PHONE, "message": "   "}, 11),
        ({"to": api.PHONE, "message": "x" * 1600}, 11),
        ({"to": api.PHONE, "message": "x" * 200, "max_parts": "1"}, 12),
        ({"to": api.PHONE, "message": "x" * 200, "max_parts": "many"}, 8),
        ({"to": api.PHONE, "message": "Zażółć", "nounicode": "1"}, 11),
        ({"to": api.PHONE, "message": "Hi", "from": "NOTOURS"}, 14),
        ({"to": api.PHONE, "message": "Hi", "from": "bad sender name!"}, 14),
        ({"to": api.PHONE, "message": "Hi", "date": "yesterday"}, 54),
        ({"to": api.PHONE, "message": "Hi", "date": "2020-01-01 10:00:00+00:00"}, 54),
        ({"to": api.PHONE, "message": "Hi", "date": "2099-01-01T10:00:00Z"}, 54),
        ({"to": api.PHONE, "message": "Hi", "date": "2030-01-01 10:00:00"}, 54),  # no zone
        ({"to": api.PHONE, "message": "Hi", "date": "99999999999999999999"}, 54),
        ({"to": api.PHONE, "message": "Hi", "idx": "x" * 101}, 8),
        ({"to": api.PHONE, "message": "Hi", "group": "No such group"}, 8),
        ({"to": api.PHONE, "message": "Hi", "group": "nul\x00"}, 8),
    ],
)
def test_a_refused_send_answers_smsapi_s_error_and_sends_nothing(client, owner, key, params, error):
    refused(sms(client, key, **params), error)
    assert not Message.objects.exists()
    assert balance(owner) == 100


def test_an_invalid_number_refuses_the_whole_request_naming_it(client, owner, key):
    body = refused(sms(client, key, to=f"{api.PHONE},12345,+1", message="Hi"), 13)
    assert body["invalid_numbers"] == [
        {"number": "12345", "submitted_number": "12345", "message": "Invalid phone number"},
        {"number": "1", "submitted_number": "+1", "message": "Invalid phone number"},
    ]
    assert "12345" in body["message"]
    assert not Message.objects.exists()  # whole request or nothing (a deviation from SMSAPI)


def test_no_credit_is_error_103(client, owner, key):
    Account.objects.filter(pk=owner.membership.account_id).update(balance=0)
    refused(sms(client, key, to=api.PHONE, message="Hi"), 103)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        api.bearer("live_000000000000_nope"),
        api.bearer("not a token"),
        {"HTTP_AUTHORIZATION": "Basic bm9wZTpub3Bl"},
        {"HTTP_AUTHORIZATION": "Digest x"},
    ],
)
def test_no_or_an_unknown_key_is_error_101_with_http_200(client, owner, headers):
    body = refused(sms(client, headers, to=api.PHONE, message="Hi"), 101)
    assert body["message"].startswith("Authorization failed")
    refused(client.get(USER, {"credits": "1", "format": "json"}, **headers), 101)


def test_a_secret_in_the_parameters_authenticates_nobody(client, owner):
    credential, secret = api.make_credential(owner)
    params = {"to": api.PHONE, "message": "Hi", "username": credential.key_id, "password": secret}
    refused(sms(client, {}, **params), 101)
    params = {"to": api.PHONE, "message": "Hi", "smsUser": credential.key_id, "smsKey": secret}
    refused(sms(client, {}, **params), 101)


def test_a_key_outside_the_api_allowlist_is_error_105(client, owner, key):
    allow_ips(owner, "203.0.113.0/24", scope="api")
    refused(sms(client, key, to=api.PHONE, message="Hi"), 105)


def test_rate_limited_is_http_429_with_retry_after(client, owner):
    Account.objects.filter(pk=owner.membership.account_id).update(api_rate_limit_per_minute=1)
    key = api.bearer(api.make_token(owner)[1])
    assert sms(client, key, to=api.PHONE, message="Hi").status_code == 200
    response = sms(client, key, to=api.PHONE, message="Hi")
    refused(response, 203, status=429)
    assert int(response["Retry-After"]) > 0


# --- Test mode ---------------------------------------------------------------------------------


def test_a_test_key_stays_in_test_mode(client, owner):
    key = api.bearer(api.make_token(owner, is_test=True)[1])
    body = sms(client, key, to=api.PHONE, message="Hi").json()
    message = Message.objects.get(pk=body["list"][0]["id"])
    assert message.is_test is True
    assert balance(owner) == 100
    # Test and live never mix: a live key does not see it.
    live = api.bearer(api.make_token(owner)[1])
    refused(client.get(SMS, {"status": body["list"][0]["id"], "format": "json"}, **live), 301)


def test_the_test_parameter_validates_and_prices_but_keeps_nothing(client, owner, key):
    body = sms(client, key, to=f"{api.PHONE},{OTHER_PHONE}", message="x" * 200, test="1").json()
    assert body["count"] == 2
    assert all(entry["id"].startswith("test-") and entry["points"] == 2.0 for entry in body["list"])
    assert not Message.objects.exists()
    assert balance(owner) == 100
    refused(sms(client, key, to="12", message="Hi", test="1"), 13)


# --- Groups and idx ----------------------------------------------------------------------------


def test_a_send_to_a_group_by_name_needs_contacts_read(client, owner):
    account = owner.membership.account
    group = Group.objects.create(account=account, name="Customers")
    for phone in (api.PHONE, OTHER_PHONE):
        Contact.objects.create(account=account, phone=phone).groups.add(group)
    key = api.bearer(api.make_token(owner)[1])
    body = sms(client, key, group="customers", message="Hi").json()
    assert sorted(entry["number"] for entry in body["list"]) == sorted([api.PHONE[1:], OTHER_PHONE[1:]])
    no_contacts = api.bearer(api.make_token(owner, scopes=["messages:send"])[1])
    assert "contacts:read" in refused(sms(client, no_contacts, group="Customers", message="Hi"), 101)["message"]


def test_idx_is_the_reference_and_check_idx_refuses_a_repeat(client, owner, key):
    body = sms(client, key, to=api.PHONE, message="Hi", idx="order-7", check_idx="1").json()
    assert body["list"][0]["idx"] == "order-7"
    assert Message.objects.get().reference == "order-7"
    refused(sms(client, key, to=api.PHONE, message="Hi", idx="order-7", check_idx="1"), 53)
    refused(sms(client, key, to=OTHER_PHONE, message="Other", idx="order-7", check_idx="True"), 53)
    # Another key of the account too; without check_idx it is only a reference.
    other = api.bearer(api.make_token(owner)[1])
    refused(sms(client, other, to=api.PHONE, message="Hi", idx="order-7", check_idx="1"), 53)
    assert sms(client, key, to=api.PHONE, message="Hi", idx="order-7").json()["count"] == 1
    assert Message.objects.count() == 2


def test_idx_separated_by_bars_is_one_reference_per_number(client, owner, key):
    body = sms(client, key, to=f"{api.PHONE},{OTHER_PHONE},{api.PHONE[1:]}", message="Hi", idx="a|b|c").json()
    assert [(entry["number"], entry["idx"]) for entry in body["list"]] == [(api.PHONE[1:], "a"), (OTHER_PHONE[1:], "b")]
    assert dict(Message.objects.values_list("recipient", "reference")) == {api.PHONE: "a", OTHER_PHONE: "b"}
    refused(sms(client, key, to=f"{api.PHONE},{OTHER_PHONE}", message="Hi", idx="a|b|c"), 8)
    refused(sms(client, key, to=f"{api.PHONE},{OTHER_PHONE}", message="Hi", idx="x|b", check_idx="1"), 53)
    assert Message.objects.count() == 2


# --- status and sch_del ------------------------------------------------------------------------


def scheduled(client, key, *phones) -> list[str]:
    at = str(int((datetime.now(UTC) + timedelta(hours=1)).timestamp()))
    body = sms(client, key, to=",".join(phones), message="Later", date=at).json()
    return [entry["id"] for entry in body["list"]]


def test_status_reads_the_current_state_with_messages_read_only(client, owner, key):
    ids = scheduled(client, key, api.PHONE, OTHER_PHONE)
    Message.objects.filter(pk=ids[1]).update(status="delivered")
    reader = api.bearer(api.make_token(owner, scopes=["messages:read"])[1])
    body = client.get(SMS, {"status": ",".join(ids), "format": "json"}, **reader).json()
    assert body["count"] == 2
    assert [(entry["id"], entry["status"]) for entry in body["list"]] == [(ids[0], "QUEUE"), (ids[1], "DELIVERED")]
    # The reader cannot send, nor cancel; a sender cannot read.
    refused(sms(client, reader, to=api.PHONE, message="Hi"), 101)
    refused(sms(client, reader, sch_del=ids[0]), 101)
    sender = api.bearer(api.make_token(owner, scopes=["messages:send"])[1])
    assert "messages:read" in refused(client.get(SMS, {"status": ids[0], "format": "json"}, **sender), 101)["message"]


def test_status_of_an_id_the_caller_cannot_see_is_error_301(client, owner, key, make_account):
    other_owner = make_account(credit=10).memberships.get().user
    theirs = scheduled(client, api.bearer(api.make_token(other_owner)[1]), api.PHONE)[0]
    mine = scheduled(client, key, api.PHONE)[0]
    for ids in (theirs, f"{mine},{theirs}", "not-an-id", "test-" + mine):
        refused(client.get(SMS, {"status": ids, "format": "json"}, **key), 301)


def test_sch_del_cancels_scheduled_messages_with_a_refund(client, owner, key):
    ids = scheduled(client, key, api.PHONE, OTHER_PHONE)
    assert balance(owner) == 98
    body = sms(client, key, sch_del=",".join(ids)).json()
    assert body == {"count": 2, "list": [{"id": ids[0]}, {"id": ids[1]}]}
    assert set(Message.objects.values_list("status", flat=True)) == {"canceled"}
    assert balance(owner) == 100


def test_sch_del_cancels_all_or_none(client, owner, key):
    ids = scheduled(client, key, api.PHONE, OTHER_PHONE)
    Message.objects.filter(pk=ids[1]).update(status="sent")
    refused(sms(client, key, sch_del=",".join(ids)), 301)
    assert Message.objects.get(pk=ids[0]).status == "scheduled"
    assert balance(owner) == 98


# --- user.do and profile -----------------------------------------------------------------------


def test_credits_are_the_balance_the_rest_api_reads(client, owner, key):
    sms(client, key, to=api.PHONE, message="Hi")
    body = client.get(USER, {"credits": "1", "details": "1", "format": "json"}, **key).json()
    rest = client.get("/api/v1/balance", **key).json()
    assert body == {
        "points": 99.0,
        "proCount": 99,
        "ecoCount": 99,
        "mmsCount": 0,
        "vmsGsmCount": 0,
        "vmsLandCount": 0,
    }
    assert Decimal(str(body["points"])) == Decimal(rest["balance"])


def test_credits_of_a_sub_user_are_what_its_monthly_limit_still_allows(client, owner):
    sub = api.make_subuser(owner, **api.ALL_PERMISSIONS)
    Membership.objects.filter(user=sub).update(monthly_limit=Decimal("10.5"))
    key = api.bearer(api.make_token(sub)[1])
    sms(client, key, to=api.PHONE, message="Hi")
    assert client.get(USER, {"credits": "1", "format": "json"}, **key).json()["points"] == 9.5


def test_credits_need_balance_read(client, owner):
    key = api.bearer(api.make_token(owner, scopes=["messages:send"])[1])
    assert "balance:read" in refused(client.get(USER, {"credits": "1", "format": "json"}, **key), 101)["message"]


@pytest.mark.parametrize("method", ["get", "post", "put"])
@pytest.mark.parametrize("params", [{}, {"list": "1"}, {"get_user": "x"}, {"add_user": "x", "pass": "y"}])
def test_user_do_management_is_refused_with_101(client, owner, key, method, params):
    data = {**params, "format": "json"}
    if method == "put":  # `set_user`, whatever else it says; a form body, as the client sends it
        response = client.put(USER + "?credits=1", urlencode(data), content_type=FORM, **key)
    else:
        response = getattr(client, method)(USER, data, **key)
    assert refused(response, 101)["message"] == "API keys cannot manage users."


def test_profile_names_the_key_and_its_points(client, owner):
    credential, secret = api.make_credential(owner)
    body = client.get("/smsapi/profile", **api.basic(credential.key_id, secret)).json()
    assert body == {
        "name": owner.membership.account.name,
        "email": owner.email,
        "username": credential.key_id,
        "phone_number": "",
        "payment_type": "prepaid",
        "user_type": "native",
        "points": 100.0,
    }


def test_profile_errors_are_rest_style(client, owner):
    response = client.get("/smsapi/profile")
    assert response.status_code == 401
    assert response.json()["error"] == "authorization_failed"
    key = api.bearer(api.make_token(owner, scopes=["messages:send"])[1])
    response = client.get("/smsapi/profile", **key)
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


# --- Unknown paths -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/smsapi/", "/smsapi/mms.do", "/smsapi/send/", "/smsapi/send.php", "/smsapi/sms.do/x", "/smsapi/%0A"]
)
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_unknown_path_under_smsapi_is_error_8_in_json(client, path, method):
    assert refused(getattr(client, method)(path), 8, status=404) == {"error": 8, "message": "Unknown endpoint."}


# --- Cost ----------------------------------------------------------------------------------------


def test_a_send_and_a_balance_cost_what_they_cost_on_the_rest_api(client, make_account, django_assert_max_num_queries):
    from tests.apikeys.test_query_count import LIVE_SEND_QUERIES, recipients

    owner = make_account(credit=1000).memberships.get().user
    key = api.bearer(api.make_token(owner)[1])
    with time_machine.travel(datetime(2031, 3, 10, 9, 20, 5, tzinfo=UTC), tick=True):  # inside one clock hour
        sms(client, key, to=api.PHONE, message="Hi")  # warm: last_used, first use from this address
        with django_assert_max_num_queries(LIVE_SEND_QUERIES):
            assert sms(client, key, to=api.PHONE, message="Hi", details="1").json()["count"] == 1
        # One query more past 20 recipients (the unlocked balance precheck), whatever the number.
        with django_assert_max_num_queries(LIVE_SEND_QUERIES + 1):
            assert sms(client, key, to=",".join(recipients(300)), message="Hi").json()["count"] == 300
        with CaptureQueriesContext(connection) as rest:
            client.get("/api/v1/balance", **key)
        # And the price list, for `proCount` (a process keeps it 30 s in production; not in the suite).
        with django_assert_max_num_queries(len(rest.captured_queries) + 1):
            assert client.get(USER, {"credits": "1", "format": "json"}, **key).json()["points"] == 698.0


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_with_one_checked_idx_from_different_keys_send_once(make_account):
    owner = make_account(credit=100).memberships.get().user
    keys = [api.bearer(api.make_token(owner)[1]) for _ in range(6)]
    answers = run_concurrently(
        *(
            lambda headers=headers: sms(Client(), headers, to=api.PHONE, message="Hi", idx="once", check_idx="1").json()
            for headers in keys
        )
    )
    assert sorted("error" in answer for answer in answers) == [False] + [True] * 5
    assert {answer["error"] for answer in answers if "error" in answer} == {53}
    assert Message.objects.filter(reference="once").count() == 1
