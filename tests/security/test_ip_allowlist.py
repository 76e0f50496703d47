import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import Membership, User
from audit.models import AuditEvent
from core import localcache
from messaging.models import Message
from security import services
from security.models import IPAllowlistEntry
from security.services import allowlist_shared_key, ip_allowlist_networks
from tests.conftest import PASSWORD, allow_ips, enrol_sms

pytestmark = pytest.mark.django_db

OFFICE = "203.0.113.77"
ELSEWHERE = "198.51.100.1"
ALLOWLIST_URL = "/accounts/security/ip-allowlist/"


def allow(owner: User, *networks: str, scope: str = "portal") -> None:
    allow_ips(owner, *networks, scope=scope)


def is_refused_page(response) -> bool:
    return response.status_code == 403 and 'data-testid="ip-refused"' in response.content.decode()


def save_list(client, text: str, *, ip: str, scope: str = "portal", confirm: bool = False):
    data = {"scope_name": scope, f"{scope}-scope": scope, f"{scope}-entries": text}
    if confirm:
        data[f"{scope}-confirm_self_lockout"] = "on"
    return client.post(ALLOWLIST_URL, data, REMOTE_ADDR=ip)


def test_an_address_in_the_list_is_allowed(client, owner):
    allow(owner, "203.0.113.0/24")
    client.force_login(owner)
    assert client.get("/", REMOTE_ADDR=OFFICE).status_code == 200


def test_an_address_outside_the_list_is_refused_with_a_page_an_audit_event_and_one_alert(
    client, make_account, mailoutbox, django_capture_on_commit_callbacks
):
    owner = make_account(email="boss@example.com").memberships.get().user
    allow(owner, "203.0.113.0/24")
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get("/", REMOTE_ADDR=ELSEWHERE)
        client.get("/accounts/security/", REMOTE_ADDR=ELSEWHERE)
    assert is_refused_page(response)
    assert ELSEWHERE in response.content.decode()
    event = AuditEvent.objects.get(action="security.ip_refused")
    assert event.ip == ELSEWHERE
    assert event.actor == owner
    assert event.account == owner.membership.account
    assert event.data == {"scope": "portal"}
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["boss@example.com"]
    assert ELSEWHERE in mailoutbox[0].body


@pytest.mark.parametrize(
    ("networks", "ip", "allowed"),
    [
        (["192.0.2.0/28"], "192.0.2.15", True),
        (["192.0.2.0/28"], "192.0.2.16", False),
        (["192.0.2.10"], "192.0.2.10", True),
        (["192.0.2.10"], "192.0.2.11", False),
        (["2001:db8:abcd::/48"], "2001:db8:abcd:12::1", True),
        (["2001:db8:abcd::/48"], "2001:db8:abce::1", False),
        (["2001:db8::1"], "2001:db8::1", True),
        (["2001:db8::/32"], "192.0.2.1", False),
        (["192.0.2.0/24"], "2001:db8::1", False),
        (["192.0.2.0/24"], "::ffff:192.0.2.5", True),  # an IPv4 client on a dual-stack socket
        (["192.0.2.0/24", "2001:db8::/32"], "2001:db8:1::5", True),
        (["192.0.2.0/24"], "", False),
        (["192.0.2.0/24"], "not-an-ip", False),
    ],
)
def test_cidr_ranges_v4_and_v6(owner, networks, ip, allowed):
    allow(owner, *networks)
    assert services.ip_is_allowed(account_id=owner.membership.account_id, scope="portal", ip=ip) is allowed


def test_an_ipv6_client_is_checked_on_the_pages(client, owner):
    allow(owner, "2001:db8:abcd::/48")
    client.force_login(owner)
    assert client.get("/", REMOTE_ADDR="2001:db8:abcd::42").status_code == 200
    assert is_refused_page(client.get("/", REMOTE_ADDR="2001:db8:ffff::42"))


