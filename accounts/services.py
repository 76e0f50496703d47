import logging

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Account, Membership, User
from audit.context import NO_CONTEXT, AuditContext
from audit.services import audit_record
from core.errors import ApplicationError
from core.phone import normalize_phone

logger = logging.getLogger(__name__)


def password_check(password: str, user: User) -> None:
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
    actor: User | None = None,
) -> Account:
    """A new customer account with its owner. Opening credit is a step above this layer
    (messaging.services.account_open creates and credits in one transaction)."""
    email = User.objects.normalize_email(owner_email.strip()).lower()
    if User.objects.filter(email=email).exists():
        raise ApplicationError(
            "A user with this email already exists.", code="email_taken", errors={"email": ["Taken."]}
        )
    # The one phone rule (core/phone.py): a number stored here is where the owner's test SMS goes.
    user = User(email=email, full_name=owner_name, phone=normalize_phone(owner_phone) if owner_phone else "")
    password_check(owner_password, user)
    user.set_password(owner_password)
    user.password_changed_at = timezone.now()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # the same e-mail registered a moment ago
        raise ApplicationError(
            "A user with this email already exists.", code="email_taken", errors={"email": ["Taken."]}
        ) from exc
    account = Account.objects.create(name=name.strip() or email)
    Membership.objects.create(user=user, account=account, role=Membership.Role.OWNER)
    audit_record(action="account.created", account=account, actor=actor, target=account, data={"owner": email})
    return account


SETTINGS_FIELDS = ("default_country",)


def account_settings_update(
    *, account: Account, data: dict, actor: User, context: AuditContext = NO_CONTEXT
) -> Account:
    """The owner's account settings (SETTINGS_FIELDS), under the account's row lock; one audit
    event naming what changed (nothing changed: no event)."""
    with transaction.atomic():
        locked = Account.objects.select_for_update(no_key=True).get(pk=account.pk)
        before = {name: getattr(locked, name) for name in SETTINGS_FIELDS}
        changes = {name: [before[name], data[name]] for name in SETTINGS_FIELDS if before[name] != data[name]}
        if not changes:
            return locked
        for name in changes:
            setattr(locked, name, data[name])
        locked.save(update_fields=[*changes, "updated_at"])
        audit_record(action="account.settings_changed", account=locked, actor=actor, context=context, data=changes)
    return locked
