from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Membership
from core import localcache
from core.phone import region_label
from core.selectors import created_within
from messaging import sql
from messaging.models import SHOWN_TEXT, LedgerEntry, Message, SenderName
from messaging.pricing import PriceList


def balance_visible(membership: Membership | None) -> bool:
    """The one rule for every page that could show the account's balance (the dashboard, the send
    page, the message after a send): owners and members with `view_billing` see it; other members
    see what a send costs, never the balance."""
    return membership is not None and membership.has_permission("view_billing")


def customer_messages(*, user):
    """The one rule for the messages the customer's pages show and count: the dashboard (counts,
    chart, recent list), the message log and its CSV, a message's page. Those this user may see
    (visible_messages), and the free test SMS they sent themselves from the dashboard (a system
    message, but theirs; never a sign-in code). The API lists visible_messages only."""
    own_tests = Message.objects.filter(submitted_by=user, is_system=True, sensitive=False, is_test=False)
    return visible_messages(user=user) | own_tests


def message_counts(*, user) -> dict[str, int]:
    """Counts by outcome of the dashboard's messages, in one query."""
    return customer_messages(user=user).aggregate(
        total=Count("id"),
        delivered=Count("id", filter=Q(status=Message.Status.DELIVERED)),
        pending=Count("id", filter=Q(status__in=["scheduled", "queued", "sending", "sent", "held"])),
        failed=Count("id", filter=Q(status__in=["undelivered", "failed", "rejected"])),
    )


FAILED_STATUSES = ("undelivered", "failed", "rejected")
PENDING_STATUSES = ("scheduled", "queued", "sending", "sent", "held")


@dataclass(frozen=True)
class DayCount:
    """One day (the user's time zone) of the dashboard's messages, by outcome (canceled ones not counted)."""

    day: date
    delivered: int = 0
    failed: int = 0
    pending: int = 0

    @property
    def total(self) -> int:
        return self.delivered + self.failed + self.pending


def messages_per_day(*, user, today: date, days: int = 30) -> list[DayCount]:
    """The dashboard's messages per day of the current time zone (the user's), the last `days`
    days up to `today`, every day listed (a day without messages too): one grouped query."""
    start = today - timedelta(days=days - 1)
    zone = timezone.get_current_timezone()
    rows = (
        customer_messages(user=user)
        .filter(created_at__gte=datetime.combine(start, time.min, tzinfo=zone))
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("day")
        .annotate(
            delivered=Count("id", filter=Q(status=Message.Status.DELIVERED)),
            failed=Count("id", filter=Q(status__in=FAILED_STATUSES)),
            pending=Count("id", filter=Q(status__in=PENDING_STATUSES)),
        )
        .order_by()
    )
    found = {row.pop("day"): row for row in rows}
    return [
        DayCount(day=day, **found.get(day, {}))
        for day in (start + timedelta(days=offset) for offset in range(days))
        if day <= today
    ]


def delivery_rate(days: list[DayCount]) -> float | None:
    """Delivered among the messages with a final outcome (None when none has one yet)."""
    delivered = sum(day.delivered for day in days)
    final = delivered + sum(day.failed for day in days)
    return delivered / final if final else None


@dataclass(frozen=True)
class MemberSpend:
    email: str
    role: str
    active: bool
    spent: Decimal
    limit: Decimal | None  # None: no limit (always for the owner)


def monthly_spend_by_member(*, account_id: int, now: datetime) -> list[MemberSpend]:
    """This UTC month's spend of each member of the account (refunds taken off), biggest first."""
    members = Membership.objects.filter(account_id=account_id).select_related("user")
    spends = [
        MemberSpend(
            email=member.user.email,
            role=member.get_role_display(),
            active=member.user.is_active,
            spent=member.spent_in_month_of(now),
            limit=None if member.is_owner else member.monthly_limit,
        )
        for member in members
    ]
    return sorted(spends, key=lambda spend: (-spend.spent, spend.email))


def recent_messages(*, user, limit: int = 10) -> list[Message]:
    """The dashboard's newest messages."""
    return list(
        customer_messages(user=user)
        .only("id", "recipient", "sender", "status", "created_at", "segments", "cost", "is_system")
        .order_by("-created_at")[:limit]
    )


