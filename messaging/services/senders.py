"""Sender names: requested by customers, approved by staff."""

from django.db import transaction
from django.utils import timezone

from accounts.models import Account, User
from audit.services import audit_record
from core.errors import ApplicationError
from messaging.models import SenderName
from messaging.services.submit import SENDER_ALNUM, SENDER_NUMERIC


@transaction.atomic
def sender_name_request(*, account: Account, name: str, note: str, actor: User | None) -> SenderName:

    name = name.strip()
    if not (SENDER_ALNUM.match(name) or SENDER_NUMERIC.match(name)):
        raise ApplicationError(
            "A sender name is up to 11 letters, digits and spaces, or a phone number.",
            code="invalid_request",
            errors={"name": ["Invalid sender name."]},
        )
    if SenderName.objects.filter(account=account, name__iexact=name).exists():
        raise ApplicationError(
            "This name was already requested.", code="duplicate", errors={"name": ["Already requested."]}
        )
    sender = SenderName.objects.create(account=account, name=name, note=note[:200])
    audit_record(action="sender_name.requested", account=account, actor=actor, target=sender)
    return sender


@transaction.atomic
def sender_names_review(*, sender_ids: list[int], approve: bool, actor: User | None) -> int:
    status = SenderName.Status.APPROVED if approve else SenderName.Status.REJECTED
    names = list(SenderName.objects.select_for_update().filter(pk__in=sender_ids))
    for sender in names:
        sender.status = status
        sender.reviewed_at = timezone.now()
        sender.save(update_fields=["status", "reviewed_at"])
        audit_record(action=f"sender_name.{status}", account=sender.account, actor=actor, target=sender)
    return len(names)
