"""The API keys portal pages (SPEC §4.8, issue 5): tokens and credentials are created with scopes
the creator holds, their secrets are shown once and stored only as SHA-256 digests, and every
change is audited and takes effect on the API at once."""

import base64
import hashlib
import logging
import re
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY

from accounts.models import Membership, User
from apikeys import services
from apikeys.models import ApiCredential, ApiToken
from audit.models import AuditEvent
from core.errors import ApplicationError
from tests.conftest import PASSWORD, enrol_sms, force_login_recent
from tests.page_support import FORM_NONCE, post_form, shown_secret


def test_reloading_the_secret_page_makes_no_second_key_and_no_second_reset(signed_in, owner):
    """A reload of the page that shows a secret re-posts its form: nothing more happens."""
    page = signed_in.get("/api-keys/tokens/new/").content.decode()
    form = {"name": "Once", "scopes": ["balance:read"], "mode": "live", "form_nonce": FORM_NONCE.search(page).group(1)}
    assert shown_secret(signed_in.post("/api-keys/tokens/new/", form))
    again = signed_in.post("/api-keys/tokens/new/", form, follow=True)
    assert b'data-testid="secret"' not in again.content
    assert b"That form was already sent" in again.content
    assert ApiToken.objects.filter(name="Once").count() == 1
    # A form without its nonce (a page from before this change, a hand-made POST) makes nothing.
    bare = signed_in.post("/api-keys/tokens/new/", {k: v for k, v in form.items() if k != "form_nonce"}, follow=True)
    assert b'data-testid="secret"' not in bare.content
    assert ApiToken.objects.filter(name="Once").count() == 1

    credential = services.credential_create(user=owner, name="Shop", scopes=["balance:read"]).obj
    path = f"/api-keys/credentials/{credential.pk}/reset/"
    reset = {"form_nonce": FORM_NONCE.search(signed_in.get(path).content.decode()).group(1)}
    fresh = shown_secret(signed_in.post(path, reset))
    signed_in.post(path, reset)  # the reload
    assert basic(signed_in, credential.key_id, fresh).status_code == 200, "the secret just shown still works"


pytestmark = pytest.mark.django_db

KEY_ID = re.compile(r'data-testid="key-id">([^<]+)</code>')


@pytest.fixture
def signed_in(client, owner):
    force_login_recent(client, owner)
    return client


def subuser(owner: User, email: str, **permissions) -> User:
    user = User.objects.create_user(email, PASSWORD)
    Membership.objects.create(user=user, account=owner.membership.account, role="subuser", **permissions)
    return User.objects.get(pk=user.pk)


def bearer(client, secret: str):
    return client.get("/api/v1/balance", HTTP_AUTHORIZATION=f"Bearer {secret}")


def basic(client, key_id: str, secret: str):
    value = base64.b64encode(f"{key_id}:{secret}".encode()).decode()
    return client.get("/api/v1/balance", HTTP_AUTHORIZATION=f"Basic {value}")


def section(response, mode: str) -> str:
    """The HTML of the live or the test section of the list page."""
    html = response.content.decode()
    start = html.index(f'data-testid="{mode}-keys"')
    end = html.find("</section>", start)
    return html[start:end]


def actions(owner: User) -> list[str]:
    """The account's API key events, newest first."""
    events = AuditEvent.objects.filter(account=owner.membership.account, action__startswith="api_")
    return list(events.values_list("action", flat=True))


def test_list_page_has_empty_states_for_live_and_test(signed_in):
    response = signed_in.get("/api-keys/")
    assert response.status_code == 200
    for mode in ("live", "test"):
        html = section(response, mode)
        assert f"No {mode} API tokens yet." in html
        assert f"No {mode} API credentials yet." in html
        assert f"?mode={mode}" in html  # "create one" opens the form in that mode
    assert b'href="/api-keys/"' in signed_in.get("/").content  # the nav link