def test_a_forged_forwarded_header_from_an_untrusted_peer_is_refused(client, owner, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    allow(owner, "203.0.113.0/24")
    client.force_login(owner)
    assert is_refused_page(client.get("/", REMOTE_ADDR=ELSEWHERE, HTTP_X_FORWARDED_FOR=OFFICE))
    client.logout()
    response = client.post(
        "/accounts/login/",
        {"username": owner.email, "password": PASSWORD},
        REMOTE_ADDR=ELSEWHERE,
        HTTP_X_FORWARDED_FOR=OFFICE,
    )
    assert is_refused_page(response)
    assert "_auth_user_id" not in client.session


def test_a_trusted_proxys_forwarded_header_is_honoured(client, owner, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    allow(owner, "203.0.113.0/24")
    client.force_login(owner)
    assert client.get("/", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR=OFFICE).status_code == 200
    # The client's own part of the header (left of the proxy's entry) is not believed.
    forged = f"{OFFICE}, {ELSEWHERE}"
    assert is_refused_page(client.get("/", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR=forged))
    # The proxy itself is not the client.
    assert is_refused_page(client.get("/", REMOTE_ADDR="10.1.2.3"))


def test_sign_in_from_a_refused_address_stops_before_the_second_step(client, owner):
    enrol_sms(owner)
    allow(owner, "203.0.113.0/24")
    response = client.post("/accounts/login/", {"username": owner.email, "password": PASSWORD}, REMOTE_ADDR=ELSEWHERE)
    assert is_refused_page(response)
    assert "_auth_user_id" not in client.session
    assert not Message.objects.exists()  # no code is sent to a refused address
    assert AuditEvent.objects.filter(action="security.ip_refused", actor=owner, ip=ELSEWHERE).exists()
    assert not AuditEvent.objects.filter(action="auth.login.success").exists()
    response = client.post("/accounts/login/", {"username": owner.email, "password": PASSWORD}, REMOTE_ADDR=OFFICE)
    assert response.status_code == 302
    assert response.url == "/accounts/login/verify/"


def test_a_wrong_password_from_a_refused_address_gets_the_ordinary_answer(client, owner):
    allow(owner, "203.0.113.0/24")
    response = client.post(
        "/accounts/login/", {"username": owner.email, "password": "Wrong-Password-1"}, REMOTE_ADDR=ELSEWHERE
    )
    # The allowlist is not revealed to someone without the password.
    assert response.status_code == 200
    assert "The email or password is not right" in response.content.decode()


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/"),
        ("get", "/accounts/security/"),
        ("get", "/accounts/security/audit/"),
        ("get", "/accounts/security/audit/?format=csv"),
        ("get", "/accounts/security/password/"),
        ("get", "/accounts/security/two-factor/"),
        ("get", "/accounts/security/two-factor/sms/"),
        ("get", "/accounts/security/two-factor/app/"),
        ("post", "/accounts/security/two-factor/backup-codes/"),
        ("post", "/accounts/security/sessions/end-others/"),
        ("post", ALLOWLIST_URL),
        ("post", "/messages/test-sms/"),
        ("get", "/admin/"),
    ],
)
def test_every_portal_page_is_refused_outside_the_list(client, owner, method, url):
    allow(owner, "203.0.113.0/24")
    client.force_login(owner)
    response = getattr(client, method)(url, {"password": PASSWORD} if method == "post" else None, REMOTE_ADDR=ELSEWHERE)
    assert is_refused_page(response)
    assert IPAllowlistEntry.objects.filter(account=owner.membership.account).count() == 1


def test_every_user_of_the_account_is_held_to_the_list_and_no_other_account(client, owner, make_account):
    allow(owner, "203.0.113.0/24")
    sub = User.objects.create_user("sub@example.com", PASSWORD)
    Membership.objects.create(user=sub, account=owner.membership.account)
    client.force_login(sub)
    assert is_refused_page(client.get("/", REMOTE_ADDR=ELSEWHERE))
    other = make_account().memberships.get().user
    client.force_login(other)
    assert client.get("/", REMOTE_ADDR=ELSEWHERE).status_code == 200


def test_signing_out_works_from_a_refused_address(client, owner):
    allow(owner, "203.0.113.0/24")
    client.force_login(owner)
    assert is_refused_page(client.get("/", REMOTE_ADDR=ELSEWHERE))
    # The refused page offers a sign-out button; it must work from there.
    response = client.post("/accounts/logout/", REMOTE_ADDR=ELSEWHERE)
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_saving_a_list_without_the_current_address_needs_confirmation(client, owner):
    client.force_login(owner)
    response = save_list(client, "203.0.113.0/24 office", ip=ELSEWHERE)
    assert response.status_code == 400
    html = response.content.decode()
    assert f"Your current address {ELSEWHERE} is not in this list" in html
    assert 'name="portal-confirm_self_lockout"' in html
    assert not IPAllowlistEntry.objects.exists()

    response = save_list(client, "203.0.113.0/24 office", ip=ELSEWHERE, confirm=True)
    assert response.status_code == 302
    assert list(IPAllowlistEntry.objects.values_list("scope", "network", "note")) == [
        ("portal", "203.0.113.0/24", "office")
    ]
    assert is_refused_page(client.get("/", REMOTE_ADDR=ELSEWHERE))
    event = AuditEvent.objects.get(action="security.ip_allowlist_changed")
    assert event.data == {"scope": "portal", "before": [], "after": ["203.0.113.0/24"]}


