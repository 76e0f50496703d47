from decimal import Decimal

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import Account, AuditEvent, Membership, User
from portal.exceptions import ApplicationError
from portal.ip import get_client_ip


def audit_record(
    *,
    action: str,
    account: Account | None = None,
    actor: User | None = None,
    actor_token: str = "",
    request: HttpRequest | None = None,
    target=None,
    data: dict | None = None,
) -> AuditEvent:
    """Write one audit event. `data` must never hold a secret (password, token, code)."""
    ip, user_agent = None, ""
    if request is not None:
        ip = get_client_ip(request) or None
        user_agent = request.META.get("HTTP_USER_AGENT", "")[:300]
        if actor is None and getattr(request, "user", None) is not None and request.user.is_authenticated:
            actor = request.user
    if account is None and actor is not None:
        membership = getattr(actor, "membership", None)
        account = membership.account if membership is not None else None
    return AuditEvent.objects.create(
        account=account,
        actor=actor,
        actor_token=actor_token,
        action=action,
        ip=ip,
        user_agent=user_agent,
        object_type=target._meta.label_lower if target is not None else "",
        object_id=str(target.pk) if target is not None else "",
        object_repr=str(target)[:200] if target is not None else "",
        data=data or {},
    )


def _check_password(password: str, user: User) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ApplicationError(" ".join(exc.messages), code="weak_password", errors={"password": exc.messages}) from exc


@transaction.atomic
def account_create(
    *,
    name: str,
    owner_email: str,
    owner_password: str,
    owner_name: str = "",
    owner_phone: str = "",
    credit: Decimal = Decimal("0"),
    actor: User | None = None,
) -> Account:
    """A new customer account with its owner; an optional opening credit goes through the ledger."""
    from messaging.services import ledger_topup

    email = User.objects.normalize_email(owner_email.strip()).lower()
    if User.objects.filter(email=email).exists():
        raise ApplicationError(
            "A user with this email already exists.", code="email_taken", errors={"email": ["Taken."]}
        )
    user = User(email=email, full_name=owner_name, phone=owner_phone)
    _check_password(owner_password, user)
    user.set_password(owner_password)
    user.password_changed_at = timezone.now()
    user.save()
    account = Account.objects.create(name=name.strip() or email)
    Membership.objects.create(user=user, account=account, role=Membership.Role.OWNER)
    audit_record(action="account.created", account=account, actor=actor, target=account, data={"owner": email})
    if credit:
        ledger_topup(account_id=account.pk, points=Decimal(credit), note="Opening credit", actor=actor)
        account.refresh_from_db(fields=["balance"])
    return account
