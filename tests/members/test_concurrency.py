"""Members' changes under concurrency on PostgreSQL: two saves of one member serialise on its row
lock, and a save never deadlocks with a live send (lock order: membership rows only, never the
account's)."""

import threading
from decimal import Decimal

import psycopg
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from accounts.models import Account, Membership
from audit.models import AuditEvent
from members.services import subuser_update
from messaging import sql
from tests.conftest import run_concurrently, wait_for
from tests.members.support import make_member, membership_id


def test_concurrent_updates_serialise_on_the_membership_lock(owner, transactional_db):
    """Two managers' saves on PostgreSQL: the second waits for the first's row lock and reads
    its result, so the audit trail chains (the second's old value is the first's new one)."""
    member = make_member(owner, "member@example.com", monthly_limit=Decimal("1"))
    pk = membership_id(member)
    first_locked, release = threading.Event(), threading.Event()

    def slow_first():
        with transaction.atomic():
            # Both rows, in the service's order (primary key: the owner's first): holding only the
            # member's would invert that order and deadlock with the second's `lock_pair`.
            list(
                Membership.objects.select_for_update(no_key=True)
                .filter(pk__in=[owner.membership.pk, pk])
                .order_by("pk")
            )
            first_locked.set()
            release.wait(5)
            subuser_update(actor=owner, membership_id=pk, monthly_limit=Decimal("10"))

    def second():
        first_locked.wait(5)
        subuser_update(actor=owner, membership_id=pk, monthly_limit=Decimal("20"))

    def release_the_first():
        first_locked.wait(5)
        release.set()

    run_concurrently(slow_first, second, release_the_first, timeout=10)
    assert Membership.objects.get(pk=pk).monthly_limit == Decimal("20")
    chain = [e.data["changes"]["monthly_limit"] for e in AuditEvent.objects.filter(action="subuser.updated")
             .order_by("id")]  # fmt: skip
    assert chain == [["1.0000", "10"], ["10.0000", "20"]]


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def waits_for_a_lock(pid: int) -> bool:
    """Whether the backend `pid` is blocked on a lock now (seen from another connection)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"


def account_row_is_locked(account_id: int) -> bool:
    """Whether another transaction holds a lock on the account's row now: FOR UPDATE NOWAIT
    conflicts with every row lock and fails at once instead of waiting."""
    try:
        with transaction.atomic():
            list(Account.objects.select_for_update(nowait=True).filter(pk=account_id).values_list("pk"))
    except DatabaseError as exc:
        if isinstance(exc.__cause__, psycopg.errors.LockNotAvailable):
            return True
        raise
    return False


def test_a_user_page_save_does_not_deadlock_with_a_live_send(owner, transactional_db):
    """A live send locks the account row, then the sender's membership (messaging/sql.py, "Lock
    order of a live send"). A manager's save locks membership rows only (members/services/rules.py
    `lock_pair`, `of=("self",)`), never the account row its query joins: locked after the owner's
    membership, that row would make the owner's send through the API while a user page is saved a
    lock-order inversion, and PostgreSQL would end one side with "deadlock detected".

    The send here runs a live send's own rules, in their order (messaging.sql.account_debit, then
    membership_spend). The two transactions are made to overlap, and the test checks that they
    did: the save starts only once the send holds the account row (its own connection finds the
    row locked, with NOWAIT), and the send goes on to the membership only once the save has
    finished or is blocked on a lock: no sleep decides the order, however slow the machine."""
    assert connection.vendor == "postgresql"
    member_pk = membership_id(make_member(owner, "member@example.com"))
    owner_membership_pk, account_id = owner.membership.pk, owner.membership.account_id
    send_has_account, save_done = threading.Event(), threading.Event()
    save_backend: list[int] = []
    locked_when_the_save_started: list[bool] = []

    def send():
        with transaction.atomic():
            debited = sql.account_debit(
                account_id=account_id, total=Decimal("1"), note="1 message", batch_id=None, user_id=None,
                now=timezone.now(),
            )  # fmt: skip
            assert debited is not None
            send_has_account.set()
            wait_for(lambda: save_backend, timeout=20, interval=0.01, message="the save to start")
            wait_for(
                lambda: save_done.is_set() or waits_for_a_lock(save_backend[0]),
                timeout=20,
                interval=0.01,
                message="the save to finish or to wait for a lock",
            )
            month = timezone.now().date().replace(day=1)
            sql.membership_spend(membership_id=owner_membership_pk, month=month, total=Decimal("1"))

    def save():
        assert send_has_account.wait(20), "the send never took the account row"
        locked_when_the_save_started.append(account_row_is_locked(account_id))
        save_backend.append(backend_pid())
        subuser_update(actor=owner, membership_id=member_pk, monthly_limit=Decimal("5"))
        save_done.set()

    run_concurrently(send, save, timeout=60)
    assert locked_when_the_save_started == [True], "the save did not run while the send held the account row"
    assert Membership.objects.get(pk=member_pk).monthly_limit == Decimal("5")
    assert Membership.objects.get(pk=owner_membership_pk).monthly_spent == 1
