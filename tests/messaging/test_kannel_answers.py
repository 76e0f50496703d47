"""What each of Kannel's HTTP answers means for a message, against a scripted HTTP server: only
a request that provably never reached Kannel is sent again; an answer that may come from a proxy
after forwarding leaves the message in doubt; Kannel's "Not routable" is final."""

import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from messaging.backends.base import OutgoingSms
from messaging.backends.kannel import KannelBackend


@pytest.fixture
def gateway(settings):
    answers: list[tuple[int, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            status, body = answers.pop(0)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.KANNEL_URL = f"http://127.0.0.1:{server.server_port}/cgi-bin/sendsms"
    settings.PUBLIC_URL = "http://127.0.0.1:8000"
    yield answers
    server.shutdown()


@pytest.mark.parametrize(
    ("status", "body", "outcome", "retryable"),
    [
        (202, b"0: Accepted for delivery", "sent", False),
        (503, b"Temporal failure, try again later.", "failed", True),
        (429, b"", "failed", True),
        (403, b"Authorization failed for sendsms", "failed", True),
        (404, b"Unknown request.", "failed", True),  # a wrong KANNEL_URL path: fixed, then sent
        (403, b"Not routable. Do not try again.", "failed", False),
        (400, b"Sender missing and no global set, rejected", "failed", False),
        (502, b"Bad Gateway", "unknown", False),
        (504, b"Gateway Timeout", "unknown", False),
    ],
)
def test_each_answer_of_the_gateway(gateway, status, body, outcome, retryable):
    gateway.append((status, body))
    sms = OutgoingSms(id="m-1", to="+447400123456", sender="ACME", text="Hi", created_at=datetime.now(UTC))
    [result] = KannelBackend().send_messages([sms])
    assert (result.status, result.retryable) == (outcome, retryable)
    if outcome != "sent":
        assert result.error_code == f"gateway_http_{status}"
