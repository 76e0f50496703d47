"""Opt-outs (SPEC §3, §5): the services (idempotent, audited, published on the hub), the API
(`/opt-outs`), and the portal page (search, add, remove, CSV import and export)."""

import io

import pytest

from audit import hub
from audit.models import AuditEvent
from contacts import services
from contacts.models import OptOut
from contacts.serializers import representations
from core.errors import NotFound
from tests.api_support import assert_problem, bearer, every_page, make_subuser, make_token, post_json

pytestmark = pytest.mark.django_db

PHONE = "+447400123456"


@pytest.fixture
def published():
    """Every opt-out event the hub delivers (after the commit)."""
    events: list[hub.Event] = []
    hub.subscribe(events.append, actions={"opt_out.created", "opt_out.removed"})
    yield events
    hub.unsubscribe(events.append)


# --- Services ---------------------------------------------------------------------------------


def test_adding_an_opt_out_is_audited_and_published_once(owner, published, django_capture_on_commit_callbacks):
    account_id = owner.membership.account_id
    with django_capture_on_commit_callbacks(execute=True):
        opt_out, created = services.opt_out_add(account_id=account_id, phone="+44 7400 123456", source="portal")
        again, created_again = services.opt_out_add(account_id=account_id, phone=PHONE, source="api")
    assert (created, created_again) == (True, False)
    assert again.pk == opt_out.pk
    assert again.source == "portal"
    assert OptOut.objects.filter(account_id=account_id).count() == 1
    assert AuditEvent.objects.filter(account_id=account_id, action="contacts.opt_out_added").count() == 1
    [event] = published
    assert (event.action, event.account_id, event.object_type, event.object_id) == (
        "opt_out.created",
        account_id,
        "opt_out",
        PHONE,
    )
    assert event.data == {"phone": PHONE, "source": "portal", "created_at": event.data["created_at"]}
    assert event.data["created_at"].endswith("Z")


def test_removing_an_opt_out_publishes_what_it_was(owner, published, django_capture_on_commit_callbacks):
    account_id = owner.membership.account_id
    services.opt_out_add(account_id=account_id, phone=PHONE, source="sms")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.opt_out_remove(account_id=account_id, phone=PHONE) is True
    assert not OptOut.objects.exists()
    assert [(e.action, e.object_id, e.data["source"]) for e in published] == [("opt_out.removed", PHONE, "sms")]
    assert AuditEvent.objects.filter(account_id=account_id, action="contacts.opt_out_removed").exists()
    assert services.opt_out_remove(account_id=account_id, phone=PHONE, missing_ok=True) is False
    with pytest.raises(NotFound):
        services.opt_out_remove(account_id=account_id, phone=PHONE)


def test_representations_are_the_accounts_own(owner, make_account):
    other = make_account().pk
    services.opt_out_add(account_id=owner.membership.account_id, phone=PHONE, source="api")
    services.opt_out_add(account_id=other, phone="+447400123457", source="api")
    found = representations(owner.membership.account_id, [PHONE, "+447400123457"])
    assert list(found) == [PHONE]
    assert found[PHONE]["source"] == "api"


# --- API --------------------------------------------------------------------------------------


@pytest.fixture
def headers(owner):
    _, token = make_token(owner)
    return bearer(token)


def test_post_creates_then_answers_the_existing_one(client, owner, headers):
    first = post_json(client, "/api/v1/opt-outs", {"phone": "447400123456"}, **headers)
    assert first.status_code == 201, first.content
    body = first.json()
    assert set(body) == {"phone", "source", "created_at"}
    assert (body["phone"], body["source"]) == (PHONE, "api")
    again = post_json(client, "/api/v1/opt-outs", {"phone": PHONE}, **headers)
    assert again.status_code == 200
    assert again.json() == body
    assert_problem(post_json(client, "/api/v1/opt-outs", {"phone": "not a number"}, **headers), 400, "invalid_phone")
    event = AuditEvent.objects.get(action="contacts.opt_out_added")
    assert event.actor_id == owner.pk
    assert event.actor_token


def test_delete_removes_and_an_unknown_number_is_404(client, owner, headers):
    services.opt_out_add(account_id=owner.membership.account_id, phone=PHONE, source="sms")
    assert client.delete(f"/api/v1/opt-outs/{PHONE}", **headers).status_code == 204
    assert not OptOut.objects.exists()
    assert_problem(client.delete(f"/api/v1/opt-outs/{PHONE}", **headers), 404, "not_found")
    assert_problem(client.delete("/api/v1/opt-outs/nonsense", **headers), 404, "not_found")


