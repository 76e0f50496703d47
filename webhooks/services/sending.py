"""From an event on the hub to a signed POST: deliveries, their attempts, retries and give-ups.

The hub calls `on_event` after the event's transaction commits. An account with no endpoint for
that event costs a cached lookup and nothing else. Otherwise one delivery row per endpoint is
inserted (one statement) and the endpoint is *kicked*: a Celery task for it is queued unless one
is queued already, so a burst of events becomes one task per endpoint, which sends what is due in
batches over one connection. Each attempt claims its delivery by moving its next attempt a lease
ahead (two tasks never send the same delivery at once; a killed worker's claim runs out, and the
beat job picks it up), signs the body at that moment, and records what the receiver answered.
"""

import json
import logging
import random
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from audit import hub
from audit.context import NO_CONTEXT, AuditContext
from core.api import iso_z
from core.errors import Conflict, not_found
from webhooks import signing, ssrf
from webhooks.models import EVENTS, TEST_EVENT, Attempt, Delivery, Endpoint
from webhooks.representations import delivery_data
from webhooks.services.endpoints import endpoint_disable_automatically, endpoint_index, signing_secrets

logger = logging.getLogger(__name__)

RETRY_WINDOW = timedelta(hours=24)  # then a delivery is failed
FAILING_DISABLES_AFTER = timedelta(days=3)  # an endpoint failing this long is switched off
FIRST_RETRY_SECONDS = 30
LONGEST_WAIT_SECONDS = 4 * 3600
BATCH = 20
LEASE = timedelta(minutes=5)  # a claimed delivery's next attempt, should its worker die
TASK_BUDGET_SECONDS = 40  # within Celery's soft time limit: the rest goes to a new task
KICK_SECONDS = 120  # a kick's mark, should its task be lost (the beat job also finds due work)


# --- Events in -------------------------------------------------------------------------------


def on_event(event: hub.Event) -> None:
    """The hub's subscriber (registered by WebhooksConfig.ready)."""
    if event.account_id is None:
        return
    endpoint_ids = endpoint_index(event.account_id).get(event.action)
    if endpoint_ids:
        deliveries_create(
            endpoint_ids=endpoint_ids,
            event_type=event.action,
            object_type=event.object_type,
            object_id=event.object_id,
            data=event.data,
        )


def subscribe() -> None:
    hub.subscribe(on_event, actions=set(EVENTS))


def deliveries_create(*, endpoint_ids: list, event_type: str, object_type: str, object_id: str, data: dict) -> None:
    """One delivery per endpoint, in one INSERT, sent by a task once this commits."""
    now = timezone.now()

    def rows(ids) -> list[Delivery]:
        return [
            Delivery(
                endpoint_id=endpoint_id,
                webhook_id=signing.webhook_id_new(),
                event_type=event_type,
                object_type=object_type,
                object_id=object_id,
                data=data or {},
                next_attempt_at=now,
                give_up_at=now + RETRY_WINDOW,
                created_at=now,
            )
            for endpoint_id in ids
        ]

    try:
        with transaction.atomic():
            Delivery.objects.bulk_create(rows(endpoint_ids))
    except IntegrityError:
        # An endpoint deleted since the cached index was read: only those that still exist.
        endpoint_ids = [str(pk) for pk in Endpoint.objects.filter(pk__in=endpoint_ids).values_list("pk", flat=True)]
        Delivery.objects.bulk_create(rows(endpoint_ids))
    kick(endpoint_ids)


def _kick_key(endpoint_id) -> str:
    return f"webhooks:kick:{endpoint_id}"


def kick(endpoint_ids: list) -> None:
    """After the commit, a send task for each endpoint that has none queued yet. A broker that is
    down loses nothing: the deliveries are due in the database, and the beat job finds them."""
    from webhooks.tasks import send_endpoint_deliveries

    def publish() -> None:
        for endpoint_id in endpoint_ids:
            if cache.add(_kick_key(endpoint_id), 1, timeout=KICK_SECONDS):
                try:
                    send_endpoint_deliveries.delay(str(endpoint_id))
                except Exception as exc:
                    cache.delete(_kick_key(endpoint_id))
                    logger.error("webhook task for endpoint %s not queued: %s", endpoint_id, type(exc).__name__)

    transaction.on_commit(publish, robust=True)


# --- Asked for by a person -------------------------------------------------------------------


