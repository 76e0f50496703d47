"""Issue 5 asks for "scopes per operation" in the OpenAPI document: every operation names the scope
HasScope requires of it, for people (its description) and programs (`x-required-scopes`)."""

import re

import pytest
from django.test import Client
from django.urls import resolve

from core.api import ApiNotFoundView

pytestmark = pytest.mark.django_db

SAMPLE_UUID = "01a23722-709e-721f-b010-d1863440b0a1"
SAMPLES = {"contact_id": "1", "group_id": "1", "phone": "+447400123456"}  # the other ids are UUIDs


def test_every_scoped_operation_names_its_scope():
    document = Client().get("/api/v1/schema/?format=json").json()
    missing = []
    for path, item in document["paths"].items():
        view = resolve(re.sub(r"\{(\w+)\}", lambda m: SAMPLES.get(m.group(1), SAMPLE_UUID), path)).func.view_class
        assert view is not ApiNotFoundView, f"{path} resolves to no operation: give its parameter a sample"
        for method, operation in item.items():
            scope = view.required_scopes.get(method.upper())
            if scope is None:
                continue
            if f"`{scope}`" not in operation.get("description", "") or operation.get("x-required-scopes") != [scope]:
                missing.append((operation["operationId"], scope))
    assert not missing, f"operations whose required scope the document does not name: {missing}"
