"""/api/v1 refuses a request body with a field the endpoint does not know (400 `invalid_request`,
the field named in `errors`, with the field it probably meant), on every write endpoint, and does
nothing; the legacy send (`/smsapi/send`, query parameters) keeps ignoring what it does not read."""

import pytest

from contacts import services as contacts_services
from contacts.models import Contact, Group, OptOut
from messaging.models import Message
from tests import api_support as api
from verify.models import Verification
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def key(owner) -> dict:
    _, secret = api.make_token(owner)
    return api.bearer(secret)


def refused(response, *fields) -> dict:
    body = api.assert_problem(response, 400, "invalid_request")
    for name in fields:
        assert name in body["errors"], body
    return body["errors"]


def test_send_with_from_instead_of_sender_is_refused_and_names_sender(client, key):
    response = api.post_json(client, "/api/v1/messages", {"to": api.PHONE, "text": "Hi", "from": "ACME"}, **key)
    errors = refused(response, "from")
    assert errors["from"] == ["Unknown field: did you mean `sender`?"]
    assert not Message.objects.exists()


def test_send_reports_unknown_fields_beside_the_other_errors(client, key):
    response = api.post_json(client, "/api/v1/messages", {"recipients": [api.PHONE], "message": "Hi"}, **key)
    errors = refused(response, "recipients", "message", "text")
    assert errors["recipients"] == ["Unknown field: did you mean `to`?"]
    assert errors["message"] == ["Unknown field: did you mean `text`?"]


def test_an_unknown_field_without_a_known_meaning_is_named_without_a_suggestion(client, key):
    errors = refused(api.send(client, key, colour="blue"), "colour")
    assert errors["colour"] == ["Unknown field."]


def test_contact_create_and_update_refuse_unknown_fields(client, owner, key):
    errors = refused(api.post_json(client, "/api/v1/contacts", {"to": api.PHONE, "name": "Ada"}, **key), "to")
    assert errors["to"] == ["Unknown field: did you mean `phone`?"]
    assert not Contact.objects.exists()
    contact = contacts_services.contact_create(account_id=owner.membership.account_id, phone=api.PHONE, name="Ada")
    response = client.patch(f"/api/v1/contacts/{contact.pk}", {"nmae": "Bob"}, content_type="application/json", **key)
    refused(response, "nmae")
    contact.refresh_from_db()
    assert contact.name == "Ada"


def test_group_create_and_rename_refuse_unknown_fields(client, owner, key):
    refused(api.post_json(client, "/api/v1/groups", {"name": "VIP", "colour": "red"}, **key), "colour")
    assert not Group.objects.exists()
    group = contacts_services.group_create(account_id=owner.membership.account_id, name="VIP")
    response = client.patch(f"/api/v1/groups/{group.pk}", {"title": "VVIP"}, content_type="application/json", **key)
    refused(response, "title")
    group.refresh_from_db()
    assert group.name == "VIP"


def test_opt_out_refuses_unknown_fields(client, key):
    errors = refused(api.post_json(client, "/api/v1/opt-outs", {"phone_number": api.PHONE}, **key), "phone_number")
    assert errors["phone_number"] == ["Unknown field: did you mean `phone`?"]
    assert not OptOut.objects.exists()


def test_webhook_create_refuses_unknown_fields(client, key):
    body = {"url": "https://hooks.example.com/sms", "event": ["message.delivered"]}
    errors = refused(api.post_json(client, "/api/v1/webhooks", body, **key), "event")
    assert errors["event"] == ["Unknown field: did you mean `events`?"]
    assert not Endpoint.objects.exists()


def test_verification_start_and_check_refuse_unknown_fields(client, owner):
    _, secret = api.make_token(owner, is_test=True)
    key = api.bearer(secret)
    errors = refused(api.post_json(client, "/api/v1/verifications", {"phone": api.PHONE}, **key), "phone")
    assert errors["phone"] == ["Unknown field: did you mean `to`?"]
    assert not Verification.objects.exists()
    started = api.post_json(client, "/api/v1/verifications", {"to": api.PHONE}, **key)
    assert started.status_code == 201, started.content
    check = f"/api/v1/verifications/{started.json()['id']}/check"
    errors = refused(api.post_json(client, check, {"code": "123456", "otp": "123456"}, **key), "otp")
    assert errors["otp"] == ["Unknown field: did you mean `code`?"]
    assert Verification.objects.get().status == Verification.Status.PENDING


def test_access_token_request_refuses_unknown_fields(client, key):
    errors = refused(api.post_json(client, "/api/v1/auth/token", {"expires_in": 600}, **key), "expires_in")
    assert errors["expires_in"] == ["Unknown field: did you mean `ttl`?"]


def test_legacy_send_keeps_ignoring_parameters_it_does_not_read(client, owner):
    credential, secret = api.make_credential(owner, is_test=True)
    response = client.post(
        "/smsapi/send",
        {"smsUser": credential.key_id, "smsKey": secret, "to": api.PHONE, "message": "Hi", "colour": "blue"},
    )
    assert response.status_code == 200, response.content
