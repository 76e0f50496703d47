"""Inviting sub-users: the invitation, its single-use link (7 days), resend, cancel and acceptance."""

from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes, force_str
from django.utils.http import base36_to_int, urlsafe_base64_decode, urlsafe_base64_encode

from accounts.models import Account, Membership, User
from accounts.notices import queue_after_commit, user_email
from accounts.services import password_check
from audit.context import NO_CONTEXT, AuditContext
from audit.services import audit_record
from core import ratelimit
from core.errors import ApplicationError, Conflict, RateLimited
from members.services.rules import (
    as_json,
    audit_member,
    check_limit,
    check_manageable,
    check_permissions,
    forbidden,
    has_window,
    lock_pair,
    manager_membership,
    member_state,
    sender_ids,
    window_of,
)

INVITATION_TIMEOUT = timedelta(days=7)


INVITES_PER_ACCOUNT_PER_HOUR = 50


RESENDS_PER_INVITEE_PER_HOUR = 5


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    """Django's reset tokens with their own salt and a 7-day life. The hash covers the password
    hash and the active flag: setting the password (accepting) or sending a new invitation (a new
    unusable password) kills every earlier link."""

    key_salt = "members.services.invitations.InvitationTokenGenerator"

    def _make_hash_value(self, user, timestamp):
        return f"{super()._make_hash_value(user, timestamp)}{int(user.is_active)}"

    def check_token(self, user, token) -> bool:
        # Django's check_token reads PASSWORD_RESET_TIMEOUT (one hour); this one uses its own.
        if not (user and token) or not isinstance(token, str):
            return False
        try:
            ts_b36, _ = token.split("-")
            ts = base36_to_int(ts_b36)
        except ValueError:
            return False
        for secret in [self.secret, *self.secret_fallbacks]:
            if constant_time_compare(self._make_token_with_timestamp(user, ts, secret), token):
                break
        else:
            return False
        return (self._num_seconds(self._now()) - ts) <= INVITATION_TIMEOUT.total_seconds()


invitation_token_generator = InvitationTokenGenerator()


def _normalize_email(email: str) -> str:
    value = User.objects.normalize_email((email or "").strip()).lower()
    try:
        validate_email(value)
    except ValidationError as exc:
        raise ApplicationError(
            "Enter a valid e-mail address.", code="invalid_request", errors={"email": ["Enter a valid e-mail address."]}
        ) from exc
    return value


def _tell_existing_user(
    user: User, *, manager: Membership, actor: User, context: AuditContext, domain: str, use_https: bool
) -> None:
    """An invitation to an address that already has a user, here or in another account. The page
    answers as for a new address (it must not tell anyone which addresses have accounts); the
    person is told by e-mail instead, at most once an hour, naming no account and no inviter.
    The attempt is on the inviting account's trail, with the address it typed and nothing of the
    user it found (its managers see anyway that no invitation is waiting on the Users page)."""
    audit_record(
        action="subuser.invitation_not_sent",
        account=manager.account,
        actor=actor,
        context=context,
        data={"email": user.email, "reason": "registered"},
    )
    if ratelimit.once(f"invite-registered:{user.pk}", seconds=3600):
        mail = {"email": user.email, "domain": domain, "protocol": "https" if use_https else "http"}
        user_email(
            user=user,
            subject="".join(render_to_string("members/email/invitation_registered_subject.txt", mail).splitlines()),
            body=render_to_string("members/email/invitation_registered.txt", mail),
        )


def _queue_invitation(user: User, *, domain: str, use_https: bool) -> None:
    from members.tasks import send_invitation_email

    queue_after_commit(
        send_invitation_email,
        kwargs={"user_id": user.pk, "domain": domain, "use_https": use_https},
        expires=int(INVITATION_TIMEOUT.total_seconds()),
    )


@transaction.atomic
def subuser_invite(
    *,
    actor: User,
    email: str,
    permissions: Iterable[str],
    monthly_limit: Decimal | None = None,
    domain: str,
    use_https: bool,
    context: AuditContext = NO_CONTEXT,
) -> Membership | None:
    """An inactive user with an unusable password and its sub-user membership, made together,
    and an invitation e-mail queued once they are committed.

    An address that already has a user (in any account: e-mails are unique) gets no membership but
    the same treatment up to the answer: counted against the hourly limit, audited, an e-mail
    queued to that person instead (`_tell_existing_user`); the return is then None, and a page
    must answer as for a new address."""
    manager = manager_membership(actor)
    manager = (
        Membership.objects.select_for_update(no_key=True, of=("self",)).select_related("account").get(pk=manager.pk)
    )
    if not manager.has_permission("manage_users"):
        raise forbidden()
    email = _normalize_email(email)
    granted = set(permissions)
    check_permissions(manager, granted)
    check_limit(manager, monthly_limit)
    # Counted before anything depends on the address: whether it has a user changes neither the
    # count nor the answer.
    if not ratelimit.hit(f"invite:{manager.account_id}", limit=INVITES_PER_ACCOUNT_PER_HOUR, window_seconds=3600):
        raise RateLimited("Too many invitations in the last hour. Try again later.", code="rate_limited")
    existing = User.objects.filter(email=email).first()
    if existing is None:
        user = User(email=email, is_active=False)
        user.set_unusable_password()
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:  # the same address registered a moment ago
            existing = User.objects.get(email=email)
    if existing is not None:
        _tell_existing_user(existing, manager=manager, actor=actor, context=context, domain=domain, use_https=use_https)
        return None
    # A manager confined to a sending window or to some sender names hands the same on: never more.
    inherited = {}
    if not manager.is_owner and has_window(manager):
        inherited = dict(
            zip(("window_weekdays", "window_start", "window_end", "window_timezone"), window_of(manager), strict=True)
        )
    membership = Membership.objects.create(
        user=user,
        account=manager.account,
        role=Membership.Role.SUBUSER,
        monthly_limit=monthly_limit,
        **inherited,
        **{name: name in granted for name in Membership.PERMISSIONS},
    )
    if not manager.is_owner and sender_ids(manager):
        membership.allowed_senders.set(sender_ids(manager))
    audit_member(
        "subuser.invited",
        manager,
        actor,
        user,
        context,
        email=email,
        permissions=sorted(granted),
        monthly_limit=as_json(monthly_limit),
    )
    _queue_invitation(user, domain=domain, use_https=use_https)
    return membership


