"""National numbers in the Contacts pages: with the account's default country a contact form and
the CSV import take `07400 123456`; without one they refuse it and say how to have it accepted.
The contacts API keeps E.164 (SPEC §5) whatever the default country."""

import pytest

from contacts.models import Contact, OptOut
from tests.api_support import assert_problem, bearer, make_token, post_json
from tests.contacts.test_views import upload
from tests.page_support import set_default_country

pytestmark = pytest.mark.django_db

NO_DEFAULT = "Not a valid number without a country code (the account has no default country): 07400 123456"


@pytest.fixture
def signed_in(client, owner):
    client.force_login(owner)
    return client


def test_the_contact_form_takes_a_national_number_of_the_default_country(signed_in, owner):
    set_default_country(owner, "GB")
    assert "or a national number of United Kingdom" in signed_in.get("/contacts/new/").content.decode()
    response = signed_in.post("/contacts/new/", {"phone": "07400 123456", "name": "Ada"})
    assert response.status_code == 302
    contact = Contact.objects.get()
    assert contact.phone == "+447400123456"
    response = signed_in.post(f"/contacts/{contact.pk}/edit/", {"phone": "07400 123457", "name": "Ada"})
    assert response.status_code == 302
    assert Contact.objects.get().phone == "+447400123457"


def test_without_a_default_country_the_contact_form_says_why_a_national_number_is_refused(signed_in, owner):
    page = signed_in.post("/contacts/new/", {"phone": "07400 123456", "name": "Ada"}).content.decode()
    assert NO_DEFAULT in page
    assert "Account settings" in page
    assert not Contact.objects.exists()


def test_the_csv_import_reads_national_numbers_in_the_default_country(signed_in, owner):
    set_default_country(owner, "GB")
    page = upload(signed_in, "phone,name\n07400 123456,Ada\n+48500100200,Olek\n0740,Short\n").content.decode()
    assert "2 contacts added" in page
    assert "Not a valid phone number: 0740." in page
    assert sorted(Contact.objects.values_list("phone", flat=True)) == ["+447400123456", "+48500100200"]


def test_without_a_default_country_the_csv_import_refuses_national_numbers_with_the_reason(signed_in, owner):
    page = upload(signed_in, "phone,name\n07400 123456,Ada\n+48500100200,Olek\n").content.decode()
    assert "1 contact added" in page
    assert NO_DEFAULT in page
    assert list(Contact.objects.values_list("phone", flat=True)) == ["+48500100200"]


def test_the_opt_out_form_takes_a_national_number_of_the_default_country(signed_in, owner):
    set_default_country(owner, "GB")
    assert signed_in.post("/contacts/opt-outs/", {"phone": "07400 123456"}).status_code == 302
    assert OptOut.objects.get().phone == "+447400123456"


def test_the_contacts_api_still_refuses_a_national_number(client, owner):
    set_default_country(owner, "GB")
    token = bearer(make_token(owner)[1])
    body = assert_problem(post_json(client, "/api/v1/contacts", {"phone": "07400 123456"}, **token), 400)
    assert "international (E.164) format" in body["detail"]
    assert not Contact.objects.exists()
