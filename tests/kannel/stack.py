"""Kannel (bearerbox + smsbox) with its fake SMSC, started by a test: the real gateway path."""

import re
import secrets
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path
from urllib.parse import unquote_to_bytes

BEARERBOX = "/usr/sbin/bearerbox"
SMSBOX = "/usr/sbin/smsbox"
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
TEMPLATE = Path(__file__).with_name("kannel.conf.template")
RECEIVED = re.compile(r"Got message \d+: <(\S+) (\S+) (\S+) (.*)>$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


# Without an inbound hook: fakesmsc's own start message is answered with nothing.
SMS_SERVICE_SILENT = """group = sms-service
keyword = default
text = ""
omit-empty = true
"""
# With one: every inbound SMS goes to the portal's MO hook, as docs/inbound.md shows it.
SMS_SERVICE_HOOK = """group = sms-service
keyword = default
get-url = "{url}&from=%p&to=%P&text=%a&ts=%T&smsc=%i"
max-messages = 0
omit-empty = true
"""


class KannelStack:
    def __init__(self, directory: Path, mo_url: str | None = None) -> None:
        """`mo_url`: the inbound hook with its secret (`…/hooks/kannel/mo?secret=…`)."""
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ports = {name: free_port() for name in ("admin_port", "smsbox_port", "smsc_port", "sendsms_port")}
        self.username = "portal"
        self.password = secrets.token_urlsafe(12)
        self.config = self.dir / "kannel.conf"
        self.config.write_text(
            TEMPLATE.read_text().format(
                dir=self.dir, username=self.username, password=self.password, admin_password=secrets.token_urlsafe(8),
                sms_service=SMS_SERVICE_HOOK.format(url=mo_url) if mo_url else SMS_SERVICE_SILENT, **self.ports,
            )
        )  # fmt: skip
        self.processes: dict[str, subprocess.Popen] = {}
        self.smsc_output = self.dir / "fakesmsc.out"

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['sendsms_port']}/cgi-bin/sendsms"

    def worker_env(self, public_url: str) -> dict[str, str]:
        """A Celery worker's settings for sending through this Kannel, reports back to `public_url`."""
        return {
            "SMS_BACKEND": "kannel",
            "KANNEL_URL": self.sendsms_url,
            "KANNEL_USERNAME": self.username,
            "KANNEL_PASSWORD": self.password,
            "KANNEL_TIMEOUT_SECONDS": "3",
            "PUBLIC_URL": public_url,
        }

    def _spawn(self, name: str, args: list[str], output: Path) -> None:
        handle = output.open("a")
        self.processes[name] = subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, cwd=self.dir)

    def start(self) -> None:
        """bearerbox, then smsbox, then the fake SMSC (the order Kannel needs)."""
        self.start_bearerbox()
        self.start_smsbox()
        self.start_smsc()

    def start_bearerbox(self) -> None:
        self._spawn("bearerbox", [BEARERBOX, str(self.config)], self.dir / "bearerbox.out")
        wait_port(self.ports["smsbox_port"])
        wait_port(self.ports["smsc_port"])

    def start_smsbox(self) -> None:
        self._spawn("smsbox", [SMSBOX, str(self.config)], self.dir / "smsbox.out")
        wait_port(self.ports["sendsms_port"])

    def start_smsc(self, message: str = "100 200 text start") -> None:
        """fakesmsc, which sends `message` (its own format: "sender receiver text words") as an
        inbound SMS, then just listens (a long interval)."""
        args = [FAKESMSC, "-H", "127.0.0.1", "-r", str(self.ports["smsc_port"]), "-i", "100000", "-m", "1", message]
        self._spawn("fakesmsc", args, self.smsc_output)

    def inject(self, sender: str, receiver: str, text: str) -> None:
        """A mobile-originated SMS from `sender` to `receiver`: a new fakesmsc run with it as its
        one message (with several, fakesmsc picks among them at random)."""
        self.stop("fakesmsc")
        self.start_smsc(f"{sender} {receiver} text {text}")

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop_all(self) -> None:
        for name in ("fakesmsc", "smsbox", "bearerbox"):
            self.stop(name)

    def received(self) -> list[tuple[str, str, str]]:
        """(sender, receiver, text) of every message the fake SMSC got, in order."""
        if not self.smsc_output.exists():
            return []
        found = []
        for line in self.smsc_output.read_text(errors="replace").splitlines():
            match = RECEIVED.search(line)
            if match and match.group(1) != "200":  # not the answer to its own start message
                text = match.group(4)
                if match.group(3) in ("ucs2", "ucs-2"):  # printed URL-encoded, UTF-16BE
                    text = unquote_to_bytes(text.replace("+", " ")).decode("utf-16-be")
                found.append((match.group(1), match.group(2), text))
        return found

    def received_by_receiver(self) -> Counter:
        return Counter(receiver for _, receiver, _ in self.received())
