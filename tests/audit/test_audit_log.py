import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Membership, User
from audit.models import AuditEvent
from audit.services import audit_record
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

AUDIT = "/accounts/security/audit/"


@pytest.fixture
def sub(owner) -> User:
    user = User.objects.create_user("sub@example.com", PASSWORD)
    Membership.objects.create(user=user, account=owner.membership.account)
    return user


def rows(response) -> list[str]:
    """The actions (codes) listed on an audit page, top to bottom: each event's label carries its code."""
    html = response.content.decode()
    table = html.split('data-testid="audit-log"')[1].split("</table>")[0] if 'data-testid="audit-log"' in html else ""
    return [cell.split('"')[0] for cell in table.split('<span title="')[1:]]


def csv_rows(response) -> list[list[str]]:
    assert response.streaming
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_the_owner_sees_the_accounts_events_and_a_sub_user_only_its_own(client, owner, sub, make_account):
    stranger = make_account().memberships.get().user
    audit_record(action="test.owner_did", actor=owner)
    audit_record(action="test.sub_did", actor=sub)
    audit_record(action="test.system_did", account=owner.membership.account)
    audit_record(action="test.stranger_did", actor=stranger)

    client.force_login(owner)
    seen = rows(client.get(AUDIT))
    assert {"test.owner_did", "test.sub_did", "test.system_did"} <= set(seen)
    assert "test.stranger_did" not in seen

    client.force_login(sub)
    assert rows(client.get(AUDIT)) == ["test.sub_did"]
    assert [row[1] for row in csv_rows(client.get(AUDIT, {"format": "csv"}))[1:]] == ["test.sub_did"]


def test_a_sub_user_allowed_to_manage_security_sees_the_account(client, owner, sub):
    Membership.objects.filter(user=sub).update(manage_security=True)
    audit_record(action="test.owner_did", actor=owner)
    client.force_login(sub)
    assert "test.owner_did" in rows(client.get(AUDIT))


def test_events_are_newest_first_and_filterable_by_action(client, owner):
    now = timezone.now()
    for n, action in enumerate(["test.a", "test.b", "test.a", "test.c"]):
        AuditEvent.objects.create(
            account=owner.membership.account, actor=owner, action=action, created_at=now - timedelta(minutes=10 - n)
        )
    client.force_login(owner)
    listed = [action for action in rows(client.get(AUDIT)) if action.startswith("test.")]
    assert listed == ["test.c", "test.a", "test.b", "test.a"]
    assert rows(client.get(AUDIT, {"action": "test.a"})) == ["test.a", "test.a"]
    exported = csv_rows(client.get(AUDIT, {"action": "test.b", "format": "csv"}))
    assert [row[1] for row in exported[1:]] == ["test.b"]


def test_events_are_filterable_by_date(client, owner):
    account = owner.membership.account
    AuditEvent.objects.create(account=account, action="test.old", created_at=timezone.now() - timedelta(days=10))
    AuditEvent.objects.create(account=account, action="test.new")
    client.force_login(owner)
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    seen = rows(client.get(AUDIT, {"since": since}))
    assert "test.new" in seen
    assert "test.old" not in seen


def test_the_csv_export_is_streamed_with_a_header_row(client, owner):
    audit_record(action="test.exported", actor=owner, data={"n": 1})
    client.force_login(owner)
    response = client.get(AUDIT, {"format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="audit-log.csv"' in response["Content-Disposition"]
    header, *body = csv_rows(response)
    assert header == ["time_utc", "action", "actor", "token", "ip", "user_agent", "object", "details", "event"]
    exported = next(row for row in body if row[1] == "test.exported")
    assert exported[2] == owner.email
    assert exported[8] == "Test · exported"  # the label of a code that has none: its words
    assert exported[0].endswith("Z")


@pytest.mark.parametrize("payload", ['=HYPERLINK("http://evil.example","x")', "+1+2", "-1+2", "@SUM(A1)", "\t=1"])
def test_the_csv_export_guards_against_formula_injection(client, owner, payload):
    AuditEvent.objects.create(
        account=owner.membership.account,
        actor=owner,
        action="test.injected",
        user_agent=payload,
        object_repr=payload,
    )
    client.force_login(owner)
    [row] = [row for row in csv_rows(client.get(AUDIT, {"format": "csv"}))[1:] if row[1] == "test.injected"]
    for cell in row:
        assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), cell
    assert row[5] == "'" + payload


def test_the_csv_export_guards_an_actor_email_that_looks_like_a_formula(client, owner):
    sneaky = User.objects.create_user("=1+2@example.com", PASSWORD)
    Membership.objects.create(user=sneaky, account=owner.membership.account)
    audit_record(action="test.sneaky", actor=sneaky)
    client.force_login(owner)
    [row] = [row for row in csv_rows(client.get(AUDIT, {"format": "csv"}))[1:] if row[1] == "test.sneaky"]
    assert row[2] == "'=1+2@example.com"


def test_the_audit_log_is_paginated(client, owner):
    account = owner.membership.account
    AuditEvent.objects.filter(account=account).delete()
    now = timezone.now()
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(account=account, actor=owner, action=f"test.e{n:03d}", created_at=now - timedelta(seconds=n))
            for n in range(120)
        ]
    )
    client.force_login(owner)
    first = client.get(AUDIT)
    assert rows(first) == [f"test.e{n:03d}" for n in range(50)]
    assert "Page 1 of 3" in first.content.decode()
    assert "120 events" in first.content.decode()
    assert rows(client.get(AUDIT, {"page": 3})) == [f"test.e{n:03d}" for n in range(100, 120)]
    # Filters survive paging, and the CSV is not paginated.
    assert len(csv_rows(client.get(AUDIT, {"format": "csv", "page": 2}))) == 121


def test_the_audit_log_needs_a_signed_in_user(client):
    response = client.get(AUDIT)
    assert response.status_code == 302
    assert "/accounts/login/" in response.url
