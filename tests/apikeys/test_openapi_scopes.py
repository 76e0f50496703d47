"""Issue 5 asks for "scopes per operation" in the OpenAPI document: every operation names the scope
HasScope requires of it, for people (its description) and programs (`x-required-scopes`)."""

import pytest
from django.test import Client
from django.urls import resolve

pytestmark = pytest.mark.django_db


def test_every_scoped_operation_names_its_scope():
    document = Client().get("/api/v1/schema/?format=json").json()
    missing = []
    for path, item in document["paths"].items():
        view = resolve(
            path.replace("{message_id}", "01a23722-709e-721f-b010-d1863440b0a1")
            .replace("{token_id}", "01a23722-709e-721f-b010-d1863440b0a1")
            .replace("{contact_id}", "1")
            .replace("{group_id}", "1")
            .replace("{verification_id}", "01a23722-709e-721f-b010-d1863440b0a1")
        ).func.view_class
        for method, operation in item.items():
            scope = view.required_scopes.get(method.upper())
            if scope is None:
                continue
            if f"`{scope}`" not in operation.get("description", "") or operation.get("x-required-scopes") != [scope]:
                missing.append((operation["operationId"], scope))
    assert not missing, f"operations whose required scope the document does not name: {missing}"
