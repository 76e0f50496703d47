from celery import shared_task

from webhooks import services


@shared_task(acks_late=True)
def send_endpoint_deliveries(endpoint_id: str) -> int:
    """Send one endpoint's due deliveries. Idempotent: each delivery is claimed before it is sent."""
    return services.deliveries_send(endpoint_id=endpoint_id)


@shared_task(acks_late=True)
def send_due_deliveries() -> int:
    return services.deliveries_due()


@shared_task(acks_late=True)
def purge_old_deliveries() -> int:
    return services.deliveries_purge()
