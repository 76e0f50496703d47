"""Changes staff make in the admin to a customer's security (its devices, its policy, its
allowlist) are recorded in the customer's audit trail (audit.admin.StaffAuditMixin)."""

import pytest

from audit.models import AuditEvent
from security.models import SMSDevice
from tests.conftest import enrol_sms, verified_staff_client

pytestmark = pytest.mark.django_db


def test_security_changes_staff_make_in_the_admin_are_audited(owner):
    c, staff = verified_staff_client()
    account = owner.membership.account
    AuditEvent.objects.all().delete()
    enrol_sms(owner)
    sms = SMSDevice.objects.get(user=owner)
    r = c.post(f"/admin/security/smsdevice/{sms.pk}/delete/", {"post": "yes"})
    assert r.status_code == 302
    assert not SMSDevice.objects.filter(pk=sms.pk).exists()
    # policy change via admin
    page = c.get(f"/admin/accounts/account/{account.pk}/change/")
    form = page.context["adminform"].form
    data = {}
    for name in form.fields:
        v = form.initial.get(name)
        if v is None:
            continue
        data[name] = v
    data.update(
        {
            "require_2fa": "",
            "password_max_age_days": 0,
            "password_age_mode": "remind",
            "session_timeout_minutes": 60,
            "session_timeout_max_minutes": 1440,
        }
    )
    data.pop("require_2fa")
    for fs in page.context["inline_admin_formsets"]:
        p = fs.formset.prefix
        data[f"{p}-TOTAL_FORMS"] = 0 if "ip_allowlist" in p else fs.formset.total_form_count()
        data[f"{p}-INITIAL_FORMS"] = fs.formset.initial_form_count()
        data[f"{p}-MIN_NUM_FORMS"] = 0
        data[f"{p}-MAX_NUM_FORMS"] = 1000
        for i, f in enumerate(fs.formset.forms):
            for n in f.fields:
                val = f.initial.get(n)
                if val is not None:
                    data[f"{p}-{i}-{n}"] = val
            data[f"{p}-{i}-id"] = f.instance.pk
            data[f"{p}-{i}-user"] = f.instance.user_id if hasattr(f.instance, "user_id") else ""
        if "ip_allowlist" in p:
            data[f"{p}-TOTAL_FORMS"] = 1
            data[f"{p}-INITIAL_FORMS"] = 0
            data[f"{p}-0-scope"] = "portal"
            data[f"{p}-0-network"] = "203.0.113.0/24"
            data[f"{p}-0-note"] = ""
    account.require_2fa = True
    account.save(update_fields=["require_2fa"])
    r = c.post(f"/admin/accounts/account/{account.pk}/change/", data)
    if r.status_code != 302:
        print(r.context["adminform"].form.errors, [fs.formset.errors for fs in r.context["inline_admin_formsets"]])
    assert r.status_code == 302
    account.refresh_from_db()
    assert not account.require_2fa
    deleted = AuditEvent.objects.get(action="admin.deleted")
    assert (deleted.account, deleted.actor, deleted.data["model"]) == (account, staff, "security.smsdevice")
    changed = AuditEvent.objects.get(action="admin.changed", object_type="accounts.account")
    assert (changed.account, changed.actor) == (account, staff)
    changes = str(changed.data["changes"]).lower()
    assert "require 2fa" in changes
    assert "allowlist" in changes