def _lock_invited(*, actor: User, membership_id: int, accepted: str) -> tuple[Membership, Membership, User]:
    """The manager's and the member's memberships and the member's user, locked; a member who has
    accepted the invitation already is a Conflict saying `accepted`."""
    manager, target = lock_pair(actor=actor, membership_id=membership_id)
    check_manageable(manager, target)
    user = User.objects.select_for_update().get(pk=target.user_id)
    if member_state(user) != "invited":
        raise Conflict(accepted, code="not_invited")
    return manager, target, user


@transaction.atomic
def subuser_invitation_resend(
    *, actor: User, membership_id: int, domain: str, use_https: bool, context: AuditContext = NO_CONTEXT
) -> Membership:
    """A new invitation e-mail; the links sent before stop working (a new unusable password)."""
    manager, target, user = _lock_invited(
        actor=actor, membership_id=membership_id, accepted="This user has already accepted the invitation."
    )
    if not ratelimit.hit(f"invite-resend:{user.pk}", limit=RESENDS_PER_INVITEE_PER_HOUR, window_seconds=3600):
        raise RateLimited(
            "This invitation was sent several times in the last hour. Try again later.",
            code="rate_limited",
        )
    user.set_unusable_password()
    user.save(update_fields=["password"])
    audit_member("subuser.invitation_resent", manager, actor, user, context, email=user.email)
    _queue_invitation(user, domain=domain, use_https=use_https)
    target.user = user
    return target


@transaction.atomic
def subuser_invitation_cancel(*, actor: User, membership_id: int, context: AuditContext = NO_CONTEXT) -> str:
    """Delete a user that never accepted its invitation (its link dies with it). Returns the
    address."""
    manager, _, user = _lock_invited(
        actor=actor,
        membership_id=membership_id,
        accepted="This user has already accepted the invitation: deactivate it instead.",
    )
    audit_member("subuser.invitation_canceled", manager, actor, user, context, email=user.email)
    email = user.email
    user.delete()  # the membership goes with it
    return email


def invitation_user(*, uidb64: str, token: str) -> User | None:
    """The invited user this link is for, or None when the link is wrong, used or expired."""
    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    user = User.objects.select_related("membership__account").filter(pk=pk).first()
    if user is None or member_state(user) != "invited" or getattr(user, "membership", None) is None:
        return None
    return user if invitation_token_generator.check_token(user, token) else None


def invitation_accept(*, uidb64: str, token: str, password: str, context: AuditContext = NO_CONTEXT) -> User:
    """Set the invited user's first password (under the full policy) and activate them. The token
    is checked again under the user's row lock, so one link sets a password once."""
    with transaction.atomic():
        found = invitation_user(uidb64=uidb64, token=token)
        user = User.objects.select_for_update().filter(pk=found.pk).first() if found is not None else None
        if user is None or member_state(user) != "invited" or not invitation_token_generator.check_token(user, token):
            raise ApplicationError(
                "This invitation link is not valid any more: it was used already, replaced by a newer one, or it "
                "has expired. Ask the person who invited you to send a new one.",
                code="invitation_invalid",
            )
        password_check(password, user)
        user.set_password(password)
        user.is_active = True
        user.password_changed_at = timezone.now()
        # A new sub-user sees times in the zone of their sending window until they choose another.
        user.time_zone = Membership.objects.filter(user=user).values_list("window_timezone", flat=True).get() or "UTC"
        user.save(update_fields=["password", "is_active", "password_changed_at", "time_zone"])
        account = Account.objects.get(memberships__user=user)
        audit_record(
            action="subuser.invitation_accepted",
            account=account,
            actor=user,
            context=context,
            target=user,
            data={"email": user.email},
        )
    return user


def invitation_email_send(*, user_id: int, domain: str, use_https: bool) -> bool:
    """The invitation task's work: a fresh token and link, sent now. False when the user is no
    longer waiting for an invitation (accepted, canceled, deactivated)."""
    user = User.objects.select_related("membership__account").filter(pk=user_id).first()
    if user is None or getattr(user, "membership", None) is None or member_state(user) != "invited":
        return False
    context = {
        "email": user.email,
        "account_name": user.membership.account.name,
        "domain": domain,
        "protocol": "https" if use_https else "http",
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": invitation_token_generator.make_token(user),
        "days": INVITATION_TIMEOUT.days,
    }
    subject = "".join(render_to_string("members/email/invitation_subject.txt", context).splitlines())
    send_mail(subject, render_to_string("members/email/invitation.txt", context), None, [user.email])
    return True
