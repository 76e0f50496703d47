"""The contacts services and selectors: every read and write scoped to the account, numbers
normalised as the sending service parses them, duplicates refused."""

import pytest

from contacts import selectors, services
from contacts.models import Contact, Group
from core.errors import ApplicationError

pytestmark = pytest.mark.django_db


@pytest.fixture
def accounts(make_account):
    return make_account(), make_account()


def test_create_normalises_the_number_as_the_sending_service_does(accounts):
    mine, _ = accounts
    for raw in ("+44 7400 123456", "447400123456", "00447400123456"):
        Contact.objects.all().delete()
        contact = services.contact_create(account_id=mine.pk, phone=raw, name="  Ada  ")
        assert (contact.phone, contact.name) == ("+447400123456", "Ada")


@pytest.mark.parametrize("phone", ["", "12", "+44 7400", "not a number", "+447400123456\x00", "\ud800"])
def test_create_refuses_an_invalid_number(accounts, phone):
    with pytest.raises(ApplicationError) as refused:
        services.contact_create(account_id=accounts[0].pk, phone=phone)
    assert refused.value.code == "invalid_phone"
    assert refused.value.status == 400
    assert "phone" in refused.value.errors
    assert not Contact.objects.exists()


def test_the_same_number_twice_in_an_account_is_a_conflict_but_another_account_may_have_it(accounts):
    mine, theirs = accounts
    first = services.contact_create(account_id=mine.pk, phone="+447400123456")
    with pytest.raises(ApplicationError) as refused:
        services.contact_create(account_id=mine.pk, phone="00447400123456")
    assert (refused.value.status, refused.value.code) == (409, "contact_exists")
    assert f"id {first.pk}" in refused.value.detail
    services.contact_create(account_id=theirs.pk, phone="+447400123456")
    assert Contact.objects.count() == 2


def test_changing_a_number_to_one_already_taken_is_a_conflict(accounts):
    mine, _ = accounts
    services.contact_create(account_id=mine.pk, phone="+447400123456")
    other = services.contact_create(account_id=mine.pk, phone="+447400123457")
    with pytest.raises(ApplicationError) as refused:
        services.contact_update(account_id=mine.pk, contact_id=other.pk, phone="+447400123456")
    assert refused.value.code == "contact_exists"
    other.refresh_from_db()
    assert other.phone == "+447400123457"


def test_a_contact_only_joins_its_own_accounts_groups(accounts):
    mine, theirs = accounts
    my_group = services.group_create(account_id=mine.pk, name="Mine")
    their_group = services.group_create(account_id=theirs.pk, name="Theirs")
    with pytest.raises(ApplicationError) as refused:
        services.contact_create(account_id=mine.pk, phone="+447400123456", group_ids=[my_group.pk, their_group.pk])
    assert refused.value.code == "unknown_groups"
    assert refused.value.errors == {"groups": [f"No group with id {their_group.pk}."]}
    assert not Contact.objects.exists()
    contact = services.contact_create(account_id=mine.pk, phone="+447400123456", group_ids=[my_group.pk, my_group.pk])
    assert contact.group_ids == [my_group.pk]


def test_update_replaces_the_groups_and_keeps_what_is_not_given(accounts):
    mine, _ = accounts
    a, b = (services.group_create(account_id=mine.pk, name=name) for name in ("A", "B"))
    contact = services.contact_create(account_id=mine.pk, phone="+447400123456", name="Ada", group_ids=[a.pk])
    services.contact_update(account_id=mine.pk, contact_id=contact.pk, group_ids=[b.pk])
    contact.refresh_from_db()
    assert list(contact.groups.values_list("pk", flat=True)) == [b.pk]
    assert contact.name == "Ada"
    services.contact_update(account_id=mine.pk, contact_id=contact.pk, name="")
    contact.refresh_from_db()
    assert (contact.name, list(contact.groups.values_list("pk", flat=True))) == ("", [b.pk])


