"""The Security page's Preferences: a user picks the time zone pages show times in, their own
setting (no re-authentication), audited; only real zones are taken."""

import pytest

from accounts.models import User
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db

SECURITY = "/accounts/security/"
TIME_ZONE = "/accounts/security/time-zone/"


def test_a_user_picks_a_time_zone_from_regions_without_re_authenticating(client, owner):
    client.force_login(owner)
    page = client.get(SECURITY).content.decode()
    assert 'id="preferences"' in page
    assert '<optgroup label="Europe">' in page
    assert '<option value="Europe/Warsaw">Warsaw</option>' in page
    assert "W-SU" not in page

    response = client.post(TIME_ZONE, {"time_zone": "Europe/Warsaw"})
    assert response.status_code == 302
    assert response["Location"].endswith("#preferences")
    assert User.objects.get(pk=owner.pk).time_zone == "Europe/Warsaw"
    event = AuditEvent.objects.get(action="security.time_zone_changed")
    assert (event.actor, event.data) == (owner, {"before": "UTC", "after": "Europe/Warsaw"})
    followed = client.get(SECURITY).content.decode()
    assert "Times are now shown in Europe/Warsaw." in followed
    assert "Times in Europe/Warsaw." in followed


@pytest.mark.parametrize("value", ["Mars/Olympus", "localtime ", "", "Etc/GMT+2"])
def test_a_zone_outside_the_list_is_refused_unless_it_is_the_users_own(client, owner, value):
    client.force_login(owner)
    client.post(TIME_ZONE, {"time_zone": value})
    assert User.objects.get(pk=owner.pk).time_zone == "UTC"
    assert not AuditEvent.objects.filter(action="security.time_zone_changed").exists()


def test_a_stored_zone_outside_the_list_still_validates(client, owner):
    owner.time_zone = "Etc/GMT+2"
    owner.save(update_fields=["time_zone"])
    client.force_login(owner)
    assert '<option value="Etc/GMT+2" selected>Etc/GMT+2</option>' in client.get(SECURITY).content.decode()
    client.post(TIME_ZONE, {"time_zone": "Etc/GMT+2"})
    assert "Choose a time zone from the list." not in client.get(SECURITY).content.decode()
    assert User.objects.get(pk=owner.pk).time_zone == "Etc/GMT+2"
