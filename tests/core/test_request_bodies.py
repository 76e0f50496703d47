"""The portal's cap on request bodies (core.http.RequestBodyLimitMiddleware): a body larger than the
page accepts is answered 413 with a page before anything reads it, for anyone, signed in or not;
a body without a length is cut off one byte past the cap while it is read; normal forms work."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from django.core.handlers.asgi import ASGIHandler
from django.test import Client

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

BOUNDARY = "----sms-portal-test"


class UnreadableBody:
    """A request body that fails the test if anything reads it."""

    def read(self, *args):
        raise AssertionError("the request body was read")

    readline = read


def test_an_oversized_anonymous_post_to_sign_in_is_refused_unread(settings):
    # As a browser (or anyone who made up a CSRF cookie): the CSRF check reads the body for its token.
    client = Client(enforce_csrf_checks=True)
    client.cookies["csrftoken"] = "a" * 32
    response = client.generic(
        "POST",
        "/accounts/login/",
        CONTENT_TYPE=f"multipart/form-data; boundary={BOUNDARY}",
        CONTENT_LENGTH=str(100 * 1024 * 1024),
        **{"wsgi.input": UnreadableBody()},
    )
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    assert "Too much data" in response.content.decode()
    assert "2.5\xa0MB at most" in response.content.decode()
    assert "no-store" in response["Cache-Control"]


def test_an_oversized_post_is_refused_unread_for_a_signed_in_user_too(owner):
    client = Client()
    client.force_login(owner)
    response = client.generic(
        "POST",
        "/messages/send/",
        CONTENT_TYPE="application/x-www-form-urlencoded",
        CONTENT_LENGTH=str(2_621_441),
        **{"wsgi.input": UnreadableBody()},
    )
    assert response.status_code == 413
    assert response.context["user"] == owner  # the page around it is the signed-in one


def test_a_body_at_the_cap_is_read_as_usual(settings, owner):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    body = f"username={owner.email}&password={PASSWORD}&pad=".encode()
    body += b"x" * (2000 - len(body))
    response = Client().post("/accounts/login/", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 302
    response = Client().post("/accounts/login/", body + b"x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413


def test_normal_forms_still_work(owner):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/")
    token = page.cookies["csrftoken"].value
    response = client.post(
        "/accounts/login/", {"username": owner.email, "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    assert response.url == "/"
    assert client.get("/").status_code == 200


def _asgi_post(path: str, body: bytes, chunk: int = 64 * 1024) -> tuple[int, bytes]:
    """POST `body` through Django's ASGI handler in chunks, with no Content-Length (chunked)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"cookie", b"csrftoken=" + b"a" * 32),  # so that the CSRF check reads the body for its token
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    parts = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]
    messages = [
        {"type": "http.request", "body": part, "more_body": index < len(parts) - 1} for index, part in enumerate(parts)
    ]
    sent = []

    async def receive():
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # the client stays connected until the answer is sent

    async def send(message):
        sent.append(message)

    async_to_sync(ASGIHandler())(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_a_body_without_a_length_is_cut_off_at_the_cap_while_read(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_240
    status, content = _asgi_post("/accounts/login/", b"username=a%40example.com&pad=" + b"x" * 50_000)
    assert status == 413
    assert "10.0\xa0KB at most" in content.decode()
