"""`make run` end to end: SQLite, the on-disk broker and a real worker, exactly as a newcomer runs it."""

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

import pytest
import requests

from core.phone import EXAMPLE_MOBILE
from tests.conftest import REPO, wait_for

pytestmark = pytest.mark.worker


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def local_run(tmp_path):
    port = free_port()
    sms_file = tmp_path / "sms.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env |= {
        # Empty means "the local default", and wins over anything in a developer's .env.
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "PORT": str(port),
        "VAR_DIR": str(tmp_path / "var"),  # its own SQLite file and broker folder
        "SMS_BACKEND": "file",
        "SMS_FILE_PATH": str(sms_file),
    }
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []

    def pump() -> None:
        for line in process.stdout:
            output.append(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(base + "/healthz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        wait_for(up, timeout=120, interval=0.5, message=f"make run to serve {base}")
        wait_for(lambda: any("celery@" in line and "ready" in line for line in output), timeout=60, message="worker")
        text = "".join(output)
        password = re.search(r"password: (\S+)", text).group(1)
        yield {"base": base, "password": password, "sms_file": sms_file, "output": output, "process": process}
    finally:
        # Ctrl-C in a terminal signals the whole foreground group; do the same.
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            pytest.fail("make run did not stop on Ctrl-C:\n" + "".join(output[-30:]))


def csrf_post(session: requests.Session, url: str, data: dict, referer: str) -> requests.Response:
    return session.post(
        url, data={**data, "csrfmiddlewaretoken": session.cookies["csrftoken"]}, headers={"Referer": referer}
    )


def test_make_run_serves_the_portal_and_delivers_through_the_worker(local_run):
    base = local_run["base"]
    session = requests.Session()
    login_url = base + "/accounts/login/"
    assert session.get(login_url, timeout=5).status_code == 200

    response = csrf_post(session, login_url, {"username": "demo@example.com", "password": "wrong"}, login_url)
    assert "The email or password is not right" in response.text

    response = csrf_post(
        session, login_url, {"username": "demo@example.com", "password": local_run["password"]}, login_url
    )
    assert response.status_code == 200
    assert response.url == base + "/"
    assert "Dashboard" in response.text
    assert "demo@example.com" in response.text

    response = csrf_post(session, base + "/messages/test-sms/", {}, base + "/")
    assert f"Test message queued to {EXAMPLE_MOBILE}" in response.text

    # The real worker takes the task from the on-disk broker and hands it to the file backend.
    sms_file = local_run["sms_file"]
    wait_for(lambda: sms_file.exists() and sms_file.read_text().strip(), timeout=60, message="the SMS file")
    [line] = [json.loads(raw) for raw in sms_file.read_text().splitlines()]
    assert line["to"] == EXAMPLE_MOBILE
    # …where `make run` said its SMS would be.
    assert f"SMS (sign-in codes, test SMS) are written to {sms_file}" in "".join(local_run["output"])
    assert line["sender"] == "SMSPortal"

    # …and records the outcome: the dashboard shows it delivered.
    wait_for(lambda: "status-delivered" in session.get(base + "/", timeout=5).text, timeout=30, message="delivered")

    # Health endpoints answer on the local stack too.
    assert session.get(base + "/readyz", timeout=10).json()["checks"] == {
        "database": "ok",
        "cache": "ok",
        "broker": "ok",
    }
    time.sleep(0.1)
    assert local_run["process"].poll() is None
