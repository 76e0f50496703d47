"""Found by review, now fixed.

`_lock` runs SELECT ... FOR NO KEY UPDATE with select_related("user", "account") and no `of=`:
PostgreSQL locks the joined account row too, after the first membership row. Live sends lock the
account first, then the sender's membership (messaging/services/submit.py: "Lock order on
PostgreSQL: ... the account, then the membership"). The owner (lowest membership pk) sending via
the API while a user page is saved is a lock-order inversion: PostgreSQL kills one side with
"deadlock detected" (a 500 for the manager's save or for the send)."""

import threading
import time
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Membership
from members.services import subuser_update
from messaging.services.submit import _LOCK_SQL, _SPEND_SQL, _tables
from tests.accounts.subuser_support import invitation_task, make_member  # noqa: F401


def test_a_user_page_save_does_not_deadlock_with_a_live_send(owner, transactional_db):
    assert connection.vendor == "postgresql"
    member = make_member(owner, "member@example.com")
    member_pk = Membership.objects.get(user=member).pk
    owner_membership = owner.membership
    account_id = owner_membership.account_id
    errors: list[BaseException] = []
    send_has_account = threading.Event()

    def send():  # the statements of _charge_postgresql, in its order, for the owner's send
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(_LOCK_SQL.format(**_tables()), {"account_id": account_id})
                send_has_account.set()
                time.sleep(1.0)  # the manager's save is now waiting for the account row
                month = timezone.now().date().replace(day=1)
                cursor.execute(
                    _SPEND_SQL.format(**_tables()),
                    {"month": month, "total": Decimal("1"), "membership_id": owner_membership.pk},
                )
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
