"""Members' changes under concurrency on PostgreSQL: two saves of one member serialise on its row
lock, and a save never deadlocks with a live send (lock order: membership rows only, never the
account's)."""

import threading
import time
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Membership
from audit.models import AuditEvent
from members.services import subuser_update
from messaging import sql
from tests.members.support import make_member, membership_id


def test_concurrent_updates_serialise_on_the_membership_lock(owner, transactional_db):
    """Two managers' saves on PostgreSQL: the second waits for the first's row lock and reads
    its result, so the audit trail chains (the second's old value is the first's new one)."""
    member = make_member(owner, "member@example.com", monthly_limit=Decimal("1"))
    pk = membership_id(member)
    first_locked, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def slow_first():
        try:
            with transaction.atomic():
                Membership.objects.select_for_update(no_key=True).get(pk=pk)
                first_locked.set()
                release.wait(5)
                subuser_update(actor=owner, membership_id=pk, monthly_limit=Decimal("10"))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def second():
        try:
            first_locked.wait(5)
            subuser_update(actor=owner, membership_id=pk, monthly_limit=Decimal("20"))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=slow_first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    first_locked.wait(5)
    release.set()
    for thread in threads:
        thread.join(10)
    assert not errors, errors
    assert Membership.objects.get(pk=pk).monthly_limit == Decimal("20")
    chain = [e.data["changes"]["monthly_limit"] for e in AuditEvent.objects.filter(action="subuser.updated")
             .order_by("id")]  # fmt: skip
    assert chain == [["1.0000", "10"], ["10.0000", "20"]]


def test_a_user_page_save_does_not_deadlock_with_a_live_send(owner, transactional_db):
    """`_lock` runs SELECT ... FOR NO KEY UPDATE with select_related("user", "account") and no `of=`:
    PostgreSQL locks the joined account row too, after the first membership row. Live sends lock the
    account first, then the sender's membership (messaging/sql.py: "Lock order of a live send: ...
    then the account, then the membership"). The owner (lowest membership pk) sending via
    the API while a user page is saved is a lock-order inversion: PostgreSQL kills one side with
    "deadlock detected" (a 500 for the manager's save or for the send)."""
    assert connection.vendor == "postgresql"
    member = make_member(owner, "member@example.com")
    member_pk = Membership.objects.get(user=member).pk
    owner_membership = owner.membership
    account_id = owner_membership.account_id
    errors: list[BaseException] = []
    send_has_account = threading.Event()

    def send():  # the rules of a live send's charge (messaging/sql.py), in its order, for the owner's send
        try:
            with transaction.atomic():
                sql.account_debit(
                    account_id=account_id, total=Decimal("1"), note="1 message", batch_id=None, user_id=None,
                    now=timezone.now(),
                )  # fmt: skip
                send_has_account.set()
                time.sleep(1.0)  # the manager's save is now waiting for the account row
                month = timezone.now().date().replace(day=1)
                sql.membership_spend(membership_id=owner_membership.pk, month=month, total=Decimal("1"))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def save():
        try:
            send_has_account.wait(5)
            time.sleep(0.2)
            subuser_update(actor=owner, membership_id=member_pk, monthly_limit=Decimal("5"))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send), threading.Thread(target=save)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not errors, errors
