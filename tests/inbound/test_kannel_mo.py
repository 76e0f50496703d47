"""Inbound SMS through the real gateway: fakesmsc sends a mobile-originated SMS → bearerbox →
smsbox, whose sms-service (the block docs/inbound.md shows) calls the MO hook on pytest-django's
live server; a STOP's confirmation goes back out through Kannel to the fake SMSC."""

import pytest

from contacts.models import OptOut
from inbound.models import InboundMessage
from inbound.services import inbound_number_assign
from messaging.models import Message
from tests.conftest import wait_for
from tests.inbound.conftest import MO_SECRET, NUMBER, SENDER

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def gateway(tmp_path, live_server, worker_factory):
    """Kannel with its MO hook pointing at the live server, and a worker sending through it."""
    from tests.kannel.stack import KannelStack

    stack = KannelStack(tmp_path / "kannel", mo_url=f"{live_server.url}/hooks/kannel/mo?secret={MO_SECRET}")
    stack.start_bearerbox()
    stack.start_smsbox()
    worker_factory(**stack.worker_env(live_server.url))
    yield stack
    stack.stop_all()


def test_sms_from_kannel_land_in_the_inbox_and_stop_is_confirmed_through_kannel(gateway, owner):
    inbound_number_assign(number=NUMBER, account_id=owner.membership.account_id)

    gateway.inject(SENDER, NUMBER, "Grüße, is the offer still on?")
    wait_for(lambda: InboundMessage.objects.exists(), timeout=30, message="the first SMS through Kannel")
    first = InboundMessage.objects.get()
    assert (first.account_id, first.sender, first.recipient) == (owner.membership.account_id, SENDER, NUMBER)
    assert first.text == "Grüße, is the offer still on?"
    assert first.smsc == "fake"
    assert first.kannel_ts is not None

    gateway.inject(SENDER, NUMBER, "STOP")
    wait_for(lambda: OptOut.objects.exists(), timeout=30, message="the STOP through Kannel")
    assert OptOut.objects.get().phone == SENDER
    assert InboundMessage.objects.count() == 2
    # The confirmation went out from the inbound number, through Kannel, to the fake SMSC.
    wait_for(lambda: gateway.received(), timeout=60, message="the confirmation at the fake SMSC")
    [(sender, receiver, text)] = gateway.received()
    assert (sender, receiver) == (NUMBER, SENDER)
    assert text == Message.objects.get(is_system=True).text
