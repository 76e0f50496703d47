"""Reads of the webhooks app, always within the owning account (another account's endpoint is
simply not found)."""

from django.db.models import Prefetch, QuerySet

from webhooks.models import Attempt, Delivery, Endpoint


def endpoint_list(*, account_id: int) -> QuerySet[Endpoint]:
    return Endpoint.objects.filter(account_id=account_id).order_by("created_at", "pk")


def endpoint_get(*, account_id: int, endpoint_id) -> Endpoint | None:
    return Endpoint.objects.filter(account_id=account_id, pk=endpoint_id).first()


def delivery_list(*, endpoint: Endpoint, limit: int = 25) -> list[Delivery]:
    """The endpoint's most recent deliveries, each with its attempts (two queries)."""
    return list(
        Delivery.objects.filter(endpoint=endpoint)
        .order_by("-created_at", "-id")
        .prefetch_related(Prefetch("attempt_log", queryset=Attempt.objects.order_by("created_at", "id")))[:limit]
    )
