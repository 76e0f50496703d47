"""Messaging services: every write of the messaging app goes through one of these."""

from messaging.services.delivery import (
    REDACTED_TEXT,
    message_cancel,
    message_deliver,
    message_fail,
    message_send_system,
    message_send_test,
    messages_cancel,
    messages_review,
)
from messaging.services.ledger import account_open, ledger_adjust, ledger_topup
from messaging.services.recovery import messages_recover_stuck, messages_release_due, messages_requeue_stale
from messaging.services.reports import dlr_record
from messaging.services.senders import sender_name_request, sender_names_review
from messaging.services.submit import message_submit

__all__ = [
    "REDACTED_TEXT",
    "account_open",
    "dlr_record",
    "ledger_adjust",
    "ledger_topup",
    "message_cancel",
    "message_deliver",
    "message_fail",
    "message_send_system",
    "message_send_test",
    "message_submit",
    "messages_cancel",
    "messages_recover_stuck",
    "messages_release_due",
    "messages_requeue_stale",
    "messages_review",
    "sender_name_request",
    "sender_names_review",
]
