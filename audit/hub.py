"""The event hub: what happened is recorded once (audit.services), and what follows from it
subscribes here instead of being wired into each service by hand (the pattern of pretix's
`log_action` → notifications and webhooks).

A subscriber is a function of one `Event`, registered by the app that reacts, from its
`AppConfig.ready()` (so the hub, at the bottom, imports none of them). Subscribers run after the
transaction that published the event commits (at once outside a transaction): an event of a
request that is rolled back never reaches them. One subscriber's failure is logged and does not
stop the others or the request.
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

from django.db import transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    """A message for a person about the event (an owner's security alert). No secret in it: it
    travels through the broker."""

    kind: str
    subject: str
    body: str
    # At most one e-mail an hour per kind and account (what an attack repeats: lockouts, refused
    # addresses); False: every one (a change the owner must hear of each time).
    hourly: bool = True


@dataclass(frozen=True)
class Event:
    action: str
    account_id: int | None = None
    actor_id: int | None = None
    audit_event_id: int | None = None  # the AuditEvent row, when the event was recorded
    object_type: str = ""
    object_id: str = ""
    data: dict = field(default_factory=dict)
    notice: Notice | None = None


Handler = Callable[[Event], None]
_subscribers: list[tuple[frozenset[str] | None, Handler]] = []


def subscribe(handler: Handler, *, actions: Iterable[str] | None = None) -> None:
    """Call `handler` for each event whose action is in `actions` (every event when None)."""
    entry = (frozenset(actions) if actions is not None else None, handler)
    if entry not in _subscribers:
        _subscribers.append(entry)


def unsubscribe(handler: Handler) -> None:
    _subscribers[:] = [entry for entry in _subscribers if entry[1] is not handler]


def subscribed(action: str) -> list[Handler]:
    return [handler for actions, handler in _subscribers if actions is None or action in actions]


def publish(event: Event) -> None:
    """Deliver `event` to its subscribers once the current transaction commits."""
    handlers = subscribed(event.action)
    if handlers:
        transaction.on_commit(partial(_deliver, event, handlers), robust=True)


def _deliver(event: Event, handlers: list[Handler]) -> None:
    for handler in handlers:
        try:
            handler(event)
        except Exception:
            logger.exception("subscriber %s failed on %s", getattr(handler, "__qualname__", handler), event.action)
