"""The SSRF guard at save and at send. No test here sends a packet anywhere but 127.0.0.1/::1:
the resolver is stubbed and the socket layer fails the test on any other address (conftest.py),
so a guard that let one of these through would fail, not make traffic."""

import pytest
from django.utils import timezone

from webhooks import signing, ssrf
from webhooks.models import Delivery, Endpoint
from webhooks.services import deliveries_send, endpoint_create, endpoint_set_enabled, endpoint_test

pytestmark = pytest.mark.django_db

# Each one refused, whatever WEBHOOK_ALLOW_LOOPBACK says.
ALWAYS_REFUSED = [
    "http://10.0.0.1/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://0.0.0.0/hook",
    "http://[::ffff:10.0.0.1]/hook",
    "http://[::ffff:169.254.169.254]/hook",
    "http://[::10.0.0.1]/hook",  # IPv4-compatible
    "http://[2002:a00:1::]/hook",  # 6to4 of 10.0.0.1
    "http://[64:ff9b::a00:1]/hook",  # NAT64 of 10.0.0.1
    "http://100.64.0.1/hook",  # shared address space (carrier-grade NAT)
    "http://224.0.0.1/hook",
    "http://[fe80::1]/hook",
    "http://[::]/hook",
    "http://0x0a000001/hook",  # 10.0.0.1, in hex
    "http://012.0.0.1/hook",  # 10.0.0.1, in octal
    "http://167772161/hook",  # 10.0.0.1, in decimal
    "http://private.example.com/hook",  # resolves to a private address
    "http://mixed.example.com/hook",  # one public and one private address: every one counts
    "http://metadata.example.com/hook",
]
# Loopback: refused unless WEBHOOK_ALLOW_LOOPBACK, and then only these very hosts.
LOOPBACK = [
    "http://127.0.0.1:9/hook",
    "http://localhost:9/hook",
    "http://[::1]:9/hook",
]
LOOPBACK_SPELLINGS = [
    "http://2130706433/hook",  # 127.0.0.1 in decimal
    "http://0177.0.0.1/hook",  # 127.0.0.1 in octal
    "http://0x7f.1/hook",
    "http://127.1/hook",
    "http://127.0.0.2/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://loopback.example.com/hook",  # a name that resolves to loopback
]


@pytest.fixture(autouse=True)
def names(network):
    network.names.update(
        {
            "private.example.com": ["10.1.2.3"],
            "mixed.example.com": ["93.184.216.34", "192.168.0.7"],
            "metadata.example.com": ["169.254.169.254"],
            "loopback.example.com": ["127.0.0.1"],
            "public.example.com": ["93.184.216.34"],
        }
    )
    return network


