import random
import time
from datetime import UTC, datetime

from celery import shared_task
from celery.utils.log import get_task_logger
from django.conf import settings

from messaging import services, workers
from messaging.services.recovery import RETRY_BACKOFF_MAX_SECONDS

logger = get_task_logger(__name__)

MAX_RETRIES = 8


def backoff_seconds(retries: int) -> float:
    """Exponential backoff with full jitter: up to 5 s, 10 s, 20 s … capped at 10 minutes."""
    return random.uniform(1, min(RETRY_BACKOFF_MAX_SECONDS, 5 * 2**retries))


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True)
def deliver_messages(self, message_ids: list[str]) -> None:
    """Hand these messages to the gateway. Idempotent: only `queued` messages are taken."""
    deadline = time.monotonic() + settings.SMS_DELIVERY_BATCH_SECONDS
    retry_ids = services.message_deliver(message_ids=message_ids, deadline=deadline)
    if not retry_ids:
        return
    if self.request.retries >= MAX_RETRIES:
        for message_id in retry_ids:
            # Only if still queued: a parallel task may have sent it in the meantime.
            services.message_fail(message_id=message_id, error_code="gateway_unreachable", only_if=("queued",))
        return
    raise self.retry(args=[retry_ids], countdown=backoff_seconds(self.request.retries))


@shared_task(acks_late=True)
def recover_stuck_messages() -> int:
    return services.messages_recover_stuck()


@shared_task(bind=True, acks_late=True)
def requeue_stale_messages(self, barrier: float | None = None) -> int:
    """The recovery sweep (services.messages_requeue_stale). Started without `barrier` (by beat,
    by a worker as it starts), it first sends itself to the back of the queue with the time it
    does so: when that copy runs, every task published before it has left the queue."""
    if barrier is None:
        self.apply_async(kwargs={"barrier": time.time()})
        return 0
    holdings = workers.live_holdings(self.app)
    return services.messages_requeue_stale(barrier=datetime.fromtimestamp(barrier, tz=UTC), holdings=holdings)


@shared_task(acks_late=True)
def release_scheduled_messages() -> int:
    return services.messages_release_due()


@shared_task(acks_late=True)
def purge_idempotency_records() -> int:
    from messaging.services.submit import idempotency_records_purge

    return idempotency_records_purge()
