import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import connection, connections

from accounts.models import Account, User
from messaging.models import PriceRule

REPO = Path(__file__).resolve().parent.parent

PASSWORD = "Correct-Horse-42"


@pytest.fixture(scope="session", autouse=True)
def _real_stack():
    """The suite runs on PostgreSQL and Redis; without them it fails, it never skips."""
    from django.db import connection

    assert connection.vendor == "postgresql", "the test suite needs PostgreSQL (DATABASE_URL); run it with `make test`"
    redis.Redis.from_url(settings.REDIS_URL).ping()
    yield
    # This run's keys (they carry its prefix) go with it, so the suite's database stays small.
    from django.core.cache import cache

    cache.delete_pattern("*", itersize=1000)


@pytest.fixture(autouse=True)
def _clear_sms_outbox():
    from messaging.backends import locmem

    locmem.outbox.clear()
    yield
    locmem.outbox.clear()


@pytest.fixture
def make_account(db):
    from messaging.services import account_open

    counter = iter(range(1, 10_000))

    def make(*, email: str | None = None, credit: Decimal | int = 0, phone: str = "+447400900123", **kwargs) -> Account:
        n = next(counter)
        return account_open(
            name=kwargs.pop("name", f"Customer {n}"),
            owner_email=email or f"owner{n}@example.com",
            owner_password=PASSWORD,
            owner_phone=phone,
            credit=Decimal(credit),
            **kwargs,
        )

    return make


@pytest.fixture
def owner(make_account) -> User:
    account = make_account(credit=100)
    return account.memberships.get().user


class EmailTasks:
    """The e-mail tasks queued during a test, as (task name, kwargs, options).

    The suite has no Celery worker unless a test starts one, so where this recorder is in use (the
    accounts, audit, security and members tests: see their conftest.py) a queued e-mail task runs
    at once in this process (after the commit, where the request queued it) and `mailoutbox` shows
    what a worker would send. `hold()` keeps them here until `run()`, to see what a request did by
    itself; `to_broker()` publishes them for a real worker.
    """

    def __init__(self, monkeypatch) -> None:
        self.queued: list[tuple[str, dict, dict]] = []
        self.mode = "inline"
        self._monkeypatch = monkeypatch
        self._held: list = []
        self._originals: dict = {}

    def intercept(self, task) -> None:
        """Route `task`'s apply_async through this recorder for the rest of the test."""
        self._originals[task.name] = task.apply_async
        self._monkeypatch.setattr(
            task,
            "apply_async",
            lambda args=None, kwargs=None, **options: self._apply_async(task, args, kwargs, **options),
        )

    def hold(self) -> None:
        self.mode = "hold"

    def to_broker(self) -> None:
        self.mode = "broker"

    def run(self) -> None:
        held, self._held = self._held, []
        for task, kwargs in held:
            task.apply(kwargs=kwargs, throw=True)

    def _apply_async(self, task, args=None, kwargs=None, **options):
        self.queued.append((task.name, dict(kwargs or {}), options))
        if self.mode == "broker":
            return self._originals[task.name](args=args, kwargs=kwargs, **options)
        if self.mode == "hold":
            self._held.append((task, kwargs))
            return None
        return task.apply(args=args, kwargs=kwargs, throw=True)


@pytest.fixture
def email_tasks(monkeypatch) -> EmailTasks:
    """The notice and password-reset e-mail tasks, recorded (and run in this process by default)."""
    from accounts import tasks
    from security import tasks as security_tasks

    recorder = EmailTasks(monkeypatch)
    for task in (tasks.send_notice_email, security_tasks.send_password_reset_email):
        recorder.intercept(task)
    return recorder


def wait_for(predicate, *, timeout: float = 30, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def run_concurrently(*targets, timeout: float = 60) -> list:
    """Run each target in a thread of its own, all at once, and wait for them: their answers in
    order. Each thread closes its database connections when done; an exception in any of them
    (a failed assertion included) fails the caller, as does a thread still running at `timeout`."""
    answers: list = [None] * len(targets)
    errors: list[BaseException] = []

    def run(index: int, target) -> None:
        try:
            answers[index] = target()
        except BaseException as exc:  # reported by the calling thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, target)) for i, target in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), f"a thread was still running after {timeout}s"
    assert not errors, errors
    return answers


class Worker:
    """A real Celery worker process on the suite's Redis queue, sharing the test database."""

    def __init__(self, env: dict[str, str], log_path: Path, concurrency: int = 2, beat: bool = False) -> None:
        self.env, self.log_path, self.concurrency = env, log_path, concurrency
        self.hostname = f"test-worker-{os.getpid()}-{id(self)}@localhost"
        self.process: subprocess.Popen | None = None
        # With Celery beat inside (as `make run` has it), its schedule kept beside the log.
        self.beat = ["--beat", "--schedule", str(log_path.with_suffix(".beat"))] if beat else []

    def start(self) -> "Worker":
        """Start the worker (again, after kill(): under the same name, as a restart does)."""
        from portal.celery import app

        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "--loglevel", "INFO",
             "--concurrency", str(self.concurrency), "--hostname", self.hostname, "--without-gossip",
             "--without-mingle", *self.beat],
            cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        process = self.process
        wait_for(
            lambda: process.poll() is None and app.control.ping(destination=[self.hostname], timeout=0.5),
            timeout=30,
            message="the Celery worker to answer a ping",
        )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self, sig=signal.SIGKILL) -> None:
        """Kill the whole worker (main process and its pool) at once, as a crash would."""
        if self.process is not None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=20)
            self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None


