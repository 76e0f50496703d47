"""Staff and the API keys: the API rate limits are set per account and per key
in the admin, a leaked key is disabled there (its access tokens with it), and a change made in
the admin reaches this worker's one-second copy of the keys' rows at once."""

import pytest
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.test import Client, RequestFactory

from accounts.models import Account, Membership, User
from apikeys.models import AccessToken, ApiCredential, ApiToken
from audit.models import AuditEvent
from tests.api_support import assert_problem, bearer, issue_access, make_credential, make_subuser, make_token
from tests.conftest import verified_staff_client

pytestmark = pytest.mark.django_db


class _Form:
    def __init__(self, changed):
        self.changed_data = changed


@pytest.fixture
def staff_request():
    staff = User.objects.create_superuser(email="staff@example.com", password="Correct-Horse-42")
    request = RequestFactory().post("/admin/")
    request.user = staff
    return request


def test_suspending_an_account_in_the_admin_stops_its_keys_on_this_worker_at_once(
    owner, one_second_cache, staff_request, django_capture_on_commit_callbacks
):
    _, secret = make_token(owner, scopes=["balance:read"])
    client = Client()
    assert client.get("/api/v1/balance", **bearer(secret)).status_code == 200
    account = Account.objects.get(pk=owner.membership.account_id)
    account.status = Account.Status.SUSPENDED
    model_admin = admin.site.get_model_admin(Account)
    with django_capture_on_commit_callbacks(execute=True):
        model_admin.save_model(staff_request, account, _Form(["status"]), change=True)
        model_admin.log_change(staff_request, account, [{"changed": {"fields": ["status"]}}])
    assert client.get("/api/v1/balance", **bearer(secret)).status_code == 403


def test_a_permission_taken_in_the_admin_shrinks_the_keys_scopes_on_this_worker_at_once(
    owner, one_second_cache, staff_request, django_capture_on_commit_callbacks
):
    sub = make_subuser(owner, manage_api_tokens=True, view_billing=True)
    _, secret = make_token(sub, scopes=["balance:read"])
    client = Client()
    assert client.get("/api/v1/balance", **bearer(secret)).status_code == 200
    membership = Membership.objects.get(user=sub)
    membership.view_billing = False
    model_admin = admin.site.get_model_admin(Membership)
    with django_capture_on_commit_callbacks(execute=True):
        model_admin.save_model(staff_request, membership, _Form(["view_billing"]), change=True)
        model_admin.log_change(staff_request, membership, [{"changed": {"fields": ["view_billing"]}}])
    assert client.get("/api/v1/balance", **bearer(secret)).status_code == 403


def test_the_account_s_api_rate_limits_are_editable_in_the_admin(staff_request):
    model_admin = admin.site.get_model_admin(Account)
    editable = set(flatten_fieldsets(model_admin.get_fieldsets(staff_request))) - set(
        model_admin.get_readonly_fields(staff_request)
    )
    assert {"api_rate_limit_per_minute", "api_token_rate_limit_per_minute"} <= editable


def test_staff_set_a_token_s_rate_limit_and_disable_a_leaked_one_in_the_admin(owner, fresh_window):
    token, secret = make_token(owner, scopes=["balance:read"])
    access = issue_access(Client(), bearer(secret))["access_token"]
    staff, _ = verified_staff_client()
    url = f"/admin/apikeys/apitoken/{token.pk}/change/"
    page = staff.get(url).content.decode()
    assert token.prefix in page
    assert token.digest not in page  # never shown
    response = staff.post(url, {"name": token.name, "rate_limit_per_minute": "3"})  # one went on /auth/token
    assert response.status_code == 302, response.content[:500]
    api = Client()
    assert [api.get("/api/v1/balance", **bearer(secret)).status_code for _ in range(3)] == [200, 200, 429]

    response = staff.post(url, {"name": token.name, "rate_limit_per_minute": "3", "disabled": "on"})
    assert response.status_code == 302
    assert_problem(api.get("/api/v1/balance", **bearer(secret)), 401)
    assert_problem(api.get("/api/v1/balance", **bearer(access)), 401)
    assert not AccessToken.objects.filter(api_token=token, revoked_at__isnull=True).exists()
    assert AuditEvent.objects.filter(action="admin.changed", object_id=str(token.pk), account=token.account).exists()


def test_staff_cannot_add_keys_or_read_secrets_in_the_admin(owner):
    credential, _ = make_credential(owner)
    staff, _ = verified_staff_client()
    assert staff.get("/admin/apikeys/apicredential/add/").status_code == 403
    page = staff.get(f"/admin/apikeys/apicredential/{credential.pk}/change/").content.decode()
    assert credential.key_id in page
    assert credential.digest not in page
    assert admin.site.is_registered(ApiToken)
    assert admin.site.is_registered(ApiCredential)


@pytest.mark.parametrize("expires", ["2026-13-45", "2026-02-30T10:00:00Z", "tomorrow"])
def test_create_api_token_refuses_an_impossible_expiry_with_a_message(owner, expires):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="--expires must be"):
        call_command("create_api_token", "--email", owner.email, "--scopes", "balance:read", "--expires", expires)
    assert not ApiToken.objects.exists()
