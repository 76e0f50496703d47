"""National numbers on the send page: read in the account's default country (its counter and the
send alike); without one refused with the reason. The send API keeps E.164 (SPEC §5)."""

import pytest

from messaging.models import Message
from tests.api_support import assert_problem, bearer, make_token, post_json
from tests.page_support import post_form, set_default_country

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, owner):
    client.force_login(owner)
    return client


def test_the_send_page_takes_national_numbers_of_the_default_country(signed_in, owner):
    set_default_country(owner, "GB")
    typed = {"recipients": "07400 100001, +447400100001\n07400100002", "text": "Hi"}
    answer = signed_in.post("/messages/send/preview/", typed).json()
    assert (answer["recipients"], answer["invalid"]) == (2, [])
    response = post_form(signed_in, "/messages/send/", typed)
    assert response.status_code == 302
    assert sorted(Message.objects.values_list("recipient", flat=True)) == ["+447400100001", "+447400100002"]


def test_without_a_default_country_the_send_page_refuses_national_numbers_and_says_why(signed_in, owner):
    typed = {"recipients": "07400 100001", "text": "Hi"}
    answer = signed_in.post("/messages/send/preview/", typed).json()
    assert answer["invalid"] == ["07400 100001"]
    assert "Account settings" in answer["hint"]
    page = post_form(signed_in, "/messages/send/", typed).content.decode()
    assert "Invalid number: 07400 100001" in page
    assert "A number without a country code needs the account&#x27;s default country" in page
    assert not Message.objects.exists()


def test_the_send_api_still_refuses_a_national_number_with_a_default_country(client, owner):
    set_default_country(owner, "GB")
    token = bearer(make_token(owner)[1])
    response = post_json(client, "/api/v1/messages", {"to": "07400 100001", "text": "Hi"}, **token)
    body = assert_problem(response, 400, "invalid_recipients")
    assert "international (E.164) format: 07400 100001" in body["detail"]
    assert not Message.objects.exists()
