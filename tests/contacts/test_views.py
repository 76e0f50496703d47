"""The Contacts pages: read with view_contacts, change with manage_contacts, another account's
objects are 404; the CSV import reports what it refused and never fails with a 500; the send page
sends to groups."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Membership, User
from contacts import services
from contacts.models import Contact, Group
from messaging.models import Message, PriceRule
from tests.conftest import PASSWORD
from tests.page_support import post_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def account_id(owner):
    return owner.membership.account_id


def member(owner, **flags) -> User:
    user = User.objects.create_user(f"m{len(flags)}{sorted(flags)}@example.com"[:60], PASSWORD)
    Membership.objects.create(user=user, account=owner.membership.account, role="subuser", **flags)
    return user


def upload(client, content: bytes | str, name: str = "contacts.csv"):
    if isinstance(content, str):
        content = content.encode()
    return client.post("/contacts/import/", {"file": SimpleUploadedFile(name, content, content_type="text/csv")})


def test_the_list_shows_an_empty_state_then_contacts_with_search_and_group_filter(signed_in, account_id):
    page = signed_in.get("/contacts/")
    assert page.status_code == 200
    assert b'data-testid="contacts-empty"' in page.content
    assert b'href="/contacts/"' in page.content  # the nav link
    group = services.group_create(account_id=account_id, name="Newsletter")
    services.contact_create(account_id=account_id, phone="+447400123456", name="Ada Lovelace", group_ids=[group.pk])
    services.contact_create(account_id=account_id, phone="+48500100200", name="Bob")
    page = signed_in.get("/contacts/").content.decode()
    assert "Ada Lovelace" in page
    assert "Bob" in page
    assert "Newsletter" in page
    page = signed_in.get("/contacts/", {"q": "love"}).content.decode()
    assert "Ada Lovelace" in page
    assert "Bob" not in page
    page = signed_in.get("/contacts/", {"group": group.pk}).content.decode()
    assert "Ada Lovelace" in page
    assert "Bob" not in page
    assert "No contacts match" in signed_in.get("/contacts/", {"q": "nobody"}).content.decode()


def test_the_list_is_paginated_in_a_constant_number_of_queries(signed_in, account_id, django_assert_max_num_queries):
    group = services.group_create(account_id=account_id, name="G")
    for i in range(60):
        services.contact_create(account_id=account_id, phone=f"+4474001{i:05d}", group_ids=[group.pk])
    signed_in.get("/contacts/")
    with django_assert_max_num_queries(12):
        page = signed_in.get("/contacts/")
    assert "Page 1 of 2" in page.content.decode()
    assert "Page 2 of 2" in signed_in.get("/contacts/", {"page": 2}).content.decode()


def test_add_edit_and_delete_a_contact(signed_in, account_id):
    group = services.group_create(account_id=account_id, name="G")
    response = signed_in.post("/contacts/new/", {"phone": "+44 7400 123456", "name": "Ada", "groups": [group.pk]})
    assert response.status_code == 302
    contact = Contact.objects.get()
    assert (contact.phone, contact.name, list(contact.groups.all())) == ("+447400123456", "Ada", [group])
    response = signed_in.post("/contacts/new/", {"phone": "+447400123456"})
    assert response.status_code == 200
    assert "already a contact" in response.content.decode()
    assert "not a valid" in signed_in.post("/contacts/new/", {"phone": "123"}).content.decode().lower()

    assert signed_in.get(f"/contacts/{contact.pk}/edit/").status_code == 200
    response = signed_in.post(f"/contacts/{contact.pk}/edit/", {"phone": "+447400123456", "name": "Ada King"})
    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.name, list(contact.groups.all())) == ("Ada King", [])
    assert signed_in.post(f"/contacts/{contact.pk}/delete/").status_code == 302
    assert not Contact.objects.exists()


def test_groups_page_creates_renames_and_deletes(signed_in, account_id):
    assert b'data-testid="groups-empty"' in signed_in.get("/contacts/groups/").content
    assert signed_in.post("/contacts/groups/", {"name": "VIP"}).status_code == 302
    group = Group.objects.get()
    services.contact_create(account_id=account_id, phone="+447400123456", group_ids=[group.pk])
    page = signed_in.get("/contacts/groups/").content.decode()
    assert "VIP" in page
    assert "<td>1</td>" in page
    assert "already a group" in signed_in.post("/contacts/groups/", {"name": "vip"}).content.decode()
    assert signed_in.post(f"/contacts/groups/{group.pk}/rename/", {"name": "Very"}).status_code == 302
    assert Group.objects.get().name == "Very"
    assert signed_in.post(f"/contacts/groups/{group.pk}/delete/").status_code == 302
    assert not Group.objects.exists()
    assert Contact.objects.count() == 1


def test_another_accounts_contacts_and_groups_are_404(signed_in, make_account):
    theirs = make_account()
    group = services.group_create(account_id=theirs.pk, name="Theirs")
    contact = services.contact_create(account_id=theirs.pk, phone="+447400123456")
    for method, url in (
        ("get", f"/contacts/{contact.pk}/edit/"),
        ("post", f"/contacts/{contact.pk}/edit/"),
        ("post", f"/contacts/{contact.pk}/delete/"),
        ("get", f"/contacts/groups/{group.pk}/rename/"),
        ("post", f"/contacts/groups/{group.pk}/delete/"),
    ):
        assert getattr(signed_in, method)(url).status_code == 404, url
    assert Contact.objects.filter(pk=contact.pk).exists()
    assert Group.objects.filter(pk=group.pk).exists()
    assert "+447400123456" not in signed_in.get("/contacts/").content.decode()


def test_members_need_view_contacts_to_read_and_manage_contacts_to_change(client, owner):
    nobody = member(owner)
    client.force_login(nobody)
    assert client.get("/contacts/").status_code == 403
    assert b'href="/contacts/"' not in client.get("/messages/").content

    reader = member(owner, view_contacts=True)
    client.force_login(reader)
    page = client.get("/contacts/")
    assert page.status_code == 200
    assert b"Add a contact" not in page.content
    for url in ("/contacts/new/", "/contacts/import/"):
        assert client.get(url).status_code == 403
    assert client.post("/contacts/groups/", {"name": "X"}).status_code == 403
    assert not Group.objects.exists()

    manager = member(owner, view_contacts=True, manage_contacts=True)
    client.force_login(manager)
    assert client.post("/contacts/groups/", {"name": "X"}).status_code == 302


def test_csv_import_reports_imported_and_refused_rows(signed_in, account_id):
    services.contact_create(account_id=account_id, phone="+447400000001", name="")
    services.group_create(account_id=account_id, name="Newsletter")
    content = (
        "phone,name,groups\n"
        "+447400000001,Known,VIP\n"  # already a contact: named (it had no name) and added to VIP
        "447400000002,Ada,newsletter;VIP\n"
        "not a number,Bob,\n"
        "+447400000002,Twice,\n"
        "\n"
        "+447400000003,,\n"
        '+447400000004,"Quoted, name",\n'
        "+447400000005,a,b,c\n"
    )
    response = upload(signed_in, content)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="import-report"' in page
    assert "3 contacts added, 1 already there" in page
    assert "new group: VIP" in page
    assert "Not a valid number in international format: not a number" in page
    assert "+447400000002 is already on line 3" in page
    assert "More than three columns" in page
    assert sorted(Contact.objects.values_list("phone", "name")) == [
        ("+447400000001", "Known"),
        ("+447400000002", "Ada"),
        ("+447400000003", ""),
        ("+447400000004", "Quoted, name"),
    ]
    vip = Group.objects.get(name="VIP")
    assert sorted(vip.contacts.values_list("phone", flat=True)) == ["+447400000001", "+447400000002"]
    assert list(Group.objects.get(name="Newsletter").contacts.values_list("phone", flat=True)) == ["+447400000002"]


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"\xff\xfe\x00p\x00h", "not UTF-8"),
        ("\x00\x01binary", "not a CSV"),
        ("", "empty"),
        ("phone,name\n", "no rows"),
        ('+447400000001,"unclosed\n', None),
    ],
)
def test_a_bad_file_is_a_form_error_never_a_500(signed_in, content, error):
    response = upload(signed_in, content)
    assert response.status_code == 200
    if error:
        assert error in response.content.decode()


def test_a_file_of_too_many_rows_is_refused_whole(signed_in, settings):
    content = "\n".join(f"+4474001{i:05d}" for i in range(10_001))
    response = upload(signed_in, content)
    assert "more than 10,000 rows" in response.content.decode()
    assert not Contact.objects.exists()


def test_a_file_over_the_import_s_two_megabytes_gets_the_too_large_page(signed_in):
    row = "+447400123456,Somebody with a long name,Newsletter\n"
    response = upload(signed_in, row * (3 * 1024 * 1024 // len(row)))
    assert response.status_code == 413
    assert "This page takes files of up to 2.0\xa0MB" in response.content.decode()
    assert not Contact.objects.exists()


def test_a_file_just_over_two_megabytes_is_a_form_error(signed_in):
    row = "+447400123456,Somebody with a long name,Newsletter\n"
    response = upload(signed_in, row * (2 * 1024 * 1024 // len(row) + 1))
    assert response.status_code == 200
    assert "The file is larger than 2 MB." in response.content.decode()
    assert not Contact.objects.exists()


def test_a_file_of_ten_thousand_rows_imports_in_a_few_queries(signed_in, django_assert_max_num_queries):
    content = "phone,name,groups\n" + "\n".join(f"+4474001{i:05d},N{i},Big" for i in range(10_000))
    signed_in.get("/contacts/import/")
    with django_assert_max_num_queries(40):
        response = upload(signed_in, content)
    assert "10000 contacts added" in response.content.decode()
    assert Group.objects.get(name="Big").contacts.count() == 10_000


def test_the_send_page_sends_to_groups(signed_in, account_id, owner):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    owner.membership.account.__class__.objects.filter(pk=account_id).update(balance=Decimal("100"))
    group = services.group_create(account_id=account_id, name="G")
    services.contact_create(account_id=account_id, phone="+447400000001", group_ids=[group.pk])
    services.contact_create(account_id=account_id, phone="+447400000002", group_ids=[group.pk])
    page = signed_in.get("/messages/send/").content.decode()
    assert 'data-testid="send-groups"' in page
    assert "G (2)" in page
    response = post_form(
        signed_in, "/messages/send/", {"recipients": "+447400000001", "groups": [group.pk], "text": "Hi"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert sorted(Message.objects.values_list("recipient", flat=True)) == ["+447400000001", "+447400000002"]
    response = post_form(signed_in, "/messages/send/", {"recipients": "", "text": "Hi"})
    assert "Enter a number or choose a group." in response.content.decode()


def test_a_file_naming_an_existing_group_in_another_case_joins_it(client, owner):
    """Group names are matched as the database's unique constraint folds them (lower()), which
    differs from Python's str.lower() for a letter such as 'İ'."""
    account_id = owner.membership.account_id
    group = services.group_create(account_id=account_id, name="istanbul")
    client.force_login(owner)
    response = upload(client, "+447400123456,Ada,İstanbul\n")
    assert response.status_code == 200
    assert list(Contact.objects.get(account_id=account_id).groups.values_list("pk", flat=True)) == [group.pk]


def test_one_file_naming_a_group_in_two_cases_is_not_a_500(client, owner):
    client.force_login(owner)
    response = upload(client, "+447400123456,A,İstanbul\n+447400123457,B,istanbul\n")
    assert response.status_code == 200
