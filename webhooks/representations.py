"""What a webhook's `data` is: the resource exactly as the API answers it (SPEC §7), rendered by the
owning app's bulk function `representations(account_id, ids) -> {id: dict}` when the delivery is
sent, so a retry carries the resource's current state. An event that carries its own data (an
opt-out, which may be gone by then; a test) is sent with that."""

import logging
from collections import defaultdict

from django.utils.module_loading import import_string

from webhooks.models import Delivery

logger = logging.getLogger(__name__)

# An event's object type → the function of the app that owns it (all below webhooks).
SOURCES = {
    "message": "messaging.apis.representations",
    "inbound": "inbound.apis.representations",
    "verification": "verify.apis.representations",
}


def delivery_data(account_id: int, deliveries: list[Delivery]) -> dict[int, dict]:
    """Each delivery's `data`, one query per kind of object."""
    data: dict[int, dict] = {}
    wanted: dict[str, list[Delivery]] = defaultdict(list)
    for delivery in deliveries:
        if delivery.data or not delivery.object_type:
            data[delivery.pk] = delivery.data
        else:
            wanted[delivery.object_type].append(delivery)
    for object_type, group in wanted.items():
        found: dict = {}
        try:
            render = import_string(SOURCES[object_type])
        except (KeyError, ImportError):
            logger.error("no representation for webhook objects of type %s", object_type)
        else:
            found = render(account_id, {delivery.object_id for delivery in group})
        for delivery in group:
            # Gone since (or unknown): its id at least, so the receiver can tell what it was about.
            data[delivery.pk] = found.get(delivery.object_id) or {"id": delivery.object_id}
    return data