def visible_messages(*, user, is_test: bool = False) -> QuerySet[Message]:
    """The messages this user may see, in the portal and through the API (a key acts as the user
    who made it): their account's with `view_messages`, else the ones they sent. Live messages,
    or with `is_test` those of the API's test keys: the two never mix. System messages (sign-in
    codes, test SMS) are the product's own, never listed to anyone. Not a member: none."""
    membership = getattr(user, "membership", None)
    if membership is None:
        return Message.objects.none()
    messages = Message.objects.filter(account_id=membership.account_id, is_test=is_test, is_system=False)
    if not membership.has_permission("view_messages"):
        messages = messages.filter(submitted_by_id=user.pk)
    return messages


def messages_by_id(*, account_id: int, ids) -> QuerySet[Message]:
    """The account's messages among `ids`, as the API shows them (never a system message)."""
    return Message.objects.filter(account_id=account_id, pk__in=list(ids), is_system=False)


def message_list(*, user, status="", recipient="", batch_id=None, since=None, until=None):
    """The message log's messages (customer_messages), each with the text it may show (`shown_text`)."""
    messages = customer_messages(user=user).annotate(shown_text=SHOWN_TEXT)
    if status:
        messages = messages.filter(status=status)
    if recipient:
        messages = messages.filter(recipient__contains=recipient.strip())
    if batch_id:
        messages = messages.filter(batch_id=batch_id)
    return created_within(messages, since=since, until=until).order_by("-created_at", "-id")


def message_detail(*, user, message_id):
    """The message with its history, or None (another account's id is simply not found)."""
    return (
        customer_messages(user=user)
        .annotate(shown_text=SHOWN_TEXT)
        .filter(pk=message_id)
        .prefetch_related("events")
        .first()
    )


def sender_names(*, account):
    return SenderName.objects.filter(account=account).order_by("name")


@dataclass(frozen=True)
class SenderNames:
    """What a member may send as (SPEC §3)."""

    allowed: tuple[tuple[int, str], ...]  # (id, name) by name: the approved names this member may use
    approved: frozenset[str]  # every approved name of the account
    limited: bool  # a sub-user limited to some names (`allowed_senders`)

    @property
    def names(self) -> list[str]:
        return [name for _, name in self.allowed]

    @property
    def default(self) -> str | None:
        """What a message that names no sender goes out as: the first name allowed; with none
        approved, the product's default sender, except for a member limited to names none of
        which is approved (None: it may send as nothing)."""
        if self.allowed:
            return self.allowed[0][1]
        return None if self.limited else settings.SMS_DEFAULT_SENDER


def approved_sender_names(*, account_id: int) -> list[tuple[int, str]]:
    """The account's approved sender names as (id, name), by name: from this process's copy of
    the last API_LOCAL_CACHE_SECONDS (an approval or revocation counts within a second)."""
    return localcache.remember(
        ("approved-senders", account_id),
        lambda: list(
            SenderName.objects.filter(account_id=account_id, status=SenderName.Status.APPROVED)
            .order_by("name")
            .values_list("id", "name")
        ),
    )


def _sender_limit(membership: Membership | None) -> frozenset[int]:
    """The sender names a sub-user is limited to, approved or not (empty: not limited)."""
    if membership is None or membership.is_owner:
        return frozenset()
    return localcache.remember(
        ("allowed-senders", membership.pk),
        lambda: frozenset(membership.allowed_senders.values_list("id", flat=True)),
    )


def sender_names_allowed(*, account_id: int, membership: Membership | None) -> SenderNames:
    """The one rule for which sender names a member may send as (SPEC §3): the account's
    approved names; for a sub-user limited to some (`allowed_senders`), only those of them that
    are approved, which may be none (never all of the account's). The owner, and a send with no
    member (a system message), are never limited. The send service, the send page and the
    sub-user pages (what a manager may pass on) all ask here. One query for the approved names
    and, for a limited sub-user, one for its names; none within API_LOCAL_CACHE_SECONDS."""
    approved = approved_sender_names(account_id=account_id)
    limit = _sender_limit(membership)
    allowed = [(pk, name) for pk, name in approved if pk in limit] if limit else approved
    return SenderNames(allowed=tuple(allowed), approved=frozenset(name for _, name in approved), limited=bool(limit))


@dataclass(frozen=True)
class BalanceNow:
    balance: Decimal
    monthly_limit: Decimal | None  # None: no limit (always for the owner)
    monthly_spent: Decimal  # in the current UTC month


