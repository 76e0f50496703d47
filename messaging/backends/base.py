from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class OutgoingSms:
    """What a backend needs to hand one message over: no database object, no account data."""

    id: str
    to: str
    sender: str
    text: str
    created_at: datetime


@dataclass(frozen=True)
class SendResult:
    """The outcome of handing one message to the gateway.

    `status` is the message's next state: `sent` (accepted, a delivery report will follow),
    `delivered` (the backend is the end of the line, as `file` and `locmem` are), `failed`,
    `undelivered`, or `unknown` (no answer: the gateway may have taken it, so the message waits for
    a delivery report or the watchdog, and is never simply sent again). `retryable` failures (the
    request provably never reached the gateway) are tried again later; others are final.
    """

    id: str
    status: str
    provider_id: str = ""
    error_code: str = ""
    retryable: bool = False


class BaseSmsBackend:
    def send_messages(self, messages: list[OutgoingSms]) -> list[SendResult]:
        """Hand the messages over; one result per message, in order. Must not raise for one bad message."""
        raise NotImplementedError