@pytest.fixture
def worker_factory(transactional_db, tmp_path):
    """Start real workers with extra environment (the SMS backend, say); all stop at the end."""
    db = connection.settings_dict
    base = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": (
            f"postgres://{quote(db['USER'])}:{quote(db['PASSWORD'] or '')}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        ),
        "REDIS_URL": settings.REDIS_URL,
    }
    started: list[Worker] = []

    def start(concurrency: int = 2, *, beat: bool = False, **env: str) -> Worker:
        worker = Worker({**base, **env}, tmp_path / f"worker{len(started)}.log", concurrency, beat)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def celery_worker(worker_factory, tmp_path):
    """A real worker whose messages go to the `file` backend at the returned path."""
    sms_file = tmp_path / "sms.jsonl"
    worker = worker_factory(SMS_BACKEND="file", SMS_FILE_PATH=str(sms_file))
    yield sms_file
    assert worker.alive(), "the worker died during the test"


@pytest.fixture
def kannel(tmp_path):
    """Kannel's bearerbox and smsbox with the fake SMSC, on free ports; stopped at the end."""
    from tests.kannel.stack import KannelStack

    stack = KannelStack(tmp_path / "kannel")
    stack.start()
    yield stack
    stack.stop_all()


@pytest.fixture
def funded_owner(make_account):
    """An owner with 1,000 points and a default price of one point a part."""
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    return make_account(credit=1000).memberships.get().user


@pytest.fixture
def kannel_worker(worker_factory, kannel, live_server, settings):
    """Start real workers that send through `kannel`, its delivery reports coming back to the
    live server."""
    settings.KANNEL_DLR_ALLOWED_IPS = ["127.0.0.1"]

    def start(concurrency: int = 2):
        return worker_factory(concurrency=concurrency, **kannel.worker_env(live_server.url))

    return start


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    assert path, "Debian's chromium is needed for the browser tests (make test installs it)"
    return path


@pytest.fixture
def browser(chromium_path, monkeypatch):
    """Headless Debian Chromium driven by Playwright, one per test.

    Playwright's sync API runs an event loop in this thread, and Django refuses ORM calls while a
    loop runs; the test's own ORM calls are synchronous, so allow them for this test only (the
    variable must not leak into subprocesses, where `check --deploy` rightly refuses it). Ask
    for `page` before any database fixture so this is in place first.
    """
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()
        # Connections opened while Playwright's loop runs live in that context, where
        # pytest-django's own clean-up cannot see them: close them here.
        from django.db import connections

        connections.close_all()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def live_server(django_db_setup, live_server):
    """pytest-django's live server, started after the test database exists and so stopped (its
    thread's connection closed) before the database is dropped."""
    return live_server


def queue_length() -> int:
    from portal.celery import app

    with app.connection_for_read() as conn:
        return conn.default_channel.client.llen(settings.CELERY_TASK_DEFAULT_QUEUE)


def queued_task_names() -> list[str]:
    """The names of the tasks waiting in the suite's Redis queue (a worker's own, such as the
    recovery sweep it starts with, among them)."""
    from portal.celery import app

    with app.connection_for_read() as conn:
        entries = conn.default_channel.client.lrange(settings.CELERY_TASK_DEFAULT_QUEUE, 0, -1)
    return [json.loads(entry)["headers"]["task"] for entry in entries]


def worker_is_idle() -> bool:
    """Nothing waiting in the Redis queue and nothing running or reserved in any worker."""
    from portal.celery import app

    if queue_length():
        return False
    inspect = app.control.inspect(timeout=1)
    busy = [*(inspect.active() or {}).values(), *(inspect.reserved() or {}).values()]
    return not any(busy)


@pytest.fixture(autouse=True)
def _clear_rate_limits():
    """Rate-limit counters, once-an-hour marks and cached allowlists live in Redis, outside the
    test's transaction: without this, one test's SMS sends count against the next test's caps
    (every test uses 127.0.0.1 and the same default phone)."""
    from django.core.cache import cache

    from core import ratelimit

    for pattern in ("rl:*", "once:*", "ip-allowlist:*"):
        cache.delete_pattern(pattern, itersize=1000)
    ratelimit.quota.clear()  # units this process leased belong to the counters just deleted


SMS_CODE_TEXT = re.compile(r"\b(\d{6}) is your SMS Portal security code")