def test_saving_a_list_with_the_current_address_needs_no_confirmation(client, owner):
    client.force_login(owner)
    response = save_list(client, "203.0.113.0/24\n2001:db8::/32 # v6 office", ip=OFFICE)
    assert response.status_code == 302
    assert sorted(IPAllowlistEntry.objects.values_list("network", "note")) == [
        ("2001:db8::/32", "v6 office"),
        ("203.0.113.0/24", ""),
    ]
    assert client.get("/", REMOTE_ADDR=OFFICE).status_code == 200


def test_an_api_list_without_the_current_address_needs_no_confirmation(client, owner):
    client.force_login(owner)
    response = save_list(client, "203.0.113.0/24", ip=ELSEWHERE, scope="api")
    assert response.status_code == 302
    assert IPAllowlistEntry.objects.get().scope == "api"
    assert client.get("/", REMOTE_ADDR=ELSEWHERE).status_code == 200  # the portal list is still empty


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not-an-ip", "is not an IPv4/IPv6 address or CIDR range"),
        ("10.0.0.0/33", "is not an IPv4/IPv6 address or CIDR range"),
        ("2001:db8::/129", "is not an IPv4/IPv6 address or CIDR range"),
        ("300.1.2.3", "is not an IPv4/IPv6 address or CIDR range"),
        ("0.0.0.0/0", "would allow every address"),
        ("::/0", "would allow every address"),
    ],
)
def test_bad_entries_are_refused_with_a_message(client, owner, text, message):
    client.force_login(owner)
    response = save_list(client, f"{OFFICE}\n{text}", ip=OFFICE)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not IPAllowlistEntry.objects.exists()


def test_entries_are_normalised_and_deduplicated():
    entries, errors = services.parse_allowlist(
        "192.0.2.77/24 office\n192.0.2.0/24 again\n\n 2001:DB8:0::1 \n2001:db8::1/128\n198.51.100.5/32"
    )
    assert errors == []
    assert entries == [("192.0.2.0/24", "office"), ("2001:db8::1", ""), ("198.51.100.5", "")]


def test_an_empty_list_allows_every_address(client, owner):
    client.force_login(owner)
    assert client.get("/", REMOTE_ADDR=ELSEWHERE).status_code == 200
    allow(owner, "203.0.113.0/24")
    assert is_refused_page(client.get("/", REMOTE_ADDR=ELSEWHERE))
    assert save_list(client, "", ip=OFFICE).status_code == 302
    assert not IPAllowlistEntry.objects.exists()
    assert client.get("/", REMOTE_ADDR=ELSEWHERE).status_code == 200
    assert client.get("/", REMOTE_ADDR="2001:db8::9").status_code == 200


def test_the_cached_list_is_replaced_when_the_list_changes(client, owner):
    client.force_login(owner)
    allow(owner, "203.0.113.0/24")
    assert client.get("/", REMOTE_ADDR=OFFICE).status_code == 200
    account_id = owner.membership.account_id
    assert cache.get(allowlist_shared_key(account_id, "portal")) == ["203.0.113.0/24"]
    assert save_list(client, "198.51.100.0/24", ip=OFFICE, confirm=True).status_code == 302
    assert is_refused_page(client.get("/", REMOTE_ADDR=OFFICE))
    assert client.get("/", REMOTE_ADDR=ELSEWHERE).status_code == 200