def test_create_token_shows_the_secret_once_and_stores_only_its_digest(signed_in, owner, caplog):
    page = signed_in.get("/api-keys/tokens/new/")
    assert page.status_code == 200
    tomorrow = (timezone.now() + timedelta(days=2)).date()
    with caplog.at_level(logging.DEBUG):
        response = post_form(
            signed_in,
            "/api-keys/tokens/new/",
            {"name": "Billing server", "scopes": ["messages:send", "balance:read"], "mode": "live",
             "expires_at": tomorrow.isoformat()},
        )  # fmt: skip
    assert response.status_code == 200  # rendered in the answer: no redirect, nothing in a URL
    assert "no-store" in response["Cache-Control"]
    secret = shown_secret(response)
    assert re.fullmatch(r"live_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", secret)
    assert b"it will not be shown again" in response.content

    token = ApiToken.objects.get()
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert token.scopes == ["balance:read", "messages:send"]
    assert not token.is_test
    assert token.expires_at.date() == tomorrow
    assert token.expires_at.strftime("%H:%M") == "00:00"
    # The secret is nowhere: not in the row, the audit trail, the session, a flash message, a log.
    stored = [str(value) for value in ApiToken.objects.values().get().values()]
    assert not any(secret in value or secret.split("_", 2)[2] in value for value in stored)
    assert actions(owner) == ["api_token.created"]
    assert secret not in str(list(AuditEvent.objects.values()))
    assert not any(secret in str(s.get_decoded()) for s in Session.objects.all())
    assert secret not in caplog.text
    assert secret not in str(response.cookies)

    listing = signed_in.get("/api-keys/")
    assert secret.encode() not in listing.content
    assert f"live_{token.prefix}_…" in section(listing, "live")
    # And it works, once, as shown.
    assert bearer(signed_in, secret).status_code == 200


def test_test_token_is_listed_apart_from_live_keys(signed_in):
    response = post_form(
        signed_in, "/api-keys/tokens/new/", {"name": "Staging", "scopes": ["messages:send"], "mode": "test"}
    )
    secret = shown_secret(response)
    assert secret.startswith("test_")
    token = ApiToken.objects.get()
    assert token.is_test
    listing = signed_in.get("/api-keys/")
    assert token.prefix in section(listing, "test")
    assert token.prefix not in section(listing, "live")
    assert "No live API tokens yet." in section(listing, "live")


def test_create_refuses_scopes_beyond_the_creators_permissions(client, owner):
    sub = subuser(owner, "dev@example.com", manage_api_tokens=True, send_sms=True, view_messages=False)
    force_login_recent(client, sub)
    page = client.get("/api-keys/tokens/new/").content.decode()
    assert 'value="messages:send"' in page
    assert 'value="verify"' in page
    assert 'value="balance:read"' not in page
    assert 'value="messages:read"' not in page

    for path in ("/api-keys/tokens/new/", "/api-keys/credentials/new/"):
        response = post_form(
            client, path, {"name": "Sneaky", "scopes": ["messages:send", "balance:read"], "mode": "live"}
        )
        assert response.status_code == 200
        assert b"balance:read is not one of the available choices" in response.content
        assert b'data-testid="secret"' not in response.content
    assert not ApiToken.objects.exists()
    assert not ApiCredential.objects.exists()
    # The service refuses it too, whatever the form offered.
    with pytest.raises(ApplicationError) as refused:
        services.token_create(user=sub, name="x", scopes=["balance:read"])
    assert refused.value.code == "insufficient_scope"


def test_create_form_errors_and_no_scopes_state(signed_in, owner, client):
    response = signed_in.post(
        "/api-keys/tokens/new/",
        {"name": "", "mode": "live", "expires_at": timezone.now().date().isoformat()},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "This field is required." in html
    assert "Choose a scope." in html
    assert "Choose a date after today." in html
    assert not ApiToken.objects.exists()

    nothing = subuser(owner, "keys-only@example.com", manage_api_tokens=True, send_sms=False, view_messages=False)
    force_login_recent(client, nothing)
    page = client.get("/api-keys/tokens/new/")
    assert page.status_code == 200
    assert b'data-testid="no-scopes"' in page.content
    assert b'<form method="post" novalidate>' not in page.content


def test_list_shows_prefix_scopes_last_use_expiry_and_state(signed_in, owner):
    used = services.token_create(user=owner, name="Used one", scopes=["messages:read"]).obj
    ApiToken.objects.filter(pk=used.pk).update(
        last_used_at=timezone.now().replace(year=2031, month=3, day=4, hour=5, minute=6), last_used_ip="203.0.113.7"
    )
    expiring = services.token_create(
        user=owner, name="Expiring", scopes=["messages:send"], expires_at=timezone.now() + timedelta(days=400)
    ).obj
    expired = services.token_create(user=owner, name="Old one", scopes=["messages:send"]).obj
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=1))
    disabled = services.token_create(user=owner, name="Paused", scopes=["verify"]).obj
    services.token_set_disabled(user=owner, token_id=disabled.pk, disabled=True)
    credential = services.credential_create(user=owner, name="Legacy", scopes=["messages:send"]).obj

    live = section(signed_in.get("/api-keys/"), "live")
    rows = {row.split("</td>")[0]: row for row in live.split('data-testid="token-row">')[1:]}
    assert len(rows) == 4

    def row(name: str) -> str:
        return next(value for key, value in rows.items() if name in key)

    assert f"live_{used.prefix}_…" in row("Used one")
    assert "messages:read" in row("Used one")
    assert "2031-03-04 05:06" in row("Used one")
    assert "203.0.113.7" in row("Used one")
    assert ">Active<" in row("Used one")
    assert expiring.expires_at.strftime("%Y-%m-%d %H:%M") in row("Expiring")
    assert "Never" in row("Expiring")  # never used
    assert ">Expired<" in row("Old one")
    assert ">Disabled<" in row("Paused")
    assert ">Enable</button>" in row("Paused")
    assert owner.email in row("Used one")  # who created it
    assert credential.key_id in live
    assert ">Active<" in live.split('data-testid="credential-row">')[1]


