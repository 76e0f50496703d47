import random

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.utils.log import get_task_logger
from django.core.cache import cache

from accounts import notices

logger = get_task_logger(__name__)

EMAIL_MAX_RETRIES = 6
EMAIL_RETRY_BACKOFF_MAX_SECONDS = 600  # well under the broker's visibility timeout (1 h)
EMAIL_SENT_MARK_SECONDS = 24 * 60 * 60
# Well above what one SMTP exchange may take (EMAIL_TIMEOUT, 20 s, per socket operation: connect,
# STARTTLS, login, DATA); past the soft limit the e-mail is retried like a mail server error.
# (Celery's thread pool enforces neither limit: the socket timeouts bound the task there.)
EMAIL_SOFT_TIME_LIMIT = 90
EMAIL_TIME_LIMIT = 120
# Every e-mail task: redelivered if a worker dies mid-send (send_once sends once), bounded, retried.
EMAIL_TASK_OPTIONS = {
    "bind": True,
    "acks_late": True,
    "max_retries": EMAIL_MAX_RETRIES,
    "soft_time_limit": EMAIL_SOFT_TIME_LIMIT,
    "time_limit": EMAIL_TIME_LIMIT,
}


@shared_task(**EMAIL_TASK_OPTIONS)
def send_notice_email(self, user_id: int, subject: str, body: str) -> bool:
    """A security notice (lockout, new device, refused address, password age) to a user."""
    return send_once(self, notices.notice_email_send, user_id=user_id, subject=subject, body=body)


def send_once(task, send, **kwargs) -> bool:
    """Run `send` once per task: a task delivered again after it sent (acks_late, a worker lost
    before the ack) finds its mark and sends nothing. A mail server that fails (SMTP errors are
    OSErrors) is retried with backoff; after the last try the e-mail is dropped, logged with the
    error's class only (an SMTP answer may quote the message)."""
    mark = f"email-task-sent:{task.request.id}" if task.request.id else None
    if mark is not None and cache.get(mark) is not None:
        return False
    try:
        sent = send(**kwargs)
    except (OSError, SoftTimeLimitExceeded) as exc:  # SMTP errors are OSErrors; a slow server, the soft limit
        if task.request.retries >= EMAIL_MAX_RETRIES:
            logger.error(
                "%s: e-mail not sent after %d tries: %s", task.name, task.request.retries + 1, type(exc).__name__
            )
            return False
        countdown = random.uniform(1, min(EMAIL_RETRY_BACKOFF_MAX_SECONDS, 10 * 2**task.request.retries))
        logger.warning("%s: e-mail not sent (%s), retrying in %.0f s", task.name, type(exc).__name__, countdown)
        raise task.retry(countdown=countdown) from None
    if mark is not None:
        cache.set(mark, 1, timeout=EMAIL_SENT_MARK_SECONDS)
    return sent