def test_a_late_write_of_the_old_list_does_not_bring_it_back(client, owner, django_capture_on_commit_callbacks):
    """Readers that read the rows before a change committed store them after it: under a version
    no one reads any more, whether they started before the change or while it was committing."""
    client.force_login(owner)
    allow(owner, "203.0.113.0/24")
    account_id = owner.membership.account_id
    key_before = allowlist_shared_key(account_id, "portal")
    with django_capture_on_commit_callbacks() as on_commit:
        assert save_list(client, "198.51.100.0/24", ip=OFFICE, confirm=True).status_code == 302
    key_while_committing = allowlist_shared_key(account_id, "portal")
    for late_key in (key_before, key_while_committing):
        cache.set(late_key, ["203.0.113.0/24"], 60)  # a late reader's write of the old rows
    for callback in on_commit:
        callback()  # the commit
    localcache.clear()
    assert ip_allowlist_networks(account_id=account_id, scope="portal") == ["198.51.100.0/24"]
    assert is_refused_page(client.get("/", REMOTE_ADDR=OFFICE))


def test_only_managers_of_security_change_the_list(client, owner):
    sub = User.objects.create_user("sub@example.com", PASSWORD)
    Membership.objects.create(user=sub, account=owner.membership.account)
    client.force_login(sub)
    assert save_list(client, "203.0.113.0/24", ip=OFFICE).status_code == 403
    assert not IPAllowlistEntry.objects.exists()


def test_the_security_page_shows_the_current_address(client, owner, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    client.force_login(owner)
    response = client.get("/accounts/security/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR=OFFICE)
    assert f'data-testid="current-ip">{OFFICE}<' in response.content.decode()


def test_an_ipv6_address_with_an_overlong_zone_id_is_refused_with_a_message(owner):
    """Once a 500: the entry did not fit its column."""
    c = Client(raise_request_exception=False)
    c.force_login(owner)
    entry = "fe80::1%" + "a" * 60
    r = c.post("/accounts/security/ip-allowlist/", {"scope_name": "api", "api-scope": "api", "api-entries": entry})
    assert r.status_code == 400  # the form again, with the line's error
    assert "is not an IPv4/IPv6 address" in r.content.decode()
    assert not IPAllowlistEntry.objects.exists()


# --- IPv4-mapped IPv6 entries: read as the IPv4 addresses they map, as client addresses are ----


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("::ffff:127.0.0.1", "127.0.0.1"),
        ("::ffff:7f00:1/128", "127.0.0.1"),
        ("::FFFF:192.0.2.77 office", "192.0.2.77"),
        ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
        ("::ffff:c000:200/120", "192.0.2.0/24"),
    ],
)
def test_ipv4_mapped_entries_are_stored_as_the_ipv4_they_map(text, stored):
    entries, errors = services.parse_allowlist(text)
    assert errors == []
    assert [network for network, _ in entries] == [stored]


def test_an_ipv4_mapped_entry_for_every_address_is_refused_like_0_0_0_0_slash_0():
    _, errors = services.parse_allowlist("::ffff:0:0/96")
    assert len(errors) == 1
    assert "would allow every address" in errors[0]


@pytest.mark.parametrize("entry", ["::ffff:127.0.0.1", "::ffff:7f00:1/128"])
def test_an_ipv4_mapped_portal_entry_lets_its_ipv4_client_sign_in(client, owner, entry):
    client.force_login(owner)
    # Saved from 127.0.0.1 with no confirmation asked: the entry is that address.
    assert save_list(client, entry, ip="127.0.0.1").status_code == 302
    assert list(IPAllowlistEntry.objects.values_list("network", flat=True)) == ["127.0.0.1"]
    client.post("/accounts/logout/", REMOTE_ADDR="127.0.0.1")
    response = client.post("/accounts/login/", {"username": owner.email, "password": PASSWORD}, REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 302
    assert response.url == "/"
    assert client.get("/", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert is_refused_page(client.get("/", REMOTE_ADDR="127.0.0.2"))


@pytest.mark.parametrize("entry", ["::ffff:127.0.0.1", "::ffff:7f00:1/128"])
def test_an_ipv4_mapped_portal_row_stored_before_normalising_still_matches(client, owner, entry):
    """A row written as typed (before entries were normalised, or straight into the table)."""
    IPAllowlistEntry.objects.create(account=owner.membership.account, scope="portal", network=entry)
    services.ip_allowlist_changed(owner.membership.account_id, "portal")
    response = client.post("/accounts/login/", {"username": owner.email, "password": PASSWORD}, REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 302
    assert response.url == "/"
    assert is_refused_page(client.get("/", REMOTE_ADDR=ELSEWHERE))