def test_disable_enable_and_delete_a_token_take_effect_at_once_and_are_audited(signed_in, owner):
    new = services.token_create(user=owner, name="Server", scopes=["balance:read"])
    token, secret = new.obj, new.secret
    assert bearer(signed_in, secret).status_code == 200
    assert signed_in.get(f"/api-keys/tokens/{token.pk}/disable/").status_code == 405  # POST only

    response = signed_in.post(f"/api-keys/tokens/{token.pk}/disable/")
    assert response.status_code == 302
    assert response["Location"] == "/api-keys/#live"
    token.refresh_from_db()
    assert token.disabled
    assert token.state == "disabled"
    assert bearer(signed_in, secret).status_code == 401
    assert "is disabled" in signed_in.get("/api-keys/").content.decode()

    signed_in.post(f"/api-keys/tokens/{token.pk}/enable/")
    token.refresh_from_db()
    assert not token.disabled
    assert bearer(signed_in, secret).status_code == 200

    confirm = signed_in.get(f"/api-keys/tokens/{token.pk}/delete/")
    assert confirm.status_code == 200
    assert b"Delete this API token?" in confirm.content
    assert token.prefix.encode() in confirm.content
    assert ApiToken.objects.filter(pk=token.pk).exists()  # asking deletes nothing
    response = signed_in.post(f"/api-keys/tokens/{token.pk}/delete/")
    assert response.status_code == 302
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    assert bearer(signed_in, secret).status_code == 401

    events = AuditEvent.objects.filter(object_type="apikeys.apitoken", object_id=str(token.pk)).order_by("id")
    assert [e.action for e in events] == [
        "api_token.created",
        "api_token.used_from_new_ip",
        "api_token.disabled",
        "api_token.enabled",
        "api_token.deleted",
    ]
    for event in events.exclude(action="api_token.used_from_new_ip"):
        assert event.data["prefix"] == token.prefix
        assert secret not in str(event.data)
    assert all(e.actor == owner for e in events.filter(action__in=["api_token.disabled", "api_token.deleted"]))


def test_credential_create_shows_key_id_and_secret_once(signed_in, owner):
    response = post_form(
        signed_in,
        "/api-keys/credentials/new/",
        {"name": "Shop", "scopes": ["balance:read", "messages:send"], "mode": "live"},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = shown_secret(response)
    key_id = KEY_ID.search(response.content.decode()).group(1)
    credential = ApiCredential.objects.get()
    assert credential.key_id == key_id
    assert credential.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiCredential.objects.values().get())
    assert secret.encode() not in signed_in.get("/api-keys/").content
    assert basic(signed_in, key_id, secret).status_code == 200
    assert "api_credential.created" in actions(owner)


