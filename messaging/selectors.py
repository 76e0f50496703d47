from django.db.models import Count, Q

from messaging.models import Message


def dashboard_messages(*, user):
    """The dashboard's messages: those this user may see (visible_messages), and the test SMS
    they sent themselves from the dashboard (a system message, but theirs; never a sign-in code)."""
    own_tests = Message.objects.filter(submitted_by=user, is_system=True, sensitive=False, is_test=False)
    return visible_messages(user=user) | own_tests


def message_counts(*, user) -> dict[str, int]:
    """Counts by outcome of the dashboard's messages, in one query."""
    return dashboard_messages(user=user).aggregate(
        total=Count("id"),
        delivered=Count("id", filter=Q(status=Message.Status.DELIVERED)),
        pending=Count("id", filter=Q(status__in=["scheduled", "queued", "sending", "sent", "held"])),
        failed=Count("id", filter=Q(status__in=["undelivered", "failed", "rejected"])),
    )


def recent_messages(*, user, limit: int = 10) -> list[Message]:
    """The dashboard's newest messages."""
    return list(
        dashboard_messages(user=user)
        .only("id", "recipient", "sender", "status", "created_at", "segments", "cost", "is_system")
        .order_by("-created_at")[:limit]
    )


def visible_messages(*, user):
    """Messages this portal user may see: the account's with `view_messages`, else their own.
    The portal shows live messages; test-mode ones belong to the API's test keys."""
    membership = getattr(user, "membership", None)
    if membership is None:
        return Message.objects.none()
    # System messages (sign-in codes, test SMS) are the product's own: never listed to anyone.
    messages = Message.objects.filter(account_id=membership.account_id, is_test=False, is_system=False)
    if not membership.has_permission("view_messages"):
        messages = messages.filter(submitted_by=user)
    return messages


def message_list(*, user, status="", recipient="", batch_id=None, since=None, until=None):
    messages = visible_messages(user=user)
    if status:
        messages = messages.filter(status=status)
    if recipient:
        messages = messages.filter(recipient__contains=recipient.strip())
    if batch_id:
        messages = messages.filter(batch_id=batch_id)
    if since:
        messages = messages.filter(created_at__date__gte=since)
    if until:
        messages = messages.filter(created_at__date__lte=until)
    return messages.order_by("-created_at", "-id")


def message_detail(*, user, message_id):
    """The message with its history, or None (another account's id is simply not found)."""
    return visible_messages(user=user).filter(pk=message_id).prefetch_related("events").first()


def sender_names(*, account):
    from messaging.models import SenderName

    return SenderName.objects.filter(account=account).order_by("name")


def usable_sender_names(*, user) -> list[str]:
    from messaging.models import SenderName

    membership = user.membership
    approved = SenderName.objects.filter(account_id=membership.account_id, status=SenderName.Status.APPROVED)
    if not membership.is_owner:
        allowed = membership.allowed_senders.filter(status=SenderName.Status.APPROVED)
        if allowed.exists():
            approved = allowed
    return list(approved.order_by("name").values_list("name", flat=True))
