"""Invitation e-mails, made in the task from the user id (the link is never a task argument)."""

from celery import shared_task

from accounts.tasks import EMAIL_TASK_OPTIONS, send_once


@shared_task(**EMAIL_TASK_OPTIONS)
def send_invitation_email(self, user_id: int, domain: str, use_https: bool) -> bool:
    """A sub-user's invitation. Like the reset e-mail, its token and link are made here from the
    user id, never passed in; an invitation accepted or canceled meanwhile sends nothing."""
    from members import services as services_users

    return send_once(self, services_users.invitation_email_send, user_id=user_id, domain=domain, use_https=use_https)
