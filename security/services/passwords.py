"""Passwords: re-confirmation, change under the policy with history, age reminders, reset e-mails."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import Account, User
from accounts.notices import queue_after_commit, user_email
from accounts.services import password_check
from audit.context import NO_CONTEXT, AuditContext
from audit.services import audit_record
from core import ratelimit
from core.errors import RateLimited
from core.text import counted
from security.models import PasswordHistory
from security.services.sessions import sessions_end


def password_confirm(*, user: User, password: str | None) -> bool:
    """Re-checking the password of a signed-in user (before turning 2FA off, changing the phone…):
    at most 10 tries an hour, so a stolen session cannot guess it."""
    if not ratelimit.hit(f"password-confirm:{user.pk}", limit=10, window_seconds=3600):
        raise RateLimited("Too many password attempts. Try again in an hour.", code="rate_limited")
    return bool(password) and user.check_password(password)


def password_reset_request(*, email: str, domain: str, use_https: bool) -> int:
    """Queue a reset e-mail for the active user with this address and a usable password, if any.

    Only the user id and where the portal is reached go to the broker: the task makes the token
    and the link when it sends, so no reset link sits in a queue, a task argument or a log line.
    """
    from security.tasks import send_password_reset_email

    users = User.objects.filter(email=User.objects.normalize_email(email.strip()).lower(), is_active=True)
    queued = 0
    for user in users:
        if not user.has_usable_password():
            continue
        queue_after_commit(
            send_password_reset_email,
            kwargs={"user_id": user.pk, "domain": domain, "use_https": use_https},
            expires=settings.PASSWORD_RESET_TIMEOUT,  # a link asked for long ago is no longer expected
        )
        queued += 1
    return queued


def password_reset_email_send(*, user_id: int, domain: str, use_https: bool) -> bool:
    """The reset task's work: a fresh token and link for the user, sent now. False when the user
    can no longer reset (gone, inactive, no usable password)."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.has_usable_password():
        return False
    context = {
        "email": user.email,
        "domain": domain,
        "site_name": domain,
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "user": user,
        "token": default_token_generator.make_token(user),
        "protocol": "https" if use_https else "http",
    }
    subject = "".join(render_to_string("security/email/password_reset_subject.txt", context).splitlines())
    send_mail(subject, render_to_string("security/email/password_reset.txt", context), None, [user.email])
    return True


def password_expired(user: User) -> bool:
    account = user.account
    if account is None or not account.password_max_age_days:
        return False
    return timezone.now() - user.password_changed_at > timedelta(days=account.password_max_age_days)


def password_change_forced(user: User) -> bool:
    account = user.account
    return account is not None and account.password_age_mode == Account.PasswordAgeMode.FORCE and password_expired(user)


@transaction.atomic
def password_set(
    *,
    user: User,
    new_password: str,
    context: AuditContext = NO_CONTEXT,
    keep_session_key: str | None = None,
    reason: str = "change",
) -> None:
    """Set a new password under the policy; the old hash joins the history.

    Every session of the user ends (Django ties sessions to the password hash); the caller keeps
    its own session with update_session_auth_hash. API tokens are untouched.
    """
    password_check(new_password, user)
    if user.password:
        PasswordHistory.objects.create(user=user, password=user.password)
        stale = (
            PasswordHistory.objects.filter(user=user)
            .order_by("-created_at", "-id")
            .values_list("pk", flat=True)[PASSWORD_HISTORY_KEEP:]
        )
        PasswordHistory.objects.filter(pk__in=list(stale)).delete()
    user.set_password(new_password)
    user.password_changed_at = timezone.now()
    user.password_reminder_sent_at = None
    user.save(update_fields=["password", "password_changed_at", "password_reminder_sent_at"])
    # Django already refuses sessions made with the old password; delete their rows too, so the
    # session list shows the truth. The caller's own session survives a change, not a reset.
    keep = keep_session_key
    transaction.on_commit(lambda: sessions_end(user=user, keep_session_key=keep))
    audit_record(action="auth.password_changed", actor=user, context=context, data={"reason": reason})


PASSWORD_HISTORY_KEEP = 5


def password_age_reminders_send() -> int:
    """E-mail users whose password is older than their account allows, once per password."""
    sent = 0
    candidates = (
        User.objects.filter(is_active=True, password_reminder_sent_at__isnull=True, membership__isnull=False)
        .exclude(membership__account__password_max_age_days=0)
        .select_related("membership__account")
    )
    now = timezone.now()
    for user in candidates.iterator(chunk_size=500):
        if not password_expired(user):
            continue
        with transaction.atomic():
            claimed = User.objects.filter(pk=user.pk, password_reminder_sent_at__isnull=True).update(
                password_reminder_sent_at=now
            )
            if not claimed:
                continue
            mode = user.account.password_age_mode
            user_email(
                user=user,
                subject="Time to change your SMS Portal password",
                body=(
                    f"The password of {user.email} is older than the "
                    f"{counted(user.account.password_max_age_days, 'day')} your account allows.\n\n"
                    + (
                        "You will be asked to change it the next time you sign in."
                        if mode == Account.PasswordAgeMode.FORCE
                        else "Please change it on the security page of the portal."
                    )
                ),
            )
        sent += 1
    return sent
