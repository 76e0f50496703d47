"""The account's security policy (2FA required, password age, session timeouts)."""

from django.db import transaction

from accounts.models import Account, User
from audit.context import NO_CONTEXT, AuditContext
from audit.services import audit_record
from core.errors import ApplicationError

# The account's fields that make up its security policy (the policy form edits these).
POLICY_FIELDS = (
    "require_2fa",
    "password_max_age_days",
    "password_age_mode",
    "session_timeout_minutes",
    "session_timeout_max_minutes",
)


@transaction.atomic
def account_policy_update(*, account: Account, data: dict, actor: User, context: AuditContext = NO_CONTEXT) -> Account:
    fields = POLICY_FIELDS
    locked = Account.objects.select_for_update(no_key=True).get(pk=account.pk)
    before = {field: getattr(locked, field) for field in fields}
    for field in fields:
        setattr(locked, field, data[field])
    if locked.session_timeout_minutes > locked.session_timeout_max_minutes:
        raise ApplicationError("The default timeout cannot be longer than the maximum.", code="invalid_timeout")
    locked.save(update_fields=[*fields, "updated_at"])
    changes = {field: [before[field], data[field]] for field in fields if before[field] != data[field]}
    if changes:
        audit_record(action="security.policy_changed", account=locked, actor=actor, context=context, data=changes)
    return locked
