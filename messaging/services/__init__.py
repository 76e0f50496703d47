"""Messaging services: every write of the messaging app goes through one of these."""

from messaging.services.delivery import (
    REDACTED_TEXT,
    message_deliver,
    message_fail,
    message_send_system,
    message_send_test,
    messages_recover_stuck,
    messages_requeue_stale,
)
from messaging.services.ledger import ledger_adjust, ledger_topup

__all__ = [
    "REDACTED_TEXT",
    "ledger_adjust",
    "ledger_topup",
    "message_deliver",
    "message_fail",
    "message_send_system",
    "message_send_test",
    "messages_recover_stuck",
    "messages_requeue_stale",
]
