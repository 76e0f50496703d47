"""Reads of the SMSGate dialect: batches (SMSGate's messages) among the messages a key may see,
through messaging's one visibility rule (`visible_messages`: the account, the key's test/live
mode, its user's own messages without `view_messages`)."""

import uuid
from collections import defaultdict

from django.db.models import Case, CharField, Count, Max, Min, Q, Value, When

from compat.smsgate.dialect import BATCH_STATE_ORDER, STATE_BY_STATUS, ListQuery, batch_ident, message_id_valid
from messaging.models import Message, MessageEvent
from messaging.selectors import visible_messages


def batch_find(*, user, is_test: bool, ident: str) -> list[Message]:
    """The batch SMSGate calls `ident`, oldest message first: a batch id first, then a client's id
    (our `reference`; the first batch that took it). Empty when the caller sees none."""
    if not message_id_valid(ident):
        return []
    messages = visible_messages(user=user, is_test=is_test)
    try:
        batch_id = uuid.UUID(ident)
    except ValueError:
        batch_id = None
    if batch_id is not None:
        found = list(messages.filter(batch_id=batch_id).order_by("id"))
        if found:
            return found
    first = (
        messages.filter(reference=ident)
        .exclude(batch_id=None)
        .order_by("created_at", "id")
        .values_list("batch_id", flat=True)
        .first()
    )
    return [] if first is None else list(messages.filter(batch_id=first).order_by("id"))


def reference_taken(*, account_id: int, is_test: bool, reference: str) -> bool:
    """Whether a message of the account (in this mode) already carries this client id."""
    return Message.objects.filter(account_id=account_id, is_test=is_test, reference=reference, is_system=False).exists()


ENDINGS = [status for status, state in STATE_BY_STATUS.items() if state in ("Failed", "Cancelled")]


def ended_at(messages: list[Message]) -> dict:
    """Message id → when it last failed or was cancelled, from the status history (one query)."""
    ended = [m.pk for m in messages if m.status in ENDINGS]
    if not ended:
        return {}
    rows = (
        MessageEvent.objects.filter(message_id__in=ended, status__in=ENDINGS)
        .values("message_id")
        .annotate(at=Max("created_at"))
        .order_by()
    )
    return {row["message_id"]: row["at"] for row in rows}


def _state_expression():
    """A batch's ProcessState in SQL, from the same table and order as dialect.batch_state."""
    counts = {
        state: Count("id", filter=Q(status__in=[status for status, s in STATE_BY_STATUS.items() if s == state]))
        for state in BATCH_STATE_ORDER
    }
    return counts, Case(
        *(When(**{f"n_{state}__gt": 0}, then=Value(state)) for state in BATCH_STATE_ORDER),
        default=Value("Cancelled"),
        output_field=CharField(),
    )


def batches_page(*, user, is_test: bool, query: ListQuery) -> tuple[int, list[tuple[str, list[Message]]]]:
    """(how many batches match, this page of them as (ident, messages)): three queries."""
    if query.other_device:
        return 0, []
    messages = visible_messages(user=user, is_test=is_test).exclude(batch_id=None)
    if query.since is not None:
        messages = messages.filter(created_at__gte=query.since)
    if query.until is not None:
        messages = messages.filter(created_at__lte=query.until)
    counts, state = _state_expression()
    batches = (
        messages.order_by()
        .values("batch_id")
        .annotate(created=Min("created_at"), reference=Min("reference"), **{f"n_{s}": c for s, c in counts.items()})
        .annotate(state=state)
    )
    if query.state is not None:
        batches = batches.filter(state=query.state)
    total = batches.count()
    order = ("created", "batch_id") if query.ascending else ("-created", "-batch_id")
    page = list(batches.order_by(*order)[query.offset : query.offset + query.limit])
    if not page:
        return total, []
    by_batch = defaultdict(list)
    for message in messages.filter(batch_id__in=[row["batch_id"] for row in page]).order_by("id"):
        by_batch[message.batch_id].append(message)
    return total, [(batch_ident(row["batch_id"], row["reference"]), by_batch[row["batch_id"]]) for row in page]
