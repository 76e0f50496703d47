"""E-mails to people about their account: a notice to one user, and the owner's security alerts,
which subscribe to the audit hub."""

import logging

from django.core.mail import send_mail
from django.db import transaction

from accounts.models import Membership, User
from audit import hub
from audit.services import SECURITY_ALERT
from core import ratelimit

logger = logging.getLogger(__name__)


def user_email(*, user: User, subject: str, body: str) -> None:
    email_after_commit(user_id=user.pk, subject=subject, body=body)


def email_after_commit(*, user_id: int, subject: str, body: str) -> None:
    """A notice by e-mail, sent by a Celery task queued once the transaction commits.

    Never from the request itself: an answer that waits on the mail server only when the address
    exists (a lockout, a reset) would tell anyone with a stopwatch which addresses have accounts.
    The text carries no secret (it sits in the broker); the task looks the address up by id.
    """
    from accounts.tasks import send_notice_email

    queue_after_commit(send_notice_email, kwargs={"user_id": user_id, "subject": subject, "body": body})


def queue_after_commit(task, *, kwargs: dict, **options) -> None:
    """Queue `task` once the transaction commits. A broker that is down must not turn a committed
    request into an error: the failure is logged (its class only) and the e-mail dropped."""

    def publish() -> None:
        try:
            task.apply_async(kwargs=kwargs, **options)
        except Exception as exc:
            logger.error("the e-mail task %s could not be queued: %s", task.name, type(exc).__name__)

    transaction.on_commit(publish, robust=True)


def notice_email_send(*, user_id: int, subject: str, body: str) -> bool:
    """The notice task's work: send now (the mail server's errors reach the task, which retries).
    False when the user is gone or inactive."""
    email = User.objects.filter(pk=user_id, is_active=True).values_list("email", flat=True).first()
    if email is None:
        return False
    send_mail(subject, body, None, [email])
    return True


def owner_alert(event: hub.Event) -> bool:
    """A security alert for the account's owner: at most one e-mail an hour per kind and account,
    or one for each event when the notice is not `hourly`."""
    if event.notice is None or event.account_id is None:
        return False
    if event.notice.hourly and not ratelimit.once(f"alert:{event.account_id}:{event.notice.kind}", seconds=3600):
        return False
    owner_id = (
        User.objects.filter(
            membership__account_id=event.account_id, membership__role=Membership.Role.OWNER, is_active=True
        )
        .values_list("pk", flat=True)
        .first()
    )
    if owner_id is None:
        return False
    email_after_commit(user_id=owner_id, subject=event.notice.subject, body=event.notice.body)
    return True


def subscribe() -> None:
    hub.subscribe(owner_alert, actions={SECURITY_ALERT})
