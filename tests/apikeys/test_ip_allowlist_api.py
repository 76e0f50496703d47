"""The API IP allowlist (SPEC §4.6, §5): its own list, applied to every API request after
authentication and before the scope check; the client address is the socket peer unless the peer
is a trusted proxy, so a forged `X-Forwarded-For` never gets anyone in."""

import pytest

from accounts.models import User
from audit.models import AuditEvent
from security import services
from tests import api_support as api
from tests.conftest import allow_ips

pytestmark = pytest.mark.django_db

BALANCE = "/api/v1/balance"
ALLOWED_LIST = ["203.0.113.7", "198.51.100.0/24", "2001:db8::5", "2001:db8:abcd::/48"]


def allow(owner: User, *networks: str, scope: str = "api") -> None:
    allow_ips(owner, *networks, scope=scope)


@pytest.fixture
def key(owner):
    _, secret = api.make_token(owner)
    return api.bearer(secret)


@pytest.mark.parametrize(
    "ip",
    ["203.0.113.7", "198.51.100.1", "198.51.100.254", "2001:db8::5", "2001:db8:abcd:12::1", "::ffff:198.51.100.9"],
)
def test_an_address_in_the_api_list_is_allowed(client, owner, key, ip):
    allow(owner, *ALLOWED_LIST)
    assert client.get(BALANCE, REMOTE_ADDR=ip, **key).status_code == 200


@pytest.mark.parametrize(
    "ip", ["203.0.113.8", "198.51.101.1", "2001:db8::6", "2001:db8:abce::1", "192.0.2.1", "::1", "127.0.0.1"]
)
def test_an_address_outside_the_api_list_is_refused(client, owner, key, ip):
    allow(owner, *ALLOWED_LIST)
    body = api.assert_problem(client.get(BALANCE, REMOTE_ADDR=ip, **key), 403, "ip_not_allowed")
    assert ip in body["detail"]


def test_every_kind_of_key_and_every_endpoint_is_refused(client, owner):
    _, token = api.make_token(owner)
    credential, secret = api.make_credential(owner)
    access = api.issue_access(client, api.bearer(token), ttl=600)
    allow(owner, "203.0.113.0/24")
    keys = [api.bearer(token), api.basic(credential.key_id, secret), api.bearer(access["access_token"])]
    calls = [
        ("get", BALANCE, None),
        ("get", "/api/v1/messages", None),
        ("post", "/api/v1/messages", {"to": api.PHONE, "text": "Hi"}),
        ("get", f"/api/v1/messages/{access['id']}", None),
        ("delete", f"/api/v1/messages/{access['id']}", None),
        ("post", "/api/v1/auth/token", {"ttl": 600}),
        ("delete", f"/api/v1/auth/token/{access['id']}", None),
        ("get", "/api/balance", None),
    ]
    for headers in keys:
        for method, path, body in calls:
            kwargs = {"content_type": "application/json"} if body is not None else {}
            args = (path, body) if body is not None else (path,)
            response = getattr(client, method)(*args, REMOTE_ADDR="192.0.2.50", **kwargs, **headers)
            api.assert_problem(response, 403, "ip_not_allowed")
    assert client.get(BALANCE, REMOTE_ADDR="203.0.113.9", **api.bearer(access["access_token"])).status_code == 200
    # The legacy endpoint too.
    legacy = client.post(
        "/smsapi/send",
        {"smsUser": credential.key_id, "smsKey": secret, "to": api.PHONE, "message": "Hi"},
        REMOTE_ADDR="192.0.2.50",
    )
    assert legacy.status_code == 403
    assert legacy.content.startswith(b"ERROR ip_not_allowed")


def test_a_refused_address_is_audited(client, owner, key):
    allow(owner, "203.0.113.0/24")
    client.get(BALANCE, REMOTE_ADDR="192.0.2.50", **key)
    event = AuditEvent.objects.get(action="security.ip_refused")
    assert event.ip == "192.0.2.50"
    assert event.data == {"scope": "api"}
    assert event.account == owner.membership.account


def test_the_list_is_checked_after_authentication_and_before_the_scope(client, owner):
    allow(owner, "203.0.113.0/24")
    _, narrow = api.make_token(owner, scopes=["messages:read"])
    # A bad key from a refused address: still 401 (the list of which account?).
    api.assert_problem(client.get(BALANCE, REMOTE_ADDR="192.0.2.50", **api.bearer("live_000000000000_nope")), 401)
    # A key without the scope from a refused address learns nothing about its scopes.
    api.assert_problem(client.get(BALANCE, REMOTE_ADDR="192.0.2.50", **api.bearer(narrow)), 403, "ip_not_allowed")
    api.assert_problem(client.get(BALANCE, REMOTE_ADDR="203.0.113.1", **api.bearer(narrow)), 403, "insufficient_scope")