def test_another_accounts_contact_or_group_is_not_found(accounts):
    mine, theirs = accounts
    contact = services.contact_create(account_id=theirs.pk, phone="+447400123456")
    group = services.group_create(account_id=theirs.pk, name="Theirs")
    assert selectors.contact_get(account_id=mine.pk, contact_id=contact.pk) is None
    assert selectors.group_get(account_id=mine.pk, group_id=group.pk) is None
    for call in (
        lambda: services.contact_update(account_id=mine.pk, contact_id=contact.pk, name="x"),
        lambda: services.contact_delete(account_id=mine.pk, contact_id=contact.pk),
        lambda: services.group_update(account_id=mine.pk, group_id=group.pk, name="x"),
        lambda: services.group_delete(account_id=mine.pk, group_id=group.pk),
        lambda: services.contact_delete(account_id=mine.pk, contact_id=2**70),
    ):
        with pytest.raises(ApplicationError) as refused:
            call()
        assert (refused.value.status, refused.value.code) == (404, "not_found")
    assert Contact.objects.get().name == ""
    assert Group.objects.get().name == "Theirs"
    assert list(selectors.contact_list(account_id=mine.pk)) == []
    assert list(selectors.contact_list(account_id=mine.pk, group_id=group.pk)) == []


def test_group_names_are_unique_per_account_whatever_the_case(accounts):
    mine, theirs = accounts
    group = services.group_create(account_id=mine.pk, name="Customers")
    for call in (
        lambda: services.group_create(account_id=mine.pk, name=" customers "),
        lambda: services.group_update(
            account_id=mine.pk, group_id=services.group_create(account_id=mine.pk, name="Other").pk, name="CUSTOMERS"
        ),
    ):
        with pytest.raises(ApplicationError) as refused:
            call()
        assert (refused.value.status, refused.value.code) == (409, "group_exists")
    services.group_create(account_id=theirs.pk, name="Customers")
    # Renaming to the same name in another case is the same group.
    assert services.group_update(account_id=mine.pk, group_id=group.pk, name="CUSTOMERS").name == "CUSTOMERS"


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "a\x00b"])
def test_a_group_needs_a_storable_name(accounts, name):
    with pytest.raises(ApplicationError) as refused:
        services.group_create(account_id=accounts[0].pk, name=name)
    assert refused.value.status == 400


def test_deleting_a_group_keeps_its_contacts(accounts):
    mine, _ = accounts
    group = services.group_create(account_id=mine.pk, name="G")
    contact = services.contact_create(account_id=mine.pk, phone="+447400123456", group_ids=[group.pk])
    services.group_delete(account_id=mine.pk, group_id=group.pk)
    assert Contact.objects.filter(pk=contact.pk, groups__isnull=True).exists()


def test_search_matches_names_in_any_case_and_numbers_by_their_digits(accounts):
    mine, _ = accounts
    ada = services.contact_create(account_id=mine.pk, phone="+447400123456", name="Ada Lovelace")
    bob = services.contact_create(account_id=mine.pk, phone="+48500100200", name="Bob")

    def found(search):
        return {c.pk for c in selectors.contact_list(account_id=mine.pk, search=search)}

    assert found("lovelace") == {ada.pk}
    assert found("+44 7400") == {ada.pk}
    assert found("500 100") == {bob.pk}
    assert found("") == {ada.pk, bob.pk}
    assert found("nobody") == set()


def test_group_numbers_expands_each_number_once_and_names_unknown_groups(accounts, django_assert_num_queries):
    mine, theirs = accounts
    a, b, empty = (services.group_create(account_id=mine.pk, name=name) for name in ("A", "B", "Empty"))
    services.contact_create(account_id=mine.pk, phone="+447400123456", group_ids=[a.pk, b.pk])
    services.contact_create(account_id=mine.pk, phone="+447400123457", group_ids=[b.pk])
    services.contact_create(account_id=mine.pk, phone="+447400123458")  # in no group
    with django_assert_num_queries(2):  # the groups, then their numbers (each once, bounded)
        numbers = selectors.group_numbers(account_id=mine.pk, group_ids=[a.pk, b.pk, empty.pk, a.pk])
    assert sorted(numbers) == ["+447400123456", "+447400123457"]
    their_group = services.group_create(account_id=theirs.pk, name="Theirs")
    for unknown in (their_group.pk, 999_999, 2**70):
        with pytest.raises(ApplicationError) as refused:
            selectors.group_numbers(account_id=mine.pk, group_ids=[a.pk, unknown])
        assert refused.value.code == "unknown_groups"
        assert refused.value.errors == {"to_groups": [f"No group with id {unknown}."]}
        assert str(unknown) in refused.value.detail
