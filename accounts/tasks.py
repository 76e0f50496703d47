from celery import shared_task

from accounts import services


@shared_task(acks_late=True)
def send_password_age_reminders() -> int:
    """Daily: e-mail users whose password is past their account's maximum age (once per password)."""
    return services.password_age_reminders_send()
