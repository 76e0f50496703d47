"""The contacts API for wiring: status codes, payload shape, problem details, tenant isolation,
pagination and filters, and query counts that do not grow with the number of contacts. (The
scopes of every route are checked by the matrix in tests/apikeys/test_scopes.py.)"""

import base64
import json
import re
from functools import partial

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts import services
from contacts.models import Contact, Group
from tests.api_support import assert_problem, bearer, every_page, make_subuser, make_token, post_json

pytestmark = pytest.mark.django_db

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def api(client, owner):
    _, token = make_token(owner)
    headers = bearer(token)

    class Api:
        account_id = owner.membership.account_id

        def get(self, path, params=None):
            return client.get("/api/v1/" + path, params or {}, **headers)

        def post(self, path, data):
            return client.post("/api/v1/" + path, data, content_type="application/json", **headers)

        def patch(self, path, data):
            return client.patch("/api/v1/" + path, data, content_type="application/json", **headers)

        def delete(self, path):
            return client.delete("/api/v1/" + path, **headers)

    return Api()


def test_contact_crud(api):
    group = api.post("groups", {"name": "Newsletter"})
    assert group.status_code == 201, group.content
    group_id = group.json()["id"]
    assert group.json() == {"id": group_id, "name": "Newsletter", "contact_count": 0}

    created = api.post("contacts", {"phone": "+44 7400 123456", "name": "Ada", "groups": [group_id]})
    assert created.status_code == 201, created.content
    body = created.json()
    assert set(body) == {"id", "phone", "name", "groups", "created_at"}
    assert (body["phone"], body["name"], body["groups"]) == ("+447400123456", "Ada", [group_id])
    assert ISO_Z.match(body["created_at"])

    contact_id = body["id"]
    assert api.get(f"contacts/{contact_id}").json() == body
    changed = api.patch(f"contacts/{contact_id}", {"name": "Ada King", "groups": []})
    assert changed.status_code == 200, changed.content
    assert changed.json() == {**body, "name": "Ada King", "groups": []}
    assert api.patch(f"contacts/{contact_id}", {}).json() == changed.json()

    deleted = api.delete(f"contacts/{contact_id}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_problem(api.get(f"contacts/{contact_id}"), 404, "not_found")
    assert_problem(api.delete(f"contacts/{contact_id}"), 404, "not_found")


def test_group_crud_and_counts(api):
    group_id = api.post("groups", {"name": "VIP"}).json()["id"]
    for n in range(3):
        api.post("contacts", {"phone": f"+4474001234{n:02d}", "groups": [group_id]})
    assert api.get(f"groups/{group_id}").json() == {"id": group_id, "name": "VIP", "contact_count": 3}
    renamed = api.patch(f"groups/{group_id}", {"name": "Very important"})
    assert renamed.status_code == 200, renamed.content
    assert renamed.json() == {"id": group_id, "name": "Very important", "contact_count": 3}
    assert api.get("groups").json() == {"results": [renamed.json()], "next_cursor": None}
    assert api.delete(f"groups/{group_id}").status_code == 204
    assert_problem(api.get(f"groups/{group_id}"), 404, "not_found")
    assert Contact.objects.count() == 3


def test_errors_are_problem_details(api):
    body = assert_problem(api.post("contacts", {"phone": "12345"}), 400, "invalid_phone")
    assert "phone" in body["errors"]
    assert_problem(api.post("contacts", {}), 400, "invalid_request")
    assert_problem(api.post("contacts", {"phone": "+447400123456", "groups": ["x"]}), 400, "invalid_request")
    body = assert_problem(api.post("contacts", {"phone": "+447400123456", "groups": [424242]}), 400, "unknown_groups")
    assert body["errors"] == {"groups": ["No group with id 424242."]}
    first = api.post("contacts", {"phone": "+447400123456"}).json()
    body = assert_problem(api.post("contacts", {"phone": "447400123456"}), 409, "contact_exists")
    assert str(first["id"]) in body["detail"]
    second = api.post("contacts", {"phone": "+447400123457"}).json()
    assert_problem(api.patch(f"contacts/{second['id']}", {"phone": "+447400123456"}), 409, "contact_exists")
    api.post("groups", {"name": "G"})
    assert_problem(api.post("groups", {"name": "g"}), 409, "group_exists")
    assert_problem(api.post("groups", {"name": ""}), 400, "invalid_request")
    assert_problem(api.get("contacts", {"group": "x"}), 400, "invalid_request")
    assert_problem(api.get("contacts", {"cursor": "garbage"}), 400, "invalid_request")
    assert_problem(api.get("contacts", {"limit": "many"}), 400, "invalid_request")
    assert_problem(api.get(f"contacts/{2**70}"), 404, "not_found")
    assert_problem(api.patch(f"groups/{2**70}", {"name": "x"}), 404, "not_found")


def test_another_accounts_contacts_and_groups_are_not_found(api, make_account):
    theirs = make_account()
    group = services.group_create(account_id=theirs.pk, name="Theirs")
    contact = services.contact_create(account_id=theirs.pk, phone="+447400123456", group_ids=[group.pk])
    for response in (
        api.get(f"contacts/{contact.pk}"),
        api.patch(f"contacts/{contact.pk}", {"name": "x"}),
        api.delete(f"contacts/{contact.pk}"),
        api.get(f"groups/{group.pk}"),
        api.patch(f"groups/{group.pk}", {"name": "x"}),
        api.delete(f"groups/{group.pk}"),
    ):
        assert_problem(response, 404, "not_found")
    assert api.get("contacts").json()["results"] == []
    assert api.get("contacts", {"group": group.pk}).json()["results"] == []
    assert api.get("groups").json()["results"] == []
    # Their group cannot be joined, and their number is free here.
    assert_problem(api.post("contacts", {"phone": "+447400123456", "groups": [group.pk]}), 400, "unknown_groups")
    assert api.post("contacts", {"phone": "+447400123456"}).status_code == 201
    assert Contact.objects.get(pk=contact.pk).name == ""
    assert Group.objects.get(pk=group.pk).name == "Theirs"


def test_contacts_are_cursor_paginated_newest_first(api):
    ids = [api.post("contacts", {"phone": f"+4474001234{n:02d}"}).json()["id"] for n in range(7)]
    seen = [c["id"] for c in every_page(partial(api.get, "contacts"), limit=3)]
    assert seen == ids[::-1]


def test_groups_are_cursor_paginated_by_name(api):
    names = ["delta", "Alpha", "charlie", "Bravo", "echo"]
    for name in names:
        api.post("groups", {"name": name})
    seen = [g["name"] for g in every_page(partial(api.get, "groups"), limit=2)]
    assert sorted(seen) == sorted(names)
    assert len(seen) == len(names)


def test_list_filters_by_group_and_search(api):
    group_id = api.post("groups", {"name": "G"}).json()["id"]
    ada = api.post("contacts", {"phone": "+447400123456", "name": "Ada Lovelace", "groups": [group_id]}).json()
    bob = api.post("contacts", {"phone": "+48500100200", "name": "Bob"}).json()

    def ids(**params):
        response = api.get("contacts", params)
        assert response.status_code == 200, response.content
        return [c["id"] for c in response.json()["results"]]

    assert ids() == [bob["id"], ada["id"]]
    assert ids(group=group_id) == [ada["id"]]
    assert ids(search="LOVE") == [ada["id"]]
    assert ids(search="+48 500") == [bob["id"]]
    assert ids(search="bob", group=group_id) == []
    assert ids(group=999_999) == []


def test_query_counts_do_not_grow_with_the_number_of_contacts(api):
    groups = [api.post("groups", {"name": f"G{n}"}).json()["id"] for n in range(3)]

    def count(path):
        api.get(path)  # warm: the key's first use
        with CaptureQueriesContext(connection) as captured:
            assert api.get(path).status_code == 200
        return len(captured.captured_queries)

    def add(n, start):
        for i in range(start, start + n):
            services.contact_create(account_id=api.account_id, phone=f"+4474001{i:05d}", group_ids=groups[: i % 4])

    add(2, 0)
    few = (count("contacts"), count("groups"), count(f"contacts?group={groups[0]}"))
    add(40, 100)
    many = (count("contacts"), count("groups"), count(f"contacts?group={groups[0]}"))
    assert few == many
    assert many[0] <= 3  # the key, the contacts, their groups


def test_a_subuser_key_follows_its_creators_contact_permissions(client, owner):
    reader = make_subuser(owner, view_contacts=True, manage_api_tokens=True)
    _, token = make_token(reader, scopes=["contacts:read"])
    assert client.get("/api/v1/contacts", **bearer(token)).status_code == 200
    refused = post_json(client, "/api/v1/contacts", {"phone": "+447400123456"}, **bearer(token))
    assert_problem(refused, 403, "insufficient_scope")


def test_a_group_cursor_holding_a_lone_surrogate_is_a_400_not_a_500(client, owner):
    """PostgreSQL cannot store or compare a lone UTF-16 surrogate: a forged cursor holding one is
    refused like any other that is not ours."""
    _, token = make_token(owner)
    cursor = base64.urlsafe_b64encode(json.dumps(["\ud800", 1]).encode()).decode().rstrip("=")
    response = client.get("/api/v1/groups", {"cursor": cursor}, **bearer(token))
    assert response.status_code == 400, response.status_code


def test_a_group_patch_without_a_name_is_accepted_as_the_schema_documents(client, owner):
    """PATCH /groups/{id} takes a partial body, as its OpenAPI document (PatchedGroupInRequest) says."""
    document = client.get("/api/v1/schema/?format=json").json()
    ref = document["paths"]["/api/v1/groups/{group_id}"]["patch"]["requestBody"]["content"]["application/json"]
    schema = document["components"]["schemas"][ref["schema"]["$ref"].split("/")[-1]]
    assert "name" not in schema.get("required", [])  # the document: {} is a valid body

    group = services.group_create(account_id=owner.membership.account_id, name="Newsletter")
    _, token = make_token(owner)
    response = client.patch(f"/api/v1/groups/{group.pk}", {}, content_type="application/json", **bearer(token))
    assert response.status_code == 200, response.content[:300]
    assert response.json()["name"] == "Newsletter"
