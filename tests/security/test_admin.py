"""The admin site and the portal's security: staff never see a customer's authenticator secret
there, and a customer who opens the admin is refused, not bounced between sign-in pages. (Staff's
own second factor for the admin: test_otp.py.)"""

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.conftest import verified_staff_client

pytestmark = pytest.mark.django_db


def test_staff_never_see_an_authenticator_secret_in_the_admin(owner):
    c, _ = verified_staff_client()
    dev = TOTPDevice.objects.create(user=owner, name="app", confirmed=True)
    page = c.get(f"/admin/otp_totp/totpdevice/{dev.pk}/change/").content.decode()
    cfg = c.get(f"/admin/otp_totp/totpdevice/{dev.pk}/config/")
    assert dev.key not in page
    assert cfg.status_code in (403, 404)


def test_a_customer_opening_the_admin_gets_a_403_not_a_redirect_loop(client, owner):
    client.force_login(owner)
    r = client.get("/admin/", follow=False)
    chain = []
    url = "/admin/"
    for _ in range(8):
        r = client.get(url)
        if r.status_code != 302:
            break
        chain.append(r.url)
        url = r.url
    assert r.status_code == 403, chain
