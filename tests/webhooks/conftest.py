"""The webhooks tests' real receiver and their network guard.

The receiver is a real HTTP server on 127.0.0.1 (a customer's endpoint: the one fake the suite
allows, the far side of the network). The guard makes sure no test sends a packet anywhere else:
the resolver is stubbed (a table of names; numeric hosts only otherwise, never real DNS) and any
socket connection to an address other than 127.0.0.1 or ::1 fails the test, so a broken SSRF
guard shows as a failure, never as traffic.
"""

import json
import queue
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from accounts.models import User

LOOPBACK = {"127.0.0.1", "::1"}


@pytest.fixture(autouse=True)
def _email_tasks_in_process(email_tasks):
    """The owner's notices (an endpoint disabled) are sent in this process (tests/conftest.py)."""


class NetworkGuard:
    def __init__(self) -> None:
        self.names: dict[str, list[str]] = {}
        self.violations: list[str] = []
        self.resolved: list[str] = []


@pytest.fixture(autouse=True)
def network(monkeypatch) -> NetworkGuard:
    guard = NetworkGuard()
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else str(host)
        guard.resolved.append(name)
        if name in guard.names:
            answers = []
            for address in guard.names[name]:
                family_ = socket.AF_INET6 if ":" in address else socket.AF_INET
                sockaddr = (address, int(port or 0), 0, 0) if ":" in address else (address, int(port or 0))
                answers.append((family_, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
            return answers
        # Numbers only (as the C library reads them), never a real DNS query from a test.
        return real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    def connect(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if sock.family in (socket.AF_INET, socket.AF_INET6) and host not in LOOPBACK:
            guard.violations.append(str(host))
            raise AssertionError(f"a test tried to connect to {host}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    yield guard
    assert guard.violations == [], f"connections to forbidden addresses were attempted: {guard.violations}"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    """A customer's endpoint on loopback. `answers` are (status, body) served in order, then
    200; `hang` makes it never answer (until the test ends)."""

    port: int
    requests: list[Received] = field(default_factory=list)
    answers: "queue.Queue[tuple[int, bytes, dict]]" = field(default_factory=queue.Queue)
    default: tuple[int, bytes] = (200, b'{"ok": true}')  # the answer once `answers` are used up
    hang: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/sms?token=abc123"

    def answer(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.answers.put((status, body, headers or {}))


@pytest.fixture
def receiver():
    state: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            target: Receiver = state["receiver"]
            target.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            if target.hang.is_set():
                target.released.wait(30)
                return
            try:
                status, reply, headers = target.answers.get_nowait()
            except queue.Empty:
                (status, reply), headers = target.default, {}
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["receiver"] = target = Receiver(port=server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield target
    target.released.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def queued_tasks(monkeypatch) -> list[str]:
    """The send tasks the webhooks app queues, recorded instead of published (the tests send by
    calling the service); tests/webhooks/test_worker.py uses the real broker and worker."""
    from webhooks import tasks

    queued: list[str] = []
    monkeypatch.setattr(tasks.send_endpoint_deliveries, "delay", lambda endpoint_id: queued.append(endpoint_id))
    return queued


@pytest.fixture
def account_owner(make_account) -> User:
    return make_account(credit=100).memberships.get().user
