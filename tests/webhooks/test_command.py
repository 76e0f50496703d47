"""`manage.py create_webhook` (SPEC §9): the secret alone on the last line."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from standardwebhooks.webhooks import Webhook

from webhooks.models import Endpoint
from webhooks.services import deliveries_send, endpoint_test

pytestmark = pytest.mark.django_db


def test_create_webhook_prints_the_secret_on_the_last_line(account_owner, receiver):
    out = StringIO()
    call_command(
        "create_webhook",
        "--email",
        account_owner.email.upper(),
        "--url",
        receiver.url,
        "--events",
        "message.delivered message.received",
        stdout=out,
    )
    secret = out.getvalue().strip().splitlines()[-1]
    endpoint = Endpoint.objects.get(account_id=account_owner.membership.account_id)
    assert endpoint.events == ["message.delivered", "message.received"]
    endpoint_test(account_id=endpoint.account_id, endpoint_id=endpoint.pk)
    deliveries_send(endpoint_id=endpoint.pk)
    Webhook(secret).verify(receiver.requests[0].body, receiver.requests[0].headers)


@pytest.mark.parametrize(
    ("email", "events", "error"),
    [
        ("nobody@example.com", "message.delivered", "No user"),
        (None, "message.exploded", "Unknown event"),
    ],
)
def test_create_webhook_refuses_clearly(account_owner, receiver, email, events, error):
    with pytest.raises(CommandError, match=error):
        call_command(
            "create_webhook", "--email", email or account_owner.email, "--url", receiver.url, "--events", events
        )
    assert not Endpoint.objects.exists()