def test_credential_reset_kills_the_old_secret_at_once(signed_in, owner):
    new = services.credential_create(user=owner, name="Shop", scopes=["balance:read"])
    credential, old = new.obj, new.secret
    assert basic(signed_in, credential.key_id, old).status_code == 200

    confirm = signed_in.get(f"/api-keys/credentials/{credential.pk}/reset/")
    assert confirm.status_code == 200
    assert b"Reset this credential" in confirm.content
    assert basic(signed_in, credential.key_id, old).status_code == 200  # asking changes nothing

    response = post_form(signed_in, f"/api-keys/credentials/{credential.pk}/reset/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    fresh = shown_secret(response)
    assert fresh != old
    assert KEY_ID.search(response.content.decode()).group(1) == credential.key_id  # the key id stays

    assert basic(signed_in, credential.key_id, old).status_code == 401
    assert basic(signed_in, credential.key_id, fresh).status_code == 200
    credential.refresh_from_db()
    assert credential.digest == hashlib.sha256(fresh.encode()).hexdigest()
    event = AuditEvent.objects.get(action="api_credential.reset")
    assert event.actor == owner
    assert event.data == {"key_id": credential.key_id}


def test_credential_disable_and_delete_asks_first(signed_in, owner):
    new = services.credential_create(user=owner, name="Shop", scopes=["balance:read"], is_test=True)
    credential = new.obj
    signed_in.post(f"/api-keys/credentials/{credential.pk}/disable/")
    assert basic(signed_in, credential.key_id, new.secret).status_code == 401
    assert ">Disabled<" in section(signed_in.get("/api-keys/"), "test")
    signed_in.post(f"/api-keys/credentials/{credential.pk}/enable/")
    assert basic(signed_in, credential.key_id, new.secret).status_code == 200

    confirm = signed_in.get(f"/api-keys/credentials/{credential.pk}/delete/")
    assert b"Delete this API credential?" in confirm.content
    assert ApiCredential.objects.filter(pk=credential.pk).exists()
    response = signed_in.post(f"/api-keys/credentials/{credential.pk}/delete/")
    assert response["Location"] == "/api-keys/#test"
    assert not ApiCredential.objects.exists()
    assert basic(signed_in, credential.key_id, new.secret).status_code == 401
    assert [a for a in actions(owner) if a.startswith("api_credential.") and "used" not in a] == [
        "api_credential.deleted",
        "api_credential.enabled",
        "api_credential.disabled",
        "api_credential.created",
    ]


def _every_page(token_id: int, credential_id: int) -> list[tuple[str, str]]:
    return [
        ("get", "/api-keys/"),
        ("get", "/api-keys/tokens/new/"),
        ("post", "/api-keys/tokens/new/"),
        ("post", f"/api-keys/tokens/{token_id}/disable/"),
        ("post", f"/api-keys/tokens/{token_id}/enable/"),
        ("get", f"/api-keys/tokens/{token_id}/delete/"),
        ("post", f"/api-keys/tokens/{token_id}/delete/"),
        ("get", "/api-keys/credentials/new/"),
        ("post", "/api-keys/credentials/new/"),
        ("get", f"/api-keys/credentials/{credential_id}/reset/"),
        ("post", f"/api-keys/credentials/{credential_id}/reset/"),
        ("post", f"/api-keys/credentials/{credential_id}/disable/"),
        ("post", f"/api-keys/credentials/{credential_id}/enable/"),
        ("get", f"/api-keys/credentials/{credential_id}/delete/"),
        ("post", f"/api-keys/credentials/{credential_id}/delete/"),
    ]


def test_subuser_without_manage_api_tokens_and_staff_get_403(client, owner):
    token = services.token_create(user=owner, name="Server", scopes=["balance:read"]).obj
    credential = services.credential_create(user=owner, name="Shop", scopes=["balance:read"]).obj
    sub = subuser(owner, "sender@example.com", send_sms=True, view_billing=True)
    staff = User.objects.create_user("staff@example.com", PASSWORD, is_staff=True, is_superuser=True)
    device = enrol_sms(staff, "+447700900778")
    nobody = User.objects.create_user("nobody@example.com", PASSWORD)  # no membership, not staff
    for user in (sub, staff, nobody):
        force_login_recent(client, user)
        if user == staff:  # staff must pass the second step; this session has
            session = client.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()
            assert client.get("/admin/").status_code == 200  # a session that reaches everything else
        for method, path in _every_page(token.pk, credential.pk):
            data = {"name": "x", "scopes": ["balance:read"], "mode": "live"} if method == "post" else None
            assert getattr(client, method)(path, data).status_code == 403, (user.email, method, path)
    token.refresh_from_db()
    assert not token.disabled
    assert ApiCredential.objects.get().digest == credential.digest
    assert ApiToken.objects.count() == 1
    assert ApiCredential.objects.count() == 1

    force_login_recent(client, sub)
    assert b'href="/api-keys/"' not in client.get("/").content  # no nav link either
    client.logout()
    assert client.get("/api-keys/").status_code == 302  # to the sign-in page


def test_subuser_with_manage_api_tokens_manages_the_accounts_keys(client, owner):
    owners = services.token_create(user=owner, name="Owner's", scopes=["balance:read"]).obj
    sub = subuser(owner, "devops@example.com", manage_api_tokens=True)
    force_login_recent(client, sub)
    assert owners.prefix.encode() in client.get("/api-keys/").content
    assert b'href="/api-keys/"' in client.get("/").content
    response = post_form(client, "/api-keys/tokens/new/", {"name": "Mine", "scopes": ["messages:send"], "mode": "live"})
    assert shown_secret(response)
    assert ApiToken.objects.get(name="Mine").created_by == sub


def test_another_accounts_keys_are_404(signed_in, make_account, owner):
    other = make_account().memberships.get().user
    token = services.token_create(user=other, name="Theirs", scopes=["balance:read"]).obj
    credential = services.credential_create(user=other, name="Theirs", scopes=["balance:read"]).obj
    for method, path in _every_page(token.pk, credential.pk):
        if "/new/" in path or path == "/api-keys/":
            continue
        assert getattr(signed_in, method)(path).status_code == 404, (method, path)
    listing = signed_in.get("/api-keys/").content
    assert token.prefix.encode() not in listing
    assert credential.key_id.encode() not in listing
    token.refresh_from_db()
    credential_after = ApiCredential.objects.get(pk=credential.pk)
    assert not token.disabled
    assert not credential_after.disabled
    assert credential_after.digest == credential.digest
    assert sorted(actions(other)) == ["api_credential.created", "api_token.created"]


def test_subuser_cannot_reset_a_credential_holding_scopes_it_lacks(client, owner):
    """The new secret goes to whoever resets it: that must not hand a sub-user the owner's scopes."""
    new = services.credential_create(user=owner, name="Billing", scopes=["balance:read", "messages:send"])
    credential = new.obj
    sub = subuser(owner, "ops@example.com", manage_api_tokens=True, send_sms=True, view_billing=False)
    force_login_recent(client, sub)
    response = post_form(client, f"/api-keys/credentials/{credential.pk}/reset/", follow=True)
    assert response.status_code == 200
    assert b'data-testid="secret"' not in response.content
    assert "it holds balance:read, which your own permissions do not include" in response.content.decode()
    assert ApiCredential.objects.get(pk=credential.pk).digest == credential.digest
    assert basic(client, credential.key_id, new.secret).status_code == 200
    assert "api_credential.reset" not in actions(owner)
    # One within its permissions it may reset.
    own = services.credential_create(user=owner, name="Sender", scopes=["messages:send"]).obj
    assert shown_secret(post_form(client, f"/api-keys/credentials/{own.pk}/reset/"))


def test_a_refused_form_can_be_sent_again_and_an_old_form_is_told_apart(client, owner, signed_in):
    """The nonce is used up only by a form that acted: one refused (here, a sub-user resetting a
    credential with a scope it lacks) may be sent again once the reason is gone."""
    credential = services.credential_create(user=owner, name="Billing", scopes=["balance:read"]).obj
    sub = subuser(owner, "ops2@example.com", manage_api_tokens=True, view_billing=False)
    force_login_recent(client, sub)
    path = f"/api-keys/credentials/{credential.pk}/reset/"
    page = client.get(path)
    assert "no-store" in page["Cache-Control"], "the form's nonce must not come back from a cache"
    form = {"form_nonce": FORM_NONCE.search(page.content.decode()).group(1)}
    refused = client.post(path, form, follow=True)
    assert b'data-testid="secret"' not in refused.content
    Membership.objects.filter(user=sub).update(view_billing=True)
    assert shown_secret(client.post(path, form)), "the same form, sent again, now acts"

    expired = signed_in.post("/api-keys/tokens/new/", {"name": "Old", "scopes": ["balance:read"], "mode": "live"})
    assert b"The form had expired" in signed_in.get(expired["Location"]).content
    assert not ApiToken.objects.filter(name="Old").exists()