def latest_sms_code(phone: str) -> str:
    """The last security code sent to `phone`: from the queued system message, or from what the
    SMS backend received when delivery ran (the stored text is redacted after hand-over)."""
    from messaging.backends import locmem
    from messaging.models import Message

    message = Message.objects.filter(recipient=phone, sensitive=True).order_by("-created_at").first()
    texts = [message.text] if message is not None else []
    texts += [sms.text for sms in reversed(locmem.outbox) if sms.to == phone]
    for text in texts:
        match = SMS_CODE_TEXT.search(text)
        if match:
            return match.group(1)
    raise AssertionError(f"no security code was sent to {phone}")


def sign_in_with_password(client, user: User, password: str = PASSWORD, **extra):
    """The sign-in page's password step, for a user without a second factor: signed in."""
    response = client.post("/accounts/login/", {"username": user.email, "password": password}, **extra)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response.url == "/"
    return response


def past_the_sudo_window():
    """Just past sudo mode's window (security/sudo.py) from now: a sign-in of now is too old."""
    import time_machine
    from django.utils import timezone

    return time_machine.travel(timezone.now() + timedelta(seconds=settings.SECURITY_SUDO_SECONDS + 1), tick=False)


def force_login_recent(client, user: User) -> None:
    """`client.force_login`, and the session's authentication recent, as a real sign-in leaves it:
    the pages of sudo mode (security/sudo.py) open without the re-authentication step."""
    from security.sudo import sudo_mark

    client.force_login(user)
    session = client.session
    sudo_mark(session)
    session.save()


def enrol_sms(user: User, phone: str | None = None):
    """A confirmed SMS device for `user` (the enrolment flow itself is tested through the pages)."""
    from security.models import SMSDevice

    return SMSDevice.objects.create(user=user, name="SMS", phone=phone or user.phone, confirmed=True)


def verified_staff_client():
    """A superuser signed in to the admin with its second factor: (client, staff user)."""
    from django.test import Client

    staff = User.objects.create_user(
        "staff@example.com", PASSWORD, is_staff=True, is_superuser=True, phone="+447700900777"
    )
    enrol_sms(staff)
    c = Client()
    r = c.post("/accounts/login/", {"username": staff.email, "password": PASSWORD, "next": "/admin/"})
    assert r.url == "/accounts/login/verify/"
    r = c.post("/accounts/login/verify/", {"method": "sms", "code": latest_sms_code(staff.phone)})
    assert r.status_code == 302
    assert r.url == "/admin/"
    assert c.get("/admin/").status_code == 200
    return c, staff


@pytest.fixture
def sms_delivery_inline(monkeypatch):
    """Deliver system SMS in this process (to the locmem backend) when the commit hook runs,
    instead of queueing a task on the suite's Redis broker."""
    from messaging import tasks
    from messaging.services import message_deliver

    monkeypatch.setattr(tasks.deliver_messages, "delay", lambda ids: message_deliver(message_ids=ids))


# Every logger the product writes to, at DEBUG, for the log canary tests.
CANARY_LOGGERS = (
    "axes", "django", "django.request", "django.security", "django.server", "rest_framework",
    "core", "audit", "accounts", "security", "apikeys", "contacts", "messaging", "inbound", "verify", "members",
    "webhooks", "portal",
)  # fmt: skip


class Capture:
    """What a log canary test reads: every log record at DEBUG and the process's own output.
    Call it with an action to run that action with its commit hooks (the mails and SMS it sends)."""

    MARKER = "canary-marker-5c1e-7f3a"

    def __init__(self, caplog, capfd, on_commit) -> None:
        self.caplog, self.capfd, self.on_commit = caplog, capfd, on_commit

    def __call__(self, action):
        with self.on_commit(execute=True):
            return action()

    def texts(self) -> dict[str, str]:
        """Everything captured so far, by where it was found, once a marker logged at DEBUG is
        seen to reach both the records and stderr (the capture works)."""
        logging.getLogger("portal").debug(self.MARKER)
        out, err = self.capfd.readouterr()
        records = [
            " ".join([r.getMessage(), repr(r.args), repr(getattr(r, "request", "")), repr(r.__dict__)])
            for r in self.caplog.records
        ]
        texts = {"log records": "\n".join(records), "log text": self.caplog.text, "stdout": out, "stderr": err}
        assert self.MARKER in texts["log records"]
        assert self.MARKER in err
        return texts


@pytest.fixture
def capture_everything(caplog, capfd, monkeypatch, sms_delivery_inline, django_capture_on_commit_callbacks) -> Capture:
    caplog.set_level(logging.DEBUG)
    for name in CANARY_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    # The project's stderr handler holds the stream pytest had when logging was configured:
    # point it at the stream captured now, so its formatted lines are checked too.
    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler:
            monkeypatch.setattr(handler, "stream", sys.stderr)
    return Capture(caplog, capfd, django_capture_on_commit_callbacks)


def allow_ips(owner: User, *networks: str, scope: str) -> None:
    """Replace the owner's account's IP allowlist (`portal` or `api`) with these networks."""
    from security.services import ip_allowlist_replace

    ip_allowlist_replace(
        account=owner.membership.account, scope=scope, entries=[(network, "") for network in networks], actor=owner
    )
