"""Found by review, now fixed.

The CSV import matches group names with Python's str.lower() but the unique constraint uses
PostgreSQL's lower(): for 'İstanbul' they differ ('i̇stanbul' vs 'istanbul'), bulk_create(
ignore_conflicts=True) silently skips the clash and `groups[key]` raises KeyError → 500."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from contacts import services
from contacts.models import Contact

pytestmark = pytest.mark.django_db


def upload(client, content: str):
    return client.post(
        "/contacts/import/", {"file": SimpleUploadedFile("c.csv", content.encode(), content_type="text/csv")}
    )


def test_a_file_naming_an_existing_group_in_another_case_joins_it(client, owner):
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
