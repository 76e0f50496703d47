from decimal import Decimal

import pytest
from django.contrib.auth import authenticate
from django.db import IntegrityError, transaction

from accounts.models import Account, Membership, User
from accounts.services import account_create
from audit.models import AuditEvent
from core.errors import ApplicationError
from messaging.models import LedgerEntry
from messaging.services import account_open
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_account_create_makes_owner_membership_ledger_and_audit():
    account = account_open(
        name="Acme", owner_email="  Boss@Example.COM ", owner_password=PASSWORD, credit=Decimal("25.5")
    )
    membership = Membership.objects.select_related("user").get(account=account)
    assert membership.role == Membership.Role.OWNER
    assert membership.user.email == "boss@example.com"
    assert membership.user.check_password(PASSWORD)
    assert membership.user.password.startswith("argon2")
    assert membership.permissions() == set(Membership.PERMISSIONS)
    assert account.balance == Decimal("25.5")
    assert [(e.kind, e.amount) for e in LedgerEntry.objects.filter(account=account)] == [("topup", Decimal("25.5"))]
    assert set(AuditEvent.objects.filter(account=account).values_list("action", flat=True)) == {
        "account.created",
        "billing.topup",
    }


def test_account_create_refuses_a_weak_password_and_writes_nothing():
    with pytest.raises(ApplicationError) as excinfo:
        account_open(name="Acme", owner_email="boss@example.com", owner_password="password", credit=10)
    assert excinfo.value.code == "weak_password"
    assert not User.objects.exists()
    assert not Account.objects.exists()
    assert not LedgerEntry.objects.exists()


def test_account_create_refuses_a_taken_email_in_any_case(make_account):
    make_account(email="taken@example.com")
    with pytest.raises(ApplicationError, match="already exists"):
        account_create(name="B", owner_email="TAKEN@example.com", owner_password=PASSWORD)


def test_sign_in_is_case_insensitive_on_email(owner, rf):
    assert authenticate(rf.get("/"), username=owner.email.upper(), password=PASSWORD) == owner
    assert authenticate(rf.get("/"), username=owner.email, password="nope") is None


def test_the_database_keeps_emails_lower_case_and_balances_non_negative(owner):
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=owner.pk).update(email="Mixed@Example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=owner.membership.account_id).update(balance=Decimal("-1"))


def test_one_owner_per_account(owner):
    other = User.objects.create_user("second@example.com", PASSWORD)
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=other, account=owner.membership.account, role=Membership.Role.OWNER)


def test_subuser_permissions_come_from_its_flags(owner):
    user = User.objects.create_user("sub@example.com", PASSWORD)
    membership = Membership.objects.create(
        user=user, account=owner.membership.account, role=Membership.Role.SUBUSER, send_sms=True, view_messages=False
    )
    assert membership.has_permission("send_sms")
    assert not membership.has_permission("view_messages")
    assert not membership.has_permission("manage_users")
    with pytest.raises(ValueError, match="unknown permission"):
        membership.has_permission("launch_rockets")