def test_a_forged_forwarded_for_from_an_untrusted_peer_is_refused(client, owner, key, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    allow(owner, "203.0.113.0/24")
    for forged in ("203.0.113.7", "203.0.113.7, 203.0.113.8", "10.0.0.1, 203.0.113.7"):
        response = client.get(BALANCE, REMOTE_ADDR="192.0.2.50", HTTP_X_FORWARDED_FOR=forged, **key)
        body = api.assert_problem(response, 403, "ip_not_allowed")
        assert "192.0.2.50" in body["detail"]
    # Nor does a trusted address in the header help a client that is not a proxy.
    api.assert_problem(
        client.get(BALANCE, REMOTE_ADDR="192.0.2.50", HTTP_X_FORWARDED_FOR="10.0.0.1", **key), 403, "ip_not_allowed"
    )


def test_a_trusted_proxy_is_honoured(client, owner, key, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "fd00::/8"]
    allow(owner, "203.0.113.0/24", "2001:db8::/32")
    via_proxy = {"REMOTE_ADDR": "10.1.2.3"}
    assert client.get(BALANCE, HTTP_X_FORWARDED_FOR="203.0.113.7", **via_proxy, **key).status_code == 200
    assert client.get(BALANCE, REMOTE_ADDR="fd00::1", HTTP_X_FORWARDED_FOR="2001:db8::9", **key).status_code == 200
    # Two trusted hops: the first untrusted address from the right is the client.
    assert client.get(BALANCE, HTTP_X_FORWARDED_FOR="203.0.113.7, 10.9.9.9", **via_proxy, **key).status_code == 200
    # A client that forges the left part of the header gets the address the proxy saw.
    forged = client.get(BALANCE, HTTP_X_FORWARDED_FOR="203.0.113.7, 192.0.2.50", **via_proxy, **key)
    assert "192.0.2.50" in api.assert_problem(forged, 403, "ip_not_allowed")["detail"]
    # The proxy's own address is not the client's.
    api.assert_problem(client.get(BALANCE, HTTP_X_FORWARDED_FOR="garbage", **via_proxy, **key), 403, "ip_not_allowed")
    api.assert_problem(
        client.get(BALANCE, HTTP_X_FORWARDED_FOR="192.0.2.50", **via_proxy, **key), 403, "ip_not_allowed"
    )
    # Without the header, a request from the proxy itself is the proxy's address.
    api.assert_problem(client.get(BALANCE, **via_proxy, **key), 403, "ip_not_allowed")


def test_the_portal_list_does_not_apply_to_the_api(client, owner, key):
    allow(owner, "203.0.113.0/24", scope="portal")
    assert client.get(BALANCE, REMOTE_ADDR="192.0.2.50", **key).status_code == 200


def test_the_api_list_does_not_apply_to_the_portal(client, owner, key):
    allow(owner, "203.0.113.0/24", scope="api")
    client.force_login(owner)
    assert client.get("/", REMOTE_ADDR="192.0.2.50").status_code == 200
    api.assert_problem(client.get(BALANCE, REMOTE_ADDR="192.0.2.50", **key), 403, "ip_not_allowed")


def test_a_list_change_applies_to_the_next_request(client, owner, key):
    assert client.get(BALANCE, REMOTE_ADDR="192.0.2.50", **key).status_code == 200
    allow(owner, "203.0.113.0/24")
    api.assert_problem(client.get(BALANCE, REMOTE_ADDR="192.0.2.50", **key), 403, "ip_not_allowed")
    allow(owner, "203.0.113.0/24", "192.0.2.0/24")
    assert client.get(BALANCE, REMOTE_ADDR="192.0.2.50", **key).status_code == 200
    allow(owner)  # an empty list allows every address again
    assert client.get(BALANCE, REMOTE_ADDR="198.51.100.1", **key).status_code == 200


def test_one_accounts_list_does_not_affect_another(client, owner, make_account, key):
    other = make_account(credit=10).memberships.get().user
    _, other_secret = api.make_token(other)
    allow(owner, "203.0.113.0/24")
    assert client.get(BALANCE, REMOTE_ADDR="192.0.2.50", **api.bearer(other_secret)).status_code == 200


@pytest.mark.parametrize("entry", ["::ffff:127.0.0.1", "::ffff:7f00:1/128"])
def test_an_ipv4_mapped_api_entry_lets_its_ipv4_client_in(client, owner, key, entry):
    client.force_login(owner)
    response = client.post(
        "/accounts/security/ip-allowlist/", {"scope_name": "api", "api-scope": "api", "api-entries": entry}
    )
    assert response.status_code == 302
    client.logout()
    assert client.get(BALANCE, REMOTE_ADDR="127.0.0.1", **key).status_code == 200
    api.assert_problem(client.get(BALANCE, REMOTE_ADDR="127.0.0.2", **key), 403, "ip_not_allowed")


@pytest.mark.parametrize("entry", ["::ffff:127.0.0.1", "::ffff:7f00:1/128"])
def test_an_ipv4_mapped_api_row_stored_before_normalising_still_matches(client, owner, key, entry):
    from security.models import IPAllowlistEntry

    IPAllowlistEntry.objects.create(account=owner.membership.account, scope="api", network=entry)
    services.ip_allowlist_changed(owner.membership.account_id, "api")
    assert client.get(BALANCE, REMOTE_ADDR="127.0.0.1", **key).status_code == 200
    api.assert_problem(client.get(BALANCE, REMOTE_ADDR="192.0.2.1", **key), 403, "ip_not_allowed")
