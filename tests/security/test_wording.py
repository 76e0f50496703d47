"""The Security pages' wording: the allowlists named as people say them, counts in the right
number, the audit log's date filters."""

import pytest

from tests.security.test_ip_allowlist import save_list

pytestmark = pytest.mark.django_db


def test_saving_an_allowlist_names_it_and_counts_its_entries(client, owner):
    client.force_login(owner)
    page = client.get("/accounts/security/").content.decode()
    assert "Save API list" in page
    assert "Save portal list" in page
    assert "Save api list" not in page
    save_list(client, "203.0.113.0/24", ip="203.0.113.9", scope="api")
    assert "The API allowlist is saved (1 entry)." in client.get("/accounts/security/").content.decode()
    save_list(client, "203.0.113.0/24\n198.51.100.7", ip="203.0.113.9", scope="api")
    assert "The API allowlist is saved (2 entries)." in client.get("/accounts/security/").content.decode()


def test_the_audit_logs_date_filters_say_since_and_until(client, owner):
    client.force_login(owner)
    page = client.get("/accounts/security/audit/").content.decode()
    assert ">Since</label>" in page
    assert ">Until</label>" in page
