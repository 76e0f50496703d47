"""The management commands of messaging/management/commands: create_account, topup and
demo_account, each through the ledger's services."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Account, User
from messaging.models import LedgerEntry
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_create_account_command(capsys):
    call_command(
        "create_account", "--email", "cli@example.com", "--password", PASSWORD, "--name", "CLI", "--credit", "7"
    )
    out = capsys.readouterr().out
    assert "cli@example.com" in out
    assert "balance 7" in out
    assert PASSWORD not in out
    assert Account.objects.get(name="CLI").balance == 7


def test_create_account_command_reports_policy_errors():
    with pytest.raises(CommandError, match=r"too common|too short"):
        call_command("create_account", "--email", "cli@example.com", "--password", "password")


def test_topup_command_goes_through_the_ledger(owner, capsys):
    call_command("topup", "--email", owner.email, "--points", "12.25", "--note", "invoice 42")
    entry = LedgerEntry.objects.filter(account=owner.membership.account).first()
    assert entry.kind == "topup"
    assert entry.amount == Decimal("12.25")
    assert entry.note == "invoice 42"
    assert entry.balance_after == Decimal("112.25")
    assert "balance 112.25" in capsys.readouterr().out


@pytest.mark.parametrize("points", ["0", "-5", "many"])
def test_topup_command_refuses_bad_amounts(owner, points):
    with pytest.raises(CommandError):
        call_command("topup", "--email", owner.email, "--points", points)


def test_topup_command_refuses_an_unknown_email(db):
    with pytest.raises(CommandError, match="No account user"):
        call_command("topup", "--email", "ghost@example.com", "--points", "5")


def test_demo_account_is_created_once(capsys):
    call_command("demo_account")
    first = capsys.readouterr().out
    assert "password:" in first
    password = first.split("password:")[1].split()[0]
    user = User.objects.get(email="demo@example.com")
    assert user.check_password(password)
    assert user.membership.account.balance == 100
    call_command("demo_account")
    second = capsys.readouterr().out
    assert password not in second
    assert "demo@example.com" in second
    assert User.objects.filter(email="demo@example.com").count() == 1