def balance_now(*, account_id: int, membership_id: int, now: datetime) -> BalanceNow | None:
    """The balance and the member's monthly limit and spend as they are now (None: no such member
    of the account): one statement on PostgreSQL (messaging/sql.py), for an endpoint API clients
    poll."""
    row = sql.member_balance(account_id=account_id, membership_id=membership_id)
    if row is None:
        return None
    balance, role, monthly_limit, monthly_spent, spent_month = row
    # The membership's own rules say what its limit and this month's spend are.
    member = Membership(role=role, monthly_limit=monthly_limit, monthly_spent=monthly_spent, spent_month=spent_month)
    return BalanceNow(
        balance=balance,
        monthly_limit=None if member.is_owner else member.monthly_limit,
        monthly_spent=member.spent_in_month_of(now),
    )


# --- Billing: the ledger, monthly statements, the price list -----------------------------------


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The UTC instants a calendar month (any day of it) starts and the next one starts: the
    ledger's months are UTC, as the sub-users' monthly limits are."""
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    following = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)
    return start, following


def ledger_entries(*, account_id: int, month: date | None = None, kind: str = "") -> QuerySet[LedgerEntry]:
    """The account's ledger, newest first, optionally one UTC month's and one kind's. In the order
    the entries were written (the id, under the account's row lock), so each entry's balance after
    follows from the one below it even where concurrent sends' times interleave."""
    entries = LedgerEntry.objects.filter(account_id=account_id)
    if month is not None:
        start, end = month_bounds(month)
        entries = entries.filter(created_at__gte=start, created_at__lt=end)
    if kind:
        entries = entries.filter(kind=kind)
    return entries.order_by("-id")


@dataclass(frozen=True)
class StatementLine:
    kind: str
    label: str
    count: int
    points: Decimal  # signed, as the ledger has it


@dataclass(frozen=True)
class Statement:
    month: date  # its first day
    opening: Decimal  # the balance when the month began
    lines: list[StatementLine]  # every kind of the ledger, in its order, zero ones included
    closing: Decimal  # opening + every line: the balance when the month ended (or now)

    @property
    def last_day(self) -> date:
        return month_bounds(self.month)[1].date() - timedelta(days=1)


# A statement's lines as customers' invoices name them (a kind not named here: its label, plural).
STATEMENT_LABELS = {
    "topup": "Top-ups",
    "debit": "Charges for messages",
    "refund": "Refunds",
    "adjustment": "Adjustments",
}


def statement(*, account_id: int, month: date) -> Statement:
    """A UTC month of the account's ledger: the opening balance (the sum of every entry before the
    month), the month's entries summed by kind, and the closing balance, their sum. Exact to the
    last decimal: the rows it sums are the ledger's own (two aggregate queries)."""
    start, end = month_bounds(month)
    entries = LedgerEntry.objects.filter(account_id=account_id)
    opening = entries.filter(created_at__lt=start).aggregate(total=Sum("amount"))["total"] or Decimal("0")
    totals = {
        row["kind"]: row
        for row in entries.filter(created_at__gte=start, created_at__lt=end)
        .values("kind")
        .annotate(count=Count("id"), points=Sum("amount"))
        .order_by()
    }
    lines = [
        StatementLine(
            kind=kind,
            label=STATEMENT_LABELS.get(kind, f"{label}s"),
            count=totals.get(kind, {}).get("count", 0),
            points=totals.get(kind, {}).get("points") or Decimal("0"),
        )
        for kind, label in LedgerEntry.Kind.choices
    ]
    return Statement(
        month=start.date(), opening=opening, lines=lines, closing=opening + sum(line.points for line in lines)
    )


@dataclass(frozen=True)
class CountryPrice:
    country: str  # ISO 3166 alpha-2
    name: str  # "United Kingdom (+44)"
    per_segment: Decimal


def price_list() -> tuple[list[CountryPrice], Decimal]:
    """The prices a send is charged (messaging.pricing.PriceList, the one home of prices): each
    country's own, by name, and the default price of every other country."""
    prices = PriceList()
    rows = [CountryPrice(country, region_label(country), price) for country, price in prices.by_country.items()]
    return sorted(rows, key=lambda row: row.name), prices.default
