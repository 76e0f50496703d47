"""What every portal page carries around its content (issue #15, problems 6 and 11): the site's icon,
a menu that offers staff only what they can open (and the admin), and the suspended account's
banner on every page of its users."""

import re

import pytest
from django.test import Client

from accounts.models import Account, Membership
from tests.api_support import make_subuser
from tests.conftest import force_login_recent, verified_staff_client
from tests.portal.routes import Samples, page_routes

pytestmark = pytest.mark.django_db

BANNER = 'data-testid="suspended-banner"'


def menu_links(response) -> set[str]:
    """The paths the main menu links to (the brand's link to the dashboard aside)."""
    html = response.content.decode()
    menu = re.search(r'<nav aria-label="Main">.*?</nav>', html, re.S)
    assert menu, "no main menu on the page"
    return set(re.findall(r'<a href="([^"]+)"(?! class="brand")', menu.group(0)))


def test_the_favicon_is_served_and_linked_from_every_page():
    response = Client().get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    body = b"".join(response.streaming_content)
    assert body[:4] == b"\x00\x00\x01\x00"  # an icon resource
    page = Client().get("/accounts/login/").content.decode()
    assert '<link rel="icon" href="/favicon.ico"' in page
    assert re.search(r'<link rel="icon" href="[^"]*favicon\.svg" type="image/svg\+xml">', page)


def test_staff_without_a_membership_see_the_admin_and_neither_send_nor_messages():
    client, _ = verified_staff_client()
    links = menu_links(client.get("/"))
    assert "/admin/" in links
    assert "/messages/send/" not in links
    assert "/messages/" not in links
    # …which they could not open.
    assert client.get("/messages/send/").status_code == 403
    assert client.get("/messages/").status_code == 403


def test_staff_with_a_membership_see_send_messages_and_the_admin(owner):
    client, staff = verified_staff_client()
    Membership.objects.create(user=staff, account=owner.membership.account, role=Membership.Role.SUBUSER)
    links = menu_links(client.get("/"))
    assert {"/admin/", "/messages/send/", "/messages/"} <= links
    assert client.get("/messages/send/").status_code == 200
    assert client.get("/messages/").status_code == 200


def test_customers_see_no_admin_and_send_only_when_they_may(client, owner):
    force_login_recent(client, owner)
    assert "/admin/" not in menu_links(client.get("/"))
    reader = make_subuser(owner, send_sms=False)
    client.force_login(reader)
    links = menu_links(client.get("/"))
    assert "/messages/" in links
    assert "/messages/send/" not in links
    assert client.get("/messages/send/").status_code == 403


def _pages_with_and_without_banner(client, samples: Samples) -> tuple[set[str], set[str]]:
    shown, missing = set(), set()
    for route in page_routes():
        if route.name == "security:logout":
            continue
        response = client.get(samples.url(route))
        if response.status_code not in (200, 403) or not response["Content-Type"].startswith("text/html"):
            continue
        (shown if BANNER in response.content.decode() else missing).add(route.name)
    return shown, missing


def test_every_page_of_a_suspended_account_s_users_says_so_and_whom_to_contact(client, owner, settings):
    settings.SUPPORT_EMAIL = "help@sms.example"
    samples = Samples(owner)
    Account.objects.filter(pk=owner.membership.account_id).update(status=Account.Status.SUSPENDED)

    force_login_recent(client, owner)
    shown, missing = _pages_with_and_without_banner(client, samples)
    assert missing == set()
    assert len(shown) > 30
    page = client.get("/").content.decode()
    assert "Your account is suspended" in page
    assert 'href="mailto:help@sms.example"' in page

    member = make_subuser(owner, view_contacts=True)
    client.force_login(member)
    shown, missing = _pages_with_and_without_banner(client, samples)
    assert missing == set()
    assert {"dashboard", "messaging:log", "contacts:list", "members:users"} <= shown  # the last a 403 page
    assert "or the owner of your account" in client.get("/").content.decode()


def test_an_active_account_and_staff_see_no_suspension_banner(client, owner):
    force_login_recent(client, owner)
    assert BANNER not in client.get("/").content.decode()
    staff_client, _ = verified_staff_client()
    assert BANNER not in staff_client.get("/").content.decode()
