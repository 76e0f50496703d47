"""Found by review, now fixed.

`_lock` runs SELECT ... FOR NO KEY UPDATE with select_related("user", "account") and no `of=`:
PostgreSQL locks the joined account row too, after the first membership row. Live sends lock the
account first, then the sender's membership (messaging/sql.py: "Lock order of a live send: ...
then the account, then the membership"). The owner (lowest membership pk) sending via
the API while a user page is saved is a lock-order inversion: PostgreSQL kills one side with
"deadlock detected" (a 500 for the manager's save or for the send)."""

import threading
import time
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Membership
from members.services import subuser_update
from messaging import sql
from tests.members.support import make_member


def test_a_user_page_save_does_not_deadlock_with_a_live_send(owner, transactional_db):
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
