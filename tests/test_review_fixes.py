"""Regressions found in review: each test names the rule it keeps."""

from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Account
from core.errors import ApplicationError
from messaging.models import Message, PriceRule
from messaging.services import message_deliver, message_send_system, message_submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def priced():
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})


def token_for(owner, capsys, scopes="messages:send messages:read balance:read"):
    call_command("create_api_token", "--email", owner.email, "--scopes", scopes)
    return {"HTTP_AUTHORIZATION": f"Bearer {capsys.readouterr().out.strip().splitlines()[-1]}"}


def test_sign_in_codes_are_never_listed_in_the_portal_or_the_api(client, owner, capsys):
    code = message_send_system(
        account=owner.membership.account, user=owner, to="+447400100001", text="123456 is your code", sensitive=True
    )
    headers = token_for(owner, capsys)
    assert client.get("/api/v1/messages", **headers).json()["results"] == []
    assert client.get(f"/api/v1/messages/{code.pk}", **headers).status_code == 404
    client.force_login(owner)
    assert b"123456" not in client.get("/messages/").content
    assert client.get(f"/messages/{code.pk}/").status_code == 404


def test_an_idempotency_key_can_be_used_again_after_24_hours(owner, priced):
    def send():
        return message_submit(
            account_id=owner.membership.account_id, user=owner, caller="c", to=["+447400100001"], text="x",
            idempotency_key="k", response_builder=lambda r: {"batch_id": str(r.batch_id)},
        )  # fmt: skip

    first = send()
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=25)):
        again = send()
    assert not again.replayed
    assert again.batch_id != first.batch_id


@pytest.mark.parametrize(
    "data",
    [{"to": "+447400123456", "message": "hi\x00there"}, {"to": "+447400123456", "message": "hi", "from": 5}],
)
def test_legacy_endpoint_refuses_bad_input_with_a_400(client, owner, capsys, priced, data):
    call_command("create_api_credential", "--email", owner.email, "--scopes", "messages:send")
    key_id, secret = capsys.readouterr().out.strip().splitlines()[-1].split()
    response = client.post(
        "/smsapi/send", {"smsUser": key_id, "smsKey": secret, **data}, content_type="application/json"
    )
    assert response.status_code == 400
    assert not Message.objects.exists()


def test_saving_an_account_in_the_admin_keeps_the_balance_the_ledger_wrote(admin_client, owner, priced):
    account = owner.membership.account
    page = admin_client.get(f"/admin/accounts/account/{account.pk}/change/")
    assert page.status_code in (200, 302)
    message_submit(account_id=account.pk, user=owner, caller="c", to=["+447400100001"], text="x")
    from django.contrib.admin.sites import site

    from accounts.admin import AccountAdmin

    stale = Account.objects.get(pk=account.pk)
    stale.balance = Decimal("100")  # what the admin page read before the send
    stale.name = "Renamed"
    model_admin = AccountAdmin(Account, site)
    form = type("F", (), {"changed_data": ["name"]})()
    model_admin.save_model(None, stale, form, change=True)
    account.refresh_from_db()
    assert account.name == "Renamed"
    assert account.balance == Decimal("99")


def test_a_mail_server_that_is_down_does_not_fail_a_committed_send(
    owner, priced, settings, django_capture_on_commit_callbacks, caplog, monkeypatch
):
    from accounts import tasks

    queued: list[dict] = []
    monkeypatch.setattr(
        tasks.send_notice_email, "apply_async", lambda args=None, kwargs=None, **options: queued.append(kwargs)
    )
    settings.EMAIL_BACKEND = "tests.test_review_fixes.BrokenMail"
    Account.objects.filter(pk=owner.membership.account_id).update(traffic_alert_per_hour=0)
    with django_capture_on_commit_callbacks(execute=True):
        result = message_submit(
            account_id=owner.membership.account_id, user=owner, caller="c", to=["+447400100001"], text="x"
        )
    assert result.messages[0].status == "queued"
    # The alert is queued for a Celery task after the commit; the request never meets the mail server.
    assert len(queued) == 1
    # The task retries with backoff, then gives up, logging the error's class only.
    assert tasks.send_notice_email.apply(kwargs=queued[0]).get() is False
    assert "ConnectionRefusedError" in caplog.text


class BrokenMail:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("smtp down")


def test_no_answer_from_the_gateway_leaves_the_message_for_the_watchdog(owner, priced, settings):
    settings.SMS_BACKEND = "tests.test_review_fixes.SilentGateway"
    message = message_submit(
        account_id=owner.membership.account_id, user=owner, caller="c", to=["+447400100001"], text="x"
    ).messages[0]
    assert message_deliver(message_ids=[str(message.pk)]) == []  # not retried: it may have left
    message.refresh_from_db()
    assert message.status == "sending"


class SilentGateway:
    def send_messages(self, messages):
        from messaging.backends import SendResult

        return [SendResult(id=sms.id, status="unknown", error_code="gateway_no_answer") for sms in messages]


def test_password_confirmations_are_limited(owner):
    from security.services import password_confirm

    for _ in range(10):
        assert not password_confirm(user=owner, password="wrong")
    with pytest.raises(ApplicationError) as excinfo:
        password_confirm(user=owner, password="wrong")
    assert excinfo.value.status == 429


def test_replacing_a_working_authenticator_needs_the_password(client, owner):
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.conftest import PASSWORD

    TOTPDevice.objects.create(user=owner, name="old", confirmed=True)
    client.force_login(owner)
    client.get("/accounts/security/two-factor/app/")
    new = TOTPDevice.objects.get(user=owner, confirmed=False)
    code = f"{totp(new.bin_key):06d}"
    refused = client.post("/accounts/security/two-factor/app/", {"code": code, "password": "wrong"})
    assert b"Enter your password to replace" in refused.content or b"Wrong or missing password" in refused.content
    assert TOTPDevice.objects.get(pk=new.pk).confirmed is False
    accepted = client.post("/accounts/security/two-factor/app/", {"code": code, "password": PASSWORD})
    assert accepted.status_code == 200  # the backup codes page, or a redirect to security
    assert TOTPDevice.objects.filter(user=owner, confirmed=True).get().pk == new.pk


def test_idempotency_records_are_purged_after_24_hours(owner, priced):
    from messaging.models import IdempotencyRecord
    from messaging.services.submit import idempotency_records_purge

    message_submit(
        account_id=owner.membership.account_id, user=owner, caller="c", to=["+447400100001"], text="x",
        idempotency_key="k", response_builder=lambda r: {"batch_id": str(r.batch_id)},
    )  # fmt: skip
    assert idempotency_records_purge() == 0
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=25)):
        assert idempotency_records_purge() == 1
    assert not IdempotencyRecord.objects.exists()
