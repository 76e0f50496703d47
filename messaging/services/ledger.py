"""The credit ledger: the only way an account balance changes."""

import logging
from decimal import Decimal, InvalidOperation

from django.db import transaction

from accounts.models import Account, User
from accounts.services import account_create
from audit.services import audit_record
from core.errors import ApplicationError, PaymentRequired
from messaging.models import LedgerEntry

logger = logging.getLogger(__name__)


# --- Credit ledger -----------------------------------------------------------------------------


def _ledger_write(
    *, account_id: int, kind: str, amount: Decimal, note: str = "", actor: User | None = None, batch_id=None
) -> LedgerEntry:
    """Change a balance and record it, under the account's row lock. Call inside a transaction."""
    account = Account.objects.select_for_update(no_key=True).only("id", "balance").get(pk=account_id)
    new_balance = account.balance + amount
    if new_balance < 0:
        raise PaymentRequired("Insufficient credit.", code="insufficient_credit", title="Payment required")
    Account.objects.filter(pk=account_id).update(balance=new_balance)
    return LedgerEntry.objects.create(
        account_id=account_id,
        kind=kind,
        amount=amount,
        balance_after=new_balance,
        note=note[:200],
        created_by=actor,
        batch_id=batch_id,
    )


def _ledger_staff_change(*, account_id: int, kind: str, points: Decimal, note: str, actor: User | None) -> LedgerEntry:
    entry = _ledger_write(account_id=account_id, kind=kind, amount=points, note=note, actor=actor)
    audit_record(
        action=f"billing.{kind}",
        account=entry.account,
        actor=actor,
        target=entry,
        data={"points": str(points), "balance_after": str(entry.balance_after)},
    )
    return entry


POINT_QUANTUM = Decimal("0.0001")


def _points(value) -> Decimal:
    """An exact amount of points with at most four decimals, or a clear error."""
    try:
        points = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ApplicationError("The amount must be a number.", code="invalid_amount") from exc
    if not points.is_finite():
        raise ApplicationError("The amount must be a finite number.", code="invalid_amount")
    if points != points.quantize(POINT_QUANTUM):
        raise ApplicationError("Amounts have at most four decimal places.", code="invalid_amount")
    if abs(points) >= Decimal("1e11"):
        raise ApplicationError("The amount is too large.", code="invalid_amount")
    return points


@transaction.atomic
def ledger_topup(*, account_id: int, points: Decimal, note: str = "", actor: User | None = None) -> LedgerEntry:
    points = _points(points)
    if points <= 0:
        raise ApplicationError("A top-up must be a positive number of points.", code="invalid_amount")
    return _ledger_staff_change(
        account_id=account_id, kind=LedgerEntry.Kind.TOPUP, points=points, note=note, actor=actor
    )


@transaction.atomic
def account_open(*, credit: Decimal = Decimal("0"), actor: User | None = None, **owner) -> Account:
    """A new customer account with its owner (accounts.services.account_create) and, in the same
    transaction, its opening credit through the ledger."""

    account = account_create(actor=actor, **owner)
    if credit:
        ledger_topup(account_id=account.pk, points=Decimal(credit), note="Opening credit", actor=actor)
        account.refresh_from_db(fields=["balance"])
    return account


@transaction.atomic
def ledger_adjust(*, account_id: int, points: Decimal, note: str, actor: User | None = None) -> LedgerEntry:
    """A signed correction by staff; it can never take the balance below zero."""
    points = _points(points)
    if points == 0:
        raise ApplicationError("An adjustment must not be zero.", code="invalid_amount")
    if not note.strip():
        raise ApplicationError("Say why in the note.", code="note_required")
    return _ledger_staff_change(
        account_id=account_id, kind=LedgerEntry.Kind.ADJUSTMENT, points=points, note=note, actor=actor
    )
