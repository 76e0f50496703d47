"""The message log shows each message's text (shortened) and its CSV the full text, a Verify
code never (as on the message's page); the dashboard counts the messages the log lists."""

import csv
import io
import re

import pytest

from messaging.models import REDACTED_TEXT, Message
from messaging.services import message_send_test, message_submit

pytestmark = pytest.mark.django_db

LONG = "Doors open at 9 tomorrow; bring the printed ticket and a photo ID to the front desk."


def submit(owner, **kwargs):
    kwargs.setdefault("to", ["+447400100001"])
    return message_submit(account_id=owner.membership.account_id, user=owner, caller="test", **kwargs)


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_log_shows_a_shortened_text_and_the_csv_the_full_text(client, owner):
    submit(owner, text=LONG)
    client.force_login(owner)
    page = client.get("/messages/").content.decode()
    assert '<th scope="col">Text</th>' in page
    assert LONG[:30] in page
    assert LONG not in page
    [row] = csv_rows(client.get("/messages/", {"format": "csv"}))
    assert row["text"] == LONG


def test_a_verify_code_is_redacted_in_the_log_the_csv_and_the_page_even_before_hand_over(client, owner):
    submit(owner, text="Your code is 493817", sensitive=True)
    message = Message.objects.get()
    assert "493817" in message.text  # not handed over yet: the stored text still holds it
    client.force_login(owner)
    for body in (
        client.get("/messages/").content.decode(),
        client.get(f"/messages/{message.pk}/").content.decode(),
        b"".join(client.get("/messages/", {"format": "csv"}).streaming_content).decode(),
    ):
        assert "493817" not in body
        assert REDACTED_TEXT[:20] in body


def test_the_dashboard_counts_the_messages_the_log_lists_with_the_free_test_sms(client, owner):
    submit(owner, text="Hello")
    test_sms = message_send_test(user=owner)
    client.force_login(owner)
    dashboard = client.get("/").content.decode()
    shown = re.search(r'<h2 class="stat-label">Messages</h2><p class="stat">(\d+)</p>', dashboard).group(1)
    log = client.get("/messages/").content.decode()
    assert shown == "2"
    assert "2 messages" in log
    assert test_sms.recipient in log
    assert client.get(f"/messages/{test_sms.pk}/").status_code == 200
    assert {row["id"] for row in csv_rows(client.get("/messages/", {"format": "csv"}))} >= {str(test_sms.pk)}
