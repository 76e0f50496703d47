"""Webhook services: every write of the webhooks app goes through one of these."""

from webhooks.services.endpoints import (
    MAX_ENDPOINTS,
    NewSecret,
    endpoint_create,
    endpoint_delete,
    endpoint_disable_automatically,
    endpoint_index,
    endpoint_rotate,
    endpoint_set_enabled,
)
from webhooks.services.sending import (
    deliveries_due,
    deliveries_purge,
    deliveries_send,
    delivery_resend,
    endpoint_test,
)

__all__ = [
    "MAX_ENDPOINTS",
    "NewSecret",
    "deliveries_due",
    "deliveries_purge",
    "deliveries_send",
    "delivery_resend",
    "endpoint_create",
    "endpoint_delete",
    "endpoint_disable_automatically",
    "endpoint_index",
    "endpoint_rotate",
    "endpoint_set_enabled",
    "endpoint_test",
]
