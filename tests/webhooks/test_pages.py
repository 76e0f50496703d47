"""The portal's Webhooks pages (security section, `manage_security`)."""

import pytest
from standardwebhooks.webhooks import Webhook

from audit.models import AuditEvent
from tests import api_support as api
from tests.conftest import force_login_recent
from tests.page_support import FORM_NONCE, post_form, shown_secret
from webhooks.models import Delivery, Endpoint
from webhooks.services import deliveries_send

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, account_owner):
    force_login_recent(client, account_owner)
    return client


def test_creating_or_rotating_an_endpoint_needs_a_recent_authentication(client, account_owner, receiver):
    """Both show a signing secret: sudo mode (security/sudo.py), as for API keys."""
    client.force_login(account_owner)  # signed in, but with no recent authentication
    endpoint = Endpoint.objects.create(account=account_owner.membership.account, url=receiver.url, events=[])
    for path in ("/webhooks/new/", f"/webhooks/{endpoint.pk}/rotate/"):
        for response in (client.get(path), client.post(path, {"url": receiver.url})):
            assert response.status_code == 302
            assert response.url.startswith("/accounts/security/reauthenticate/")
    assert Endpoint.objects.count() == 1


def test_the_security_page_links_to_webhooks(signed_in):
    assert b'href="/webhooks/"' in signed_in.get("/accounts/security/").content


def test_create_shows_the_secret_once_and_a_reload_makes_nothing_more(signed_in, receiver, queued_tasks):
    form = {"url": receiver.url, "events": ["message.delivered", "opt_out.created"]}
    page = signed_in.get("/webhooks/new/").content.decode()
    nonce = FORM_NONCE.search(page).group(1)
    response = signed_in.post("/webhooks/new/", {**form, "form_nonce": nonce})
    secret = shown_secret(response)
    assert "no-store" in response["Cache-Control"]
    assert signed_in.post("/webhooks/new/", {**form, "form_nonce": nonce}, follow=True).status_code == 200
    [endpoint] = Endpoint.objects.all()
    assert endpoint.events == ["message.delivered", "opt_out.created"]

    listed = signed_in.get("/webhooks/").content.decode()
    assert "127.0.0.1" in listed
    assert secret not in listed
    assert "abc123" not in listed
    detail = signed_in.get(f"/webhooks/{endpoint.pk}/").content.decode()
    assert secret not in detail

    # Test event from the page, then its delivery with its attempt on the endpoint's page.
    signed_in.post(f"/webhooks/{endpoint.pk}/test/")
    deliveries_send(endpoint_id=endpoint.pk)
    Webhook(secret).verify(receiver.requests[0].body, receiver.requests[0].headers)
    detail = signed_in.get(f"/webhooks/{endpoint.pk}/").content.decode()
    assert "webhook.test" in detail
    assert 'data-testid="attempt"' in detail
    assert "200" in detail


def test_a_refused_url_is_shown_on_the_form(signed_in, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    response = post_form(signed_in, "/webhooks/new/", {"url": "http://127.0.0.1/x", "events": ["message.sent"]})
    assert response.status_code == 200
    assert "loopback" in response.content.decode()
    assert not Endpoint.objects.exists()


def test_rotate_disable_enable_resend_and_delete(signed_in, receiver, account_owner, queued_tasks):
    created = post_form(signed_in, "/webhooks/new/", {"url": receiver.url, "events": ["message.sent"]})
    old = shown_secret(created)
    endpoint = Endpoint.objects.get()
    new = shown_secret(post_form(signed_in, f"/webhooks/{endpoint.pk}/rotate/"))
    assert new != old

    signed_in.post(f"/webhooks/{endpoint.pk}/test/")
    deliveries_send(endpoint_id=endpoint.pk)
    request = receiver.requests[-1]
    Webhook(old).verify(request.body, request.headers)
    Webhook(new).verify(request.body, request.headers)

    signed_in.post(f"/webhooks/{endpoint.pk}/disable/")
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    signed_in.post(f"/webhooks/{endpoint.pk}/enable/")
    endpoint.refresh_from_db()
    assert endpoint.enabled

    delivery = Delivery.objects.get()
    signed_in.post(f"/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/resend/")
    deliveries_send(endpoint_id=endpoint.pk)
    assert [r.headers["webhook-id"] for r in receiver.requests] == [delivery.webhook_id] * 2

    assert signed_in.get(f"/webhooks/{endpoint.pk}/delete/").status_code == 200
    signed_in.post(f"/webhooks/{endpoint.pk}/delete/")
    assert not Endpoint.objects.exists()
    actions = set(AuditEvent.objects.filter(action__startswith="webhook.").values_list("action", flat=True))
    assert actions == {
        "webhook.created",
        "webhook.secret_rotated",
        "webhook.disabled",
        "webhook.enabled",
        "webhook.deleted",
    }


def test_a_subuser_without_manage_security_is_refused(client, account_owner, receiver):
    member = api.make_subuser(account_owner, send_sms=True, view_messages=True)
    force_login_recent(client, member)
    assert client.get("/webhooks/").status_code == 403
    assert client.get("/webhooks/new/").status_code == 403
    assert b'href="/webhooks/"' not in client.get("/accounts/security/").content
    manager = api.make_subuser(account_owner, manage_security=True)
    force_login_recent(client, manager)
    assert client.get("/webhooks/").status_code == 200


def test_another_accounts_endpoint_is_a_404(signed_in, make_account, receiver):
    from webhooks.services import endpoint_create

    other = make_account().memberships.get().user
    theirs = endpoint_create(account_id=other.membership.account_id, url=receiver.url, events=["message.sent"]).endpoint
    for path in ("", "rotate/", "delete/"):
        assert signed_in.get(f"/webhooks/{theirs.pk}/{path}").status_code == 404
    for path in ("test/", "disable/", "enable/", "rotate/", "delete/"):
        assert signed_in.post(f"/webhooks/{theirs.pk}/{path}").status_code == 404
    theirs.refresh_from_db()
    assert theirs.enabled
    assert not Delivery.objects.exists()
