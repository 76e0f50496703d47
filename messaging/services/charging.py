"""What a live send costs the account: the hourly traffic count and alert, the balance and the
sub-user's monthly limit, under row locks (messaging/sql.py on PostgreSQL)."""

import functools
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction

from accounts.models import Account, Membership
from audit.services import audit_record, security_alert
from core.errors import ApplicationError, Forbidden, PaymentRequired, RateLimited
from core.text import counted, points_label
from messaging import sql
from messaging.models import TrafficCounter
from messaging.services.ledger import low_balance_after_debit


def charge(*, account, membership, user, total, count, batch_id, now) -> Decimal:
    """Debit the request, count its traffic and the sub-user's monthly spend, or refuse it whole
    (the caller's transaction rolls back). Returns the balance after."""
    # The hour's count first: a request over the cap is a 429 even when it could not pay either.
    hour = now.replace(minute=0, second=0, microsecond=0)
    new_total, alerted = sql.traffic_add(account_id=account.pk, hour=hour, count=count)
    traffic_check(account=account, hour=hour, before=new_total - count, new_total=new_total, alerted=alerted, now=now)
    if total > 0:
        debit = sql.account_debit(
            account_id=account.pk,
            total=total,
            note=debit_note(count),
            batch_id=batch_id,
            user_id=user.pk if user is not None else None,
            now=now,
        )
        if debit is None:  # suspended, or not enough credit: say which
            fresh = Account.objects.only("status").get(pk=account.pk)
            raise suspended_error() if not fresh.is_active else no_credit_error(total)
        balance = debit.balance
        low_balance_after_debit(account_id=account.pk, debit=debit)
    else:  # free messages: nothing to debit, the account's lock all the same
        status, balance = (
            Account.objects.select_for_update(no_key=True).values_list("status", "balance").get(pk=account.pk)
        )
        if status != Account.Status.ACTIVE:
            raise suspended_error()
    if membership is not None:
        month = now.date().replace(day=1)
        spent, limit, role = sql.membership_spend(membership_id=membership.pk, month=month, total=total)
        if role != Membership.Role.OWNER and limit is not None and spent > limit:
            raise over_monthly_limit_error(total, limit, spent - total)
    return balance


PRECHECK_ABOVE = 20


def precheck(*, account: Account, membership, total: Decimal, count: int, now: datetime) -> None:
    """Before a large request writes its messages: refuse now what charge would refuse (the
    hourly cap, credit, the monthly limit, in its order), so a client retrying big sends on an
    empty account does not write and roll back thousands of rows each time. Unlocked reads:
    charge decides under the locks."""
    if account.traffic_cap_per_hour is not None:
        hour = now.replace(minute=0, second=0, microsecond=0)
        sent = TrafficCounter.objects.filter(account=account, hour=hour).values_list("count", flat=True).first() or 0
        # alerted=True: a refusal here only raises; counting and alerting belong to charge.
        traffic_check(account=account, hour=hour, before=sent, new_total=sent + count, alerted=True, now=now)
    balance = Account.objects.filter(pk=account.pk).values_list("balance", flat=True).first()
    if balance is not None and balance < total:
        raise no_credit_error(total)
    if membership is not None and not membership.is_owner:
        fresh = Membership.objects.only("monthly_limit", "monthly_spent", "spent_month").get(pk=membership.pk)
        if fresh.monthly_limit is not None:
            spent = fresh.spent_in_month_of(now)
            if spent + total > fresh.monthly_limit:
                raise over_monthly_limit_error(total, fresh.monthly_limit, spent)


def suspended_error() -> ApplicationError:
    return Forbidden("The account is suspended.", code="account_suspended")


def no_credit_error(total: Decimal) -> ApplicationError:
    # Never the balance itself: the refusal reaches members (and keys) that may not see it
    # (messaging.selectors.balance_visible; the API's balance:read).
    return PaymentRequired(
        f"Not enough credit: this request costs {points_label(total)}, more than the account's balance.",
        code="insufficient_credit",
    )


def over_monthly_limit_error(total: Decimal, limit: Decimal, spent_before: Decimal) -> ApplicationError:
    return PaymentRequired(
        f"This request costs {points_label(total)}; your monthly limit leaves {points_label(limit - spent_before)}.",
        code="monthly_limit_reached",
    )


def debit_note(count: int) -> str:
    return counted(count, "message")


def traffic_check(*, account: Account, hour: datetime, before: int, new_total: int, alerted: bool, now: datetime):
    """Refuse past the hourly cap (the caller's transaction undoes the count); past the alert
    threshold, alert once an hour."""
    if account.traffic_cap_per_hour is not None and new_total > account.traffic_cap_per_hour:
        raise RateLimited(
            f"The account's limit of {counted(account.traffic_cap_per_hour, 'message')} an hour would be exceeded "
            f"({before:,} sent this hour). Try again after {hour + timedelta(hours=1):%H:%M} UTC.",
            code="traffic_cap_reached",
            retry_after=int((hour + timedelta(hours=1) - now).total_seconds()) + 1,
        )
    if account.traffic_alert_per_hour is None or new_total <= account.traffic_alert_per_hour or alerted:
        return
    TrafficCounter.objects.filter(account=account, hour=hour).update(alerted=True)
    audit_record(action="traffic.alert", account=account, data={"hour": hour.isoformat(), "count": new_total})
    # Only once the crossing is committed: security_alert takes its once-an-hour mark (in Redis)
    # at once, and a request refused after this point (no credit, the monthly limit) rolls back
    # the count and `alerted`, but would keep the mark and use up the hour's e-mail.
    transaction.on_commit(
        functools.partial(traffic_alert_mail, account=account, hour=hour, new_total=new_total), robust=True
    )


def traffic_alert_mail(*, account: Account, hour: datetime, new_total: int) -> None:
    security_alert(
        account=account,
        kind="traffic",
        subject="Unusual sending volume on your SMS account",
        body=(
            f"{account.name} has sent {counted(new_total, 'message')} in the hour from {hour:%Y-%m-%d %H:00} UTC, more "
            f"than its alert threshold of {account.traffic_alert_per_hour:,}.\n\n"
            "If this is expected, there is nothing to do. If not, check your API tokens and sub-users."
        ),
    )
