"""The credit ledger: the only way an account balance changes."""

import functools
import logging
from decimal import Decimal, InvalidOperation

from django.db import transaction

from accounts.models import Account, Membership, User
from accounts.notices import email_after_commit
from accounts.services import account_create
from audit.context import NO_CONTEXT, AuditContext
from audit.services import audit_record
from core.errors import ApplicationError, PaymentRequired
from core.text import points_label
from messaging.models import LedgerEntry

logger = logging.getLogger(__name__)


# --- Credit ledger -----------------------------------------------------------------------------


def _ledger_write(
    *, account_id: int, kind: str, amount: Decimal, note: str = "", actor: User | None = None, batch_id=None
) -> LedgerEntry:
    """Change a balance and record it, under the account's row lock. Call inside a transaction."""
    account = (
        Account.objects.select_for_update(no_key=True)
        .only("id", "balance", "low_balance_threshold", "low_balance_alerted")
        .get(pk=account_id)
    )
    new_balance = account.balance + amount
    if new_balance < 0:
        raise PaymentRequired("Insufficient credit.", code="insufficient_credit", title="Payment required")
    below = low_balance_below(new_balance, account.low_balance_threshold)
    # The flag follows the balance in the same UPDATE: set on the way down (and the owner told
    # once), cleared on the way back up to the threshold (re-armed).
    Account.objects.filter(pk=account_id).update(balance=new_balance, low_balance_alerted=below)
    if below and not account.low_balance_alerted:
        _low_balance_told(account_id=account_id, balance=new_balance, threshold=account.low_balance_threshold)
    return LedgerEntry.objects.create(
        account_id=account_id,
        kind=kind,
        amount=amount,
        balance_after=new_balance,
        note=note[:200],
        created_by=actor,
        batch_id=batch_id,
    )


# --- Low-balance warning ------------------------------------------------------------------------
# `Account.low_balance_alerted` says the owner was told that the balance fell below their
# threshold; it changes only with the balance, under the same row lock, so one crossing is one
# e-mail however many sends cross it together, and a rise back to the threshold re-arms it.


def low_balance_below(balance: Decimal, threshold: Decimal | None) -> bool:
    """The one rule for "the balance is low": below the owner's threshold (None: no warning)."""
    return threshold is not None and balance < threshold


def low_balance_after_debit(*, account_id: int, debit) -> None:
    """After a send's debit (messaging.sql.Debit, read under the row lock the caller still holds):
    if the balance just crossed below the threshold, mark it: one conditional UPDATE, only then."""
    if low_balance_below(debit.balance, debit.low_balance_threshold) and not debit.low_balance_alerted:
        Account.objects.filter(pk=account_id).update(low_balance_alerted=True)
        _low_balance_told(account_id=account_id, balance=debit.balance, threshold=debit.low_balance_threshold)


def _low_balance_told(*, account_id: int, balance: Decimal, threshold: Decimal) -> None:
    """The balance crossed below the threshold (its flag just set, under the row lock): audit it,
    and e-mail the owner once the transaction commits."""
    audit_record(
        action="billing.low_balance",
        account=Account(pk=account_id),
        data={"balance": str(balance), "threshold": str(threshold)},
    )
    transaction.on_commit(functools.partial(low_balance_mail, account_id=account_id), robust=True)


def low_balance_mail(*, account_id: int) -> bool:
    """The owner's low-balance e-mail (after the commit; queued as a notice task whose arguments
    are the owner's id and the text). Says the balance as it is when the mail is queued."""
    row = (
        Membership.objects.filter(account_id=account_id, role=Membership.Role.OWNER, user__is_active=True)
        .values_list("user_id", "account__name", "account__balance", "account__low_balance_threshold")
        .first()
    )
    if row is None:
        return False
    owner_id, name, balance, threshold = row
    if not low_balance_below(balance, threshold):
        return False  # topped up (or the warning switched off) before the mail left
    email_after_commit(
        user_id=owner_id,
        subject="Your SMS account's balance is low",
        body=(
            f"The balance of {name} is {points_label(balance)}, below your warning threshold of "
            f"{points_label(threshold)}.\n\nTop up to keep your messages going. You can change the threshold "
            "on the Billing page."
        ),
    )
    return True


@transaction.atomic
def low_balance_threshold_set(
    *, account_id: int, threshold: Decimal | None, actor: User, context: AuditContext = NO_CONTEXT
) -> Account:
    """The owner's warning threshold (None: off), audited. Under the account's row lock, the flag
    is set to what the balance is now: a threshold above the balance warns on the page at once
    (no e-mail: the owner is looking at it), and the next crossing from above is e-mailed."""
    if threshold is not None:
        threshold = _points(threshold)
        if threshold < 0:
            raise ApplicationError("The threshold cannot be negative.", code="invalid_amount")
    account = Account.objects.select_for_update(no_key=True).get(pk=account_id)
    before = account.low_balance_threshold
    account.low_balance_threshold = threshold
    account.low_balance_alerted = low_balance_below(account.balance, threshold)
    account.save(update_fields=["low_balance_threshold", "low_balance_alerted", "updated_at"])
    if before != threshold:
        audit_record(
            action="billing.low_balance_threshold_changed",
            account=account,
            actor=actor,
            context=context,
            data={"from": _points_text(before), "to": _points_text(threshold)},
        )
    return account


def _points_text(points: Decimal | None) -> str | None:
    return None if points is None else str(points.quantize(POINT_QUANTUM))


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
