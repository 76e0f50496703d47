"""`manage.py assign_number` and `receive_sms` (SPEC §9), and the admin's inbound numbers
(assigned through the same audited service, with a searchable account field)."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditEvent
from contacts.models import OptOut
from inbound.models import InboundMessage, InboundNumber
from tests.conftest import verified_staff_client

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_assign_number_assigns_then_moves_audited_in_both_accounts(make_account):
    first = make_account(email="first@example.com")
    second = make_account(email="second@example.com")
    assert "+447400900500 is assigned to account" in run("assign_number", "--email", "first@example.com",
                                                          "--number", "447400900500")  # fmt: skip
    assert InboundNumber.objects.get().account == first
    run("assign_number", "--email", "SECOND@example.com", "--number", "+447400900500")
    number = InboundNumber.objects.get()
    assert number.account == second
    assert AuditEvent.objects.get(account=second, action="inbound.number_assigned").data == {
        "number": "+447400900500",
        "moved_from_account": first.pk,
    }
    assert AuditEvent.objects.filter(account=first, action="inbound.number_unassigned").exists()
    run("assign_number", "--email", "first@example.com", "--number", "12345")  # a short code
    assert InboundNumber.objects.get(number="12345").account == first


def test_assign_number_refuses_what_is_no_number_or_no_user(make_account):
    make_account(email="first@example.com")
    with pytest.raises(CommandError, match="short code"):
        run("assign_number", "--email", "first@example.com", "--number", "call me")
    with pytest.raises(CommandError, match="No account user"):
        run("assign_number", "--email", "nobody@example.com", "--number", "12345")


def test_receive_sms_takes_the_hooks_path(make_account):
    account = make_account(email="first@example.com")
    run("assign_number", "--email", "first@example.com", "--number", "+447400900500")
    out = run("receive_sms", "--from", "+447400123456", "--to", "+447400900500", "--text", "STOP")
    assert f"in the inbox of account {account.pk}" in out
    assert OptOut.objects.get().phone == "+447400123456"
    assert "repeat" in run("receive_sms", "--from", "+447400123456", "--to", "+447400900500", "--text", "STOP")
    assert "no account" in run("receive_sms", "--from", "+447400123456", "--to", "999", "--text", "Hi")
    assert InboundMessage.objects.count() == 2
    with pytest.raises(CommandError):
        run("receive_sms", "--from", "+4" * 40, "--to", "999", "--text", "Hi")


def test_staff_assign_a_number_in_the_admin_through_the_audited_service(make_account):
    account = make_account(email="first@example.com", name="Acme Ltd")
    client, staff = verified_staff_client()
    search = client.get(
        "/admin/autocomplete/",
        {"term": "acme", "app_label": "inbound", "model_name": "inboundnumber", "field_name": "account"},
    )
    assert search.status_code == 200
    assert [r["text"] for r in search.json()["results"]] == ["Acme Ltd"]
    added = client.post("/admin/inbound/inboundnumber/add/", {"number": "44 7400 900500", "account": account.pk})
    assert added.status_code == 302, added.content[:2000]
    number = InboundNumber.objects.get()
    assert (number.number, number.account_id) == ("+447400900500", account.pk)
    assert number.assigned_at is not None
    event = AuditEvent.objects.get(action="inbound.number_assigned")
    assert event.actor_id == staff.pk
    refused = client.post("/admin/inbound/inboundnumber/add/", {"number": "call me", "account": account.pk})
    assert refused.status_code == 200
    assert b"short code" in refused.content
