from django.db.models import Count, Q

from accounts.models import Account
from messaging.models import Message


def message_counts(*, account: Account) -> dict[str, int]:
    """Counts by outcome for the account's dashboard, in one query."""
    return Message.objects.filter(account=account).aggregate(
        total=Count("id"),
        delivered=Count("id", filter=Q(status=Message.Status.DELIVERED)),
        pending=Count("id", filter=Q(status__in=["scheduled", "queued", "sending", "sent", "held"])),
        failed=Count("id", filter=Q(status__in=["undelivered", "failed", "rejected"])),
    )


def recent_messages(*, account: Account, limit: int = 10) -> list[Message]:
    return list(
        Message.objects.filter(account=account)
        .only("id", "recipient", "sender", "status", "created_at", "segments", "cost", "is_system")
        .order_by("-created_at")[:limit]
    )
