"""Helpers shared by the API tests: keys made through the services, request headers, and the
checks every problem document must pass."""

import base64
import secrets
from datetime import datetime

from django.test import Client

from accounts.models import Membership, User
from apikeys import services
from apikeys.models import SCOPES, ApiCredential, ApiToken
from core.problems import problem_type
from tests.conftest import PASSWORD

ALL_SCOPES = sorted(SCOPES)
PHONE = "+447400123456"
PROBLEM_FIELDS = {"type", "title", "status", "detail", "code"}


def make_token(
    user: User,
    *,
    scopes=ALL_SCOPES,
    is_test: bool = False,
    expires_at: datetime | None = None,
    name: str = "Test token",
) -> tuple[ApiToken, str]:
    created = services.token_create(user=user, name=name, scopes=list(scopes), is_test=is_test, expires_at=expires_at)
    return created.obj, created.secret


def make_credential(
    user: User, *, scopes=ALL_SCOPES, is_test: bool = False, name: str = "Test credential"
) -> tuple[ApiCredential, str]:
    created = services.credential_create(user=user, name=name, scopes=list(scopes), is_test=is_test)
    return created.obj, created.secret


def bearer(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def basic(key_id: str, secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()}


def make_subuser(owner: User, *, email: str | None = None, **flags) -> User:
    """A sub-user of the owner's account; permission flags as keyword arguments."""
    email = email or f"sub-{secrets.token_hex(4)}@example.com"
    user = User.objects.create_user(email=email, password=PASSWORD)
    Membership.objects.create(user=user, account=owner.membership.account, role=Membership.Role.SUBUSER, **flags)
    return User.objects.select_related("membership__account").get(pk=user.pk)


ALL_PERMISSIONS = {name: True for name in Membership.PERMISSIONS}


def assert_problem(response, status: int, code: str | None = None) -> dict:
    """An RFC 9457 problem document with the given status (and code); 401s carry WWW-Authenticate."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/problem+json"), response["Content-Type"]
    body = response.json()
    assert set(body) >= PROBLEM_FIELDS, body
    assert body["status"] == status
    assert body["type"] == problem_type(body["code"])  # the product's errors page at the code
    assert body["title"]
    assert body["detail"]
    if code is not None:
        assert body["code"] == code, body
    if status == 401:
        assert response.get("WWW-Authenticate", "").split(" ")[0] in ("Bearer", "Basic"), response.headers
    return body


def post_json(client: Client, path: str, data, **headers):
    return client.post(path, data, content_type="application/json", **headers)


def issue_access(client: Client, headers: dict, *, ttl: int = 3600, scopes: list[str] | None = None) -> dict:
    data: dict = {"ttl": ttl}
    if scopes is not None:
        data["scopes"] = scopes
    response = post_json(client, "/api/v1/auth/token", data, **headers)
    assert response.status_code == 201, response.content
    return response.json()


def send(client: Client, headers: dict, to=PHONE, text: str = "Hello", **extra):
    return post_json(client, "/api/v1/messages", {"to": to, "text": text, **extra}, **headers)


def every_page(get, **params) -> list[dict]:
    """Every item of a cursor-paginated list, following `next_cursor` to its end; `get(params)`
    answers one page's response."""
    items, cursor = [], None
    while True:
        response = get({**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.content
        page = response.json()
        assert set(page) == {"results", "next_cursor"}
        items += page["results"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