@pytest.mark.parametrize("url", ALWAYS_REFUSED + LOOPBACK + LOOPBACK_SPELLINGS)
def test_an_endpoint_to_a_forbidden_address_cannot_be_saved(account_owner, url, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    with pytest.raises(ssrf.UnsafeUrl) as refused:
        endpoint_create(account_id=account_owner.membership.account_id, url=url, events=["message.sent"])
    assert refused.value.errors == {"url": [refused.value.detail]}
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize("url", ALWAYS_REFUSED + LOOPBACK_SPELLINGS)
def test_allowing_loopback_lets_only_the_loopback_hosts_through(account_owner, url, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    with pytest.raises(ssrf.UnsafeUrl):
        endpoint_create(account_id=account_owner.membership.account_id, url=url, events=["message.sent"])


@pytest.mark.parametrize("url", LOOPBACK)
def test_allowing_loopback_allows_127_0_0_1_localhost_and_ipv6_loopback(account_owner, url, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    new = endpoint_create(account_id=account_owner.membership.account_id, url=url, events=["message.sent"])
    assert new.endpoint.url == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://public.example.com/", "http"),
        ("file:///etc/passwd", "http"),
        ("http://user:pass@public.example.com/", "user name or password"),
        ("http:///nohost", "no host"),
        ("http://public.example.com:99999/", "valid URL"),
        ("http://nowhere.invalid/", "does not resolve"),
        ("http://1.2.3.4.5.6/", "does not resolve"),
        ("http://999.1/", "not a valid address"),
    ],
)
def test_urls_that_are_not_plain_web_addresses_are_refused(account_owner, url, why):
    with pytest.raises(ssrf.UnsafeUrl, match=why):
        endpoint_create(account_id=account_owner.membership.account_id, url=url, events=["message.sent"])


def test_production_takes_https_only(account_owner, settings):
    settings.PRODUCTION = True
    with pytest.raises(ssrf.UnsafeUrl, match="https"):
        endpoint_create(
            account_id=account_owner.membership.account_id, url="http://public.example.com/", events=["message.sent"]
        )
    target = ssrf.check_url("https://public.example.com/hook?x=1")
    assert (target.scheme, target.host, target.port, target.path) == ("https", "public.example.com", 443, "/hook?x=1")
    assert [str(a) for a in target.addresses] == ["93.184.216.34"]


def test_a_host_name_in_unicode_is_resolved_and_addressed_in_its_idna_form(network):
    """DNS, the Host header and the certificate all know the name as `xn--…`: sent as Unicode, it
    could never match a certificate (and an http Host header could not even be written)."""
    network.names["xn--bcher-kva.example"] = ["93.184.216.34"]
    target = ssrf.check_url("https://Bücher.example/hook")
    assert target.host == "xn--bcher-kva.example"
    assert network.resolved[-1] == "xn--bcher-kva.example"
    with pytest.raises(ssrf.UnsafeUrl):
        ssrf.check_url("https://a\u200d\u0336b.example/")  # no valid IDNA name


def _saved_anyway(account_owner, url: str) -> Endpoint:
    """An endpoint whose URL passed at save time, or was stored before the rules tightened."""
    return Endpoint.objects.create(
        account_id=account_owner.membership.account_id,
        url=url,
        events=["message.sent"],
        secret_encrypted=signing.encrypt(signing.secret_new()),
    )


@pytest.mark.parametrize("url", ALWAYS_REFUSED + LOOPBACK + LOOPBACK_SPELLINGS)
def test_a_forbidden_address_is_refused_again_at_send_time(account_owner, url, settings, queued_tasks):
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    endpoint = _saved_anyway(account_owner, url)
    delivery = endpoint_test(account_id=endpoint.account_id, endpoint_id=endpoint.pk)
    deliveries_send(endpoint_id=endpoint.pk)
    delivery.refresh_from_db()
    [attempt] = delivery.attempt_log.all()
    assert attempt.status_code is None
    assert attempt.error.startswith("refused: ")
    assert delivery.status == Delivery.Status.PENDING  # retried later: the name may resolve elsewhere by then


def test_a_name_that_turns_private_after_saving_is_refused_at_send(account_owner, names, queued_tasks):
    names.names["rebind.example.com"] = ["93.184.216.34"]
    new = endpoint_create(
        account_id=account_owner.membership.account_id, url="http://rebind.example.com/hook", events=["message.sent"]
    )
    names.names["rebind.example.com"] = ["10.9.9.9"]  # the DNS answer changes (rebinding)
    delivery = endpoint_test(account_id=new.endpoint.account_id, endpoint_id=new.endpoint.pk)
    deliveries_send(endpoint_id=new.endpoint.pk)
    [attempt] = Delivery.objects.get(pk=delivery.pk).attempt_log.all()
    assert "private address" in attempt.error


def test_the_connection_goes_to_the_checked_address_not_to_a_new_dns_answer(account_owner, receiver, names, settings):
    """`localhost` is checked as loopback; the system resolver (stubbed) would now answer a private
    address. The request reaches the receiver on 127.0.0.1 all the same, with the name in `Host`:
    nothing resolved the name again between the check and the connection."""
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    names.names["localhost"] = ["10.0.0.1"]
    url = f"http://localhost:{receiver.port}/hook"
    endpoint = _saved_anyway(account_owner, url)
    endpoint_test(account_id=endpoint.account_id, endpoint_id=endpoint.pk)
    deliveries_send(endpoint_id=endpoint.pk)
    [request] = receiver.requests
    assert request.headers["host"] == f"localhost:{receiver.port}"
    assert "localhost" not in names.resolved  # never asked of the resolver at all


def test_a_redirect_to_a_private_address_is_not_followed(account_owner, receiver, queued_tasks):
    receiver.answer(302, b"", {"Location": "http://10.0.0.1/steal"})
    receiver.answer(307, b"", {"Location": "http://169.254.169.254/latest/meta-data/"})
    new = endpoint_create(account_id=account_owner.membership.account_id, url=receiver.url, events=["message.sent"])
    for _ in range(2):
        delivery = endpoint_test(account_id=new.endpoint.account_id, endpoint_id=new.endpoint.pk)
        deliveries_send(endpoint_id=new.endpoint.pk)
        [attempt] = Delivery.objects.get(pk=delivery.pk).attempt_log.all()
        assert attempt.error == "redirect not followed"
        assert Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.PENDING
    assert len(receiver.requests) == 2  # and nothing went anywhere else (the guard would fail the test)


def test_enabling_an_endpoint_checks_its_url_again(account_owner, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    new = endpoint_create(account_id=account_owner.membership.account_id, url=LOOPBACK[0], events=["message.sent"])
    endpoint_set_enabled(account_id=new.endpoint.account_id, endpoint_id=new.endpoint.pk, enabled=False)
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    with pytest.raises(ssrf.UnsafeUrl):
        endpoint_set_enabled(account_id=new.endpoint.account_id, endpoint_id=new.endpoint.pk, enabled=True)
    new.endpoint.refresh_from_db()
    assert not new.endpoint.enabled
    assert new.endpoint.disabled_at <= timezone.now()


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.0.0.1", "a private address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("::ffff:8.8.8.8", "an IPv6 form of an IPv4 address (give the IPv4 address itself)"),
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "an IPv6 form of 10.0.0.1, which is a private address"),  # Teredo
    ],
)
def test_every_kind_of_address_is_judged(address, refused):
    import ipaddress

    assert ssrf.address_refusal(ipaddress.ip_address(address)) == refused