def endpoint_test(*, account_id: int, endpoint_id, context: AuditContext = NO_CONTEXT) -> Delivery:
    """A `webhook.test` event to one endpoint; its data is the endpoint as the API shows it."""
    from webhooks.serializers import endpoint_json

    endpoint = Endpoint.objects.filter(account_id=account_id, pk=endpoint_id).first()
    if endpoint is None:
        raise not_found("webhook endpoint")
    if not endpoint.enabled:
        raise Conflict("The endpoint is disabled: enable it first.", code="endpoint_disabled")
    now = timezone.now()
    delivery = Delivery.objects.create(
        endpoint=endpoint,
        webhook_id=signing.webhook_id_new(),
        event_type=TEST_EVENT,
        object_type="webhook_endpoint",
        object_id=str(endpoint.pk),
        data=endpoint_json(endpoint),
        next_attempt_at=now,
        give_up_at=now + RETRY_WINDOW,
        created_at=now,
    )
    kick([endpoint.pk])
    return delivery


@transaction.atomic
def delivery_resend(*, account_id: int, delivery_id: int, context: AuditContext = NO_CONTEXT) -> Delivery:
    """Send a delivery again (same `webhook-id`: the same event), with a fresh day of retries."""
    delivery = (
        Delivery.objects.select_for_update(of=("self",))
        .select_related("endpoint")
        .filter(endpoint__account_id=account_id, pk=delivery_id)
        .first()
    )
    if delivery is None:
        raise not_found("delivery")
    if not delivery.endpoint.enabled:
        raise Conflict("The endpoint is disabled: enable it first.", code="endpoint_disabled")
    now = timezone.now()
    delivery.status, delivery.next_attempt_at, delivery.give_up_at = Delivery.Status.PENDING, now, now + RETRY_WINDOW
    delivery.save(update_fields=["status", "next_attempt_at", "give_up_at"])
    kick([delivery.endpoint_id])
    return delivery


# --- Sending ---------------------------------------------------------------------------------


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure: doubling from 30 s up to 4 h, with jitter (half
    of it random) so that many receivers coming back at once are not hit together."""
    wait = min(LONGEST_WAIT_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1))
    return timedelta(seconds=wait / 2 + random.uniform(0, wait / 2))


def _claim(endpoint_id, *, limit: int) -> list[Delivery]:
    """Up to `limit` of the endpoint's due deliveries, oldest first, each leased to this task."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(endpoint_id=endpoint_id, status=Delivery.Status.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id")
            .values_list("pk", flat=True)[:limit]
        )
        Delivery.objects.filter(pk__in=ids).update(next_attempt_at=now + LEASE)
    return list(Delivery.objects.filter(pk__in=ids).order_by("created_at", "id"))


def body_of(delivery: Delivery, data: dict) -> bytes:
    """The body (SPEC §7): the event, when it happened, and the resource."""
    document = {"type": delivery.event_type, "timestamp": iso_z(delivery.created_at), "data": data}
    return json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":")).encode()


def deliveries_send(*, endpoint_id) -> int:
    """The task's work: send the endpoint's due deliveries, in batches, for at most
    TASK_BUDGET_SECONDS (then a new task takes over). Returns how many attempts were made."""
    cache.delete(_kick_key(endpoint_id))  # an event from now on queues a task again
    deadline = time.monotonic() + TASK_BUDGET_SECONDS
    made = 0
    while True:
        endpoint = Endpoint.objects.filter(pk=endpoint_id).first()
        if endpoint is None or not endpoint.enabled:
            return made
        batch = _claim(endpoint_id, limit=BATCH)
        if not batch:
            return made
        made += _send_batch(endpoint, batch, deadline=deadline)
        if time.monotonic() >= deadline:
            kick([endpoint_id])
            return made


