"""Found by review, now fixed.

GET /groups with a cursor that decodes to a lone UTF-16 surrogate is a 500: _decode_cursor
(contacts/apis.py) refuses NUL but not surrogates, and psycopg cannot encode '\\ud800'."""

import base64
import json

import pytest

from tests.api_support import bearer, make_token

pytestmark = pytest.mark.django_db


def test_a_cursor_holding_a_lone_surrogate_is_a_400_not_a_500(client, owner):
    _, token = make_token(owner)
    cursor = base64.urlsafe_b64encode(json.dumps(["\ud800", 1]).encode()).decode().rstrip("=")
    response = client.get("/api/v1/groups", {"cursor": cursor}, **bearer(token))
    assert response.status_code == 400, response.status_code
