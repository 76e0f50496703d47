import pytest

from audit import hub
from inbound.services import inbound_number_assign

MO_SECRET = "mo-secret-for-the-suite"
NUMBER = "+447700900500"  # the account's inbound number
SENDER = "+447400123456"


@pytest.fixture(autouse=True)
def _mo_settings(settings):
    settings.KANNEL_MO_SECRET = MO_SECRET
    settings.KANNEL_DLR_ALLOWED_IPS = ["127.0.0.1"]


@pytest.fixture
def number(owner):
    """The owner's account's inbound number."""
    return inbound_number_assign(number=NUMBER, account_id=owner.membership.account_id)


@pytest.fixture
def published():
    """Every event of issue #14's contract the hub delivers (after the commit)."""
    events: list[hub.Event] = []
    hub.subscribe(events.append, actions={"message.received", "opt_out.created", "opt_out.removed"})
    yield events
    hub.unsubscribe(events.append)


def mo(client, method: str = "get", **params):
    """A call of Kannel's sms-service to the hook (from 127.0.0.1, the test client's address)."""
    params = {"secret": MO_SECRET, "from": SENDER, "to": NUMBER, "text": "Hello", **params}
    params = {name: value for name, value in params.items() if value is not None}
    return getattr(client, method)("/hooks/kannel/mo", params)