def _send_batch(endpoint: Endpoint, batch: list[Delivery], *, deadline: float) -> int:
    try:
        target = ssrf.check_url(endpoint.url)  # again at send: what the name resolves to now
    except ssrf.UnsafeUrl as exc:
        for delivery in batch:
            _record(endpoint, delivery, ssrf.Answer(None, f"refused: {exc.detail}"[:200], 0, ""))
        _note_failures(endpoint, succeeded=False)
        return len(batch)
    secrets_ = signing_secrets(endpoint)
    data = delivery_data(endpoint.account_id, batch)
    connection = ssrf.Connection(target, timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
    made, succeeded = 0, False
    try:
        for position, delivery in enumerate(batch):
            if position and time.monotonic() >= deadline:
                # Out of time: the rest are due again at once, for the next task.
                Delivery.objects.filter(pk__in=[d.pk for d in batch[position:]]).update(next_attempt_at=timezone.now())
                break
            body = body_of(delivery, data[delivery.pk])
            now = timezone.now()
            headers = {
                "webhook-id": delivery.webhook_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": signing.signature_header(
                    secrets_=secrets_, webhook_id=delivery.webhook_id, timestamp=now, body=body
                ),
                "Content-Type": "application/json",
                "User-Agent": "SMS-Portal-Webhooks/1.0",
            }
            answer = connection.post(body=body, headers=headers)
            made += 1
            _record(endpoint, delivery, answer)
            if answer.status_code == 410:
                endpoint_disable_automatically(endpoint_id=endpoint.pk, reason="the receiver answered 410 Gone")
                Delivery.objects.filter(pk__in=[d.pk for d in batch[position + 1 :]]).update(next_attempt_at=None)
                return made
            succeeded = succeeded or (answer.status_code is not None and 200 <= answer.status_code < 300)
    finally:
        connection.close()
    _note_failures(endpoint, succeeded=succeeded)
    return made


def _record(endpoint: Endpoint, delivery: Delivery, answer: ssrf.Answer) -> None:
    """One attempt: logged, and the delivery delivered, failed for good, or due again later."""
    now = timezone.now()
    error = answer.error
    if answer.status_code is not None and 300 <= answer.status_code < 400:
        error = "redirect not followed"
    Attempt.objects.create(
        delivery=delivery,
        created_at=now,
        status_code=answer.status_code,
        error=error[:200],
        latency_ms=answer.latency_ms,
        response_excerpt=answer.excerpt,
    )
    next_attempt = now + backoff(delivery.attempts + 1)
    changes: dict = {"attempts": F("attempts") + 1, "next_attempt_at": None}
    if answer.status_code is not None and 200 <= answer.status_code < 300:
        changes["status"] = Delivery.Status.DELIVERED
    elif answer.status_code == 410 or next_attempt > delivery.give_up_at:
        changes["status"] = Delivery.Status.FAILED
    else:
        changes["next_attempt_at"] = next_attempt
    Delivery.objects.filter(pk=delivery.pk).update(**changes)


def _note_failures(endpoint: Endpoint, *, succeeded: bool) -> None:
    """An endpoint that answers is healthy again; one that has failed for FAILING_DISABLES_AFTER,
    every attempt since, is switched off."""
    now = timezone.now()
    if succeeded:
        if endpoint.failing_since is not None:
            Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
        return
    if endpoint.failing_since is None:
        Endpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
    elif now - endpoint.failing_since >= FAILING_DISABLES_AFTER:
        endpoint_disable_automatically(endpoint_id=endpoint.pk, reason="every attempt failed for 3 days")


# --- The beat job ----------------------------------------------------------------------------


def deliveries_due() -> int:
    """Beat: deliveries past their day of retries (those waiting for a disabled endpoint too) are
    failed, and each endpoint with due deliveries is kicked (a lost task, a retry's time come).
    Returns how many endpoints were kicked."""
    now = timezone.now()
    Delivery.objects.filter(status=Delivery.Status.PENDING, give_up_at__lt=now).update(
        status=Delivery.Status.FAILED, next_attempt_at=None
    )
    endpoint_ids = list(
        Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now, endpoint__enabled=True)
        .values_list("endpoint_id", flat=True)
        .distinct()[:1000]
    )
    kick(endpoint_ids)
    return len(endpoint_ids)


KEEP_DELIVERIES = timedelta(days=30)


def deliveries_purge(*, limit: int = 10_000) -> int:
    """Beat, daily: deliveries (and their attempts) older than KEEP_DELIVERIES go, a bounded
    number per run."""
    cutoff = timezone.now() - KEEP_DELIVERIES
    ids = list(
        Delivery.objects.filter(created_at__lt=cutoff)
        .exclude(status=Delivery.Status.PENDING)
        .values_list("pk", flat=True)[:limit]
    )
    Delivery.objects.filter(pk__in=ids).delete()
    return len(ids)
