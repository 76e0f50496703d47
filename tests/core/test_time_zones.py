"""Pages show times in the signed-in user's time zone and name it; the choice of zones is the
canonical Area/City names grouped by region; exports stay UTC (ISO 8601)."""

import csv
import io
from datetime import UTC, datetime

import pytest
from django.utils import timezone

from core.timezones import canonical_zones, zone_choices, zone_exists
from messaging.forms import SendForm
from messaging.models import Message
from messaging.selectors import sender_names_allowed

pytestmark = pytest.mark.django_db

NOON_UTC = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # 14:00 in Warsaw (summer time)


def test_the_choice_is_canonical_area_city_zones_grouped_by_region():
    choices = zone_choices()
    assert choices[0] == ("UTC", "UTC")
    groups = dict(choices[1:])
    assert {"Africa", "America", "Asia", "Europe", "Pacific"} <= groups.keys()
    assert ("Europe/Warsaw", "Warsaw") in groups["Europe"]
    assert ("America/Argentina/Buenos_Aires", "Argentina / Buenos Aires") in groups["America"]
    offered = {value for _, names in choices[1:] for value, _ in names}
    assert not {"localtime", "W-SU", "Zulu", "US/Eastern", "Etc/GMT+2", "Europe/Kiev", "posixrules"} & offered
    assert 300 < len(offered) < 500  # not the ~600 raw names
    assert offered == set(canonical_zones())


def test_a_valid_stored_zone_outside_the_list_stays_offered_to_whoever_has_it():
    assert zone_exists("Etc/GMT+2")
    assert ("Current", [("Etc/GMT+2", "Etc/GMT+2")]) in zone_choices("Etc/GMT+2")
    assert not any(label == "Current" for label, _ in zone_choices("Not/AZone"))


def _message(owner, **fields) -> Message:
    return Message.objects.create(
        account=owner.membership.account,
        submitted_by=owner,
        recipient="+447400123456",
        sender="ACME",
        text="Hello",
        status=Message.Status.DELIVERED,
        **fields,
    )


def test_pages_show_times_in_the_users_zone_and_name_it(client, owner):
    message = _message(owner)
    Message.objects.filter(pk=message.pk).update(created_at=NOON_UTC)
    client.force_login(owner)
    page = client.get(f"/messages/{message.pk}/").content.decode()
    assert "2026-07-01 12:00:00" in page
    assert "Times in UTC." in page

    owner.time_zone = "Europe/Warsaw"
    owner.save(update_fields=["time_zone"])
    page = client.get(f"/messages/{message.pk}/").content.decode()
    assert "2026-07-01 14:00:00" in page
    assert "Times in Europe/Warsaw." in page
    log = client.get("/messages/").content.decode()
    assert "2026-07-01 14:00:00" in log
    assert "(UTC)" not in log


def test_the_message_csv_stays_in_utc_whatever_the_users_zone(client, owner):
    owner.time_zone = "Asia/Tokyo"
    owner.save(update_fields=["time_zone"])
    message = _message(owner)
    Message.objects.filter(pk=message.pk).update(created_at=NOON_UTC)
    client.force_login(owner)
    response = client.get("/messages/", {"format": "csv"})
    header, row = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert row[header.index("created_at")] == "2026-07-01T12:00:00Z"


def test_a_day_filter_is_a_day_of_the_users_zone_on_the_page_and_in_the_csv(client, owner):
    owner.time_zone = "Europe/Warsaw"
    owner.save(update_fields=["time_zone"])
    late = _message(owner)
    Message.objects.filter(pk=late.pk).update(created_at=datetime(2026, 6, 30, 23, 30, tzinfo=UTC))  # 1 July, 01:30
    client.force_login(owner)
    assert "1 message<" in client.get("/messages/", {"since": "2026-07-01"}).content.decode()
    response = client.get("/messages/", {"since": "2026-07-01", "format": "csv"})
    header, *rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row[header.index("id")] for row in rows] == [str(late.pk)]
    assert rows[0][header.index("created_at")] == "2026-06-30T23:30:00Z"


def test_the_send_form_reads_a_scheduled_time_in_the_users_zone(client, owner):
    owner.time_zone = "Europe/Warsaw"
    owner.save(update_fields=["time_zone"])
    client.force_login(owner)
    assert "In Europe/Warsaw time." in client.get("/messages/send/").content.decode()
    senders = sender_names_allowed(account_id=owner.membership.account_id, membership=owner.membership)
    with timezone.override("Europe/Warsaw"):
        form = SendForm(
            {"recipients": "+447400123456", "text": "Hi", "scheduled_at": "2026-07-01T14:00"}, senders=senders
        )
        assert form.is_valid(), form.errors
    assert form.cleaned_data["scheduled_at"] == NOON_UTC