def test_list_is_the_accounts_newest_first_searchable_and_paginated(client, owner, headers, make_account):
    account_id = owner.membership.account_id
    numbers = [f"+4474001234{i:02d}" for i in range(7)]
    for number in numbers:
        services.opt_out_add(account_id=account_id, phone=number, source="portal")
    other = make_account(email="other@example.com")
    services.opt_out_add(account_id=other.pk, phone="+447400999999", source="portal")

    pages = every_page(lambda params: client.get("/api/v1/opt-outs", params, **headers), limit=3)
    assert [item["phone"] for item in pages] == numbers[::-1]
    found = client.get("/api/v1/opt-outs", {"search": "+44 7400 123403"}, **headers).json()["results"]
    assert [item["phone"] for item in found] == ["+447400123403"]


def test_another_accounts_opt_out_cannot_be_removed(client, owner, headers, make_account):
    other = make_account(email="other@example.com")
    services.opt_out_add(account_id=other.pk, phone=PHONE, source="portal")
    assert_problem(client.delete(f"/api/v1/opt-outs/{PHONE}", **headers), 404)
    assert OptOut.objects.filter(account=other).exists()


# --- The portal page --------------------------------------------------------------------------


def signed_in(client, user):
    client.force_login(user)
    return client


def test_the_page_adds_searches_removes_and_shows_an_empty_state(client, owner):
    signed_in(client, owner)
    page = client.get("/contacts/opt-outs/")
    assert page.status_code == 200
    assert b'data-testid="opt-outs-empty"' in page.content
    added = client.post("/contacts/opt-outs/", {"phone": "+44 7400 123456"}, follow=True)
    assert PHONE.encode() in added.content
    assert b"opted out." in added.content
    assert OptOut.objects.get().source == "portal"
    assert PHONE.encode() in client.get("/contacts/opt-outs/", {"q": "123456"}).content
    assert b"No opt-outs match" in client.get("/contacts/opt-outs/", {"q": "999"}).content
    removed = client.post("/contacts/opt-outs/remove/", {"phone": PHONE}, follow=True)
    assert b"may receive your messages again" in removed.content
    assert not OptOut.objects.exists()
    assert client.post("/contacts/opt-outs/remove/", {"phone": PHONE}).status_code == 404


def test_the_page_needs_view_contacts_and_changes_need_manage_contacts(client, owner):
    viewer = make_subuser(owner, view_contacts=True)
    signed_in(client, viewer)
    page = client.get("/contacts/opt-outs/")
    assert page.status_code == 200
    assert b"Opt a number out" not in page.content
    assert client.post("/contacts/opt-outs/", {"phone": PHONE}).status_code == 403
    assert client.post("/contacts/opt-outs/remove/", {"phone": PHONE}).status_code == 403
    assert client.get("/contacts/opt-outs/import/").status_code == 403
    client.logout()
    signed_in(client, make_subuser(owner, send_sms=True))
    assert client.get("/contacts/opt-outs/").status_code == 403


def test_csv_export_then_import_round_trips(client, owner, make_account):
    account_id = owner.membership.account_id
    for number in (PHONE, "+447400123457"):
        services.opt_out_add(account_id=account_id, phone=number, source="sms")
    signed_in(client, owner)
    export = client.get("/contacts/opt-outs/", {"format": "csv"})
    assert export["Content-Type"].startswith("text/csv")
    exported = b"".join(export.streaming_content).decode()
    assert exported.splitlines()[0] == "phone,source,created_at"
    assert {line.split(",")[0] for line in exported.splitlines()[1:]} == {PHONE, "+447400123457"}

    other = make_account(email="other@example.com")
    other_owner = other.memberships.get().user
    client.logout()
    signed_in(client, other_owner)
    upload = io.BytesIO((exported + "not-a-number,x\n+447400123458\n").encode())
    upload.name = "opt-outs.csv"
    report = client.post("/contacts/opt-outs/import/", {"file": upload})
    assert report.status_code == 200
    assert b"3 numbers opted out" in report.content
    assert b"Not a valid number" in report.content
    assert set(OptOut.objects.filter(account=other).values_list("phone", "source")) == {
        (PHONE, "portal"),
        ("+447400123457", "portal"),
        ("+447400123458", "portal"),
    }
    assert AuditEvent.objects.filter(account=other, action="contacts.opt_outs_imported").get().data == {"count": 3}
