"""Security's Celery tasks: password age reminders, reset e-mails, expired session rows."""

from celery import shared_task
from django.utils import timezone

from accounts.tasks import EMAIL_TASK_OPTIONS, send_once
from security import services


@shared_task(acks_late=True)
def send_password_age_reminders() -> int:
    """Daily: e-mail users whose password is past their account's maximum age (once per password)."""
    return services.password_age_reminders_send()


@shared_task(**EMAIL_TASK_OPTIONS)
def send_password_reset_email(self, user_id: int, domain: str, use_https: bool) -> bool:
    """The password-reset e-mail. Its token and link are made here, never passed in: no reset
    link sits in the broker, in the task's arguments or in the worker's log."""
    return send_once(self, services.password_reset_email_send, user_id=user_id, domain=domain, use_https=use_https)


@shared_task(acks_late=True)
def clear_expired_sessions() -> int:
    """Hourly: delete the rows of sessions past their expiry (signed out by time, never by hand),
    so the session table holds live sessions only. (Expired ones already open nothing.)"""
    from security.models import UserSession

    deleted, _ = UserSession.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted
