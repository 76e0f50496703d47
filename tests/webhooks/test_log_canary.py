"""No webhook secret (nor the receiver's own token in its URL's query) reaches a log line, the
audit log or an e-mail: through the API, the portal, a rotation, sends and an automatic disable."""

import re

import pytest

from audit.models import AuditEvent
from tests import api_support as api
from tests.conftest import force_login_recent
from tests.page_support import post_form, shown_secret
from webhooks.models import Endpoint
from webhooks.services import deliveries_send

pytestmark = pytest.mark.django_db


def test_no_webhook_secret_reaches_a_log(client, account_owner, receiver, queued_tasks, capture_everything, mailoutbox):
    run = capture_everything
    _, token = api.make_token(account_owner, scopes=["webhooks:manage"])
    created = run(
        lambda: api.post_json(
            client, "/api/v1/webhooks", {"url": receiver.url, "events": ["message.sent"]}, **api.bearer(token)
        )
    )
    secrets = {created.json()["secret"], "abc123"}
    endpoint = Endpoint.objects.get()
    force_login_recent(client, account_owner)
    secrets.add(shown_secret(run(lambda: post_form(client, f"/webhooks/{endpoint.pk}/rotate/"))))
    run(lambda: api.post_json(client, f"/api/v1/webhooks/{endpoint.pk}/test", {}, **api.bearer(token)))
    receiver.answer(500, b"no")
    run(lambda: deliveries_send(endpoint_id=endpoint.pk))
    receiver.answer(410, b"gone")
    run(lambda: client.post(f"/webhooks/{endpoint.pk}/test/"))
    run(lambda: deliveries_send(endpoint_id=endpoint.pk))
    endpoint.refresh_from_db()
    assert not endpoint.enabled  # the whole path ran, disabling included
    secrets |= {secret.removeprefix("whsec_") for secret in secrets}

    texts = capture_everything.texts()
    stored = repr([(e.data, e.object_repr) for e in AuditEvent.objects.all()])
    for where, text in {**texts, "audit log": stored, "e-mails": repr([m.body for m in mailoutbox])}.items():
        for secret in secrets:
            assert not re.search(re.escape(secret), text), f"a secret ({secret[:8]}…) appears in {where}"
    assert mailoutbox, "the owner was told the endpoint was disabled"
