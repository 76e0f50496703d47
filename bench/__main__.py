"""`make bench`: the numbers the sending issue promises, measured on this machine.

1. One call submitting 10,000 recipients on PostgreSQL: wall time and query count.
2. Delivery throughput from `queued` to `sent` through Celery workers and Kannel (bearerbox,
   smsbox, fakesmsc), with delivery reports coming back to a gunicorn web server.
"""

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def recreate_database() -> None:
    import psycopg

    url = os.environ["DATABASE_URL"]
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/portal"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def table(rows: list[tuple[str, str, str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def busy_cpu_seconds() -> float:
    """CPU time the whole machine has spent busy (all processes, all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class Rate(float):
    """Requests per second, with the machine's busy CPU per request (ms: every process, wrk,
    PostgreSQL and Redis included) beside it: on a virtual machine whose speed changes between
    runs, CPU per request is the steadier figure."""

    cpu_ms: float = 0.0


def wrk(
    url: str, seconds: int, script: Path | None = None, headers: dict | None = None, *, errors: bool = False
) -> Rate:
    """Requests per second that wrk measured (2 threads, 16 connections) on loopback. Unless
    `errors` (an endpoint measured for its error answer), any non-2xx answer fails the run: a rate
    of refusals is no rate of the endpoint."""
    args = ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    if script is not None:
        args += ["-s", str(script)]
    before = busy_cpu_seconds()
    output = subprocess.run([*args, url], capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    busy = busy_cpu_seconds() - before
    if not errors and ("Non-2xx or 3xx responses" in output or "Socket errors" in output):
        raise RuntimeError(f"{url} answered errors under load:\n{output}")
    requests = next((int(line.split()[0]) for line in output.splitlines() if " requests in " in line), 0)
    for line in output.splitlines():
        if line.startswith("Requests/sec:"):
            rate = Rate(float(line.split()[1]))
            rate.cpu_ms = 1000 * busy / requests if requests else 0.0
            return rate
    raise RuntimeError("wrk printed no rate:\n" + output)


ROUNDS = int(os.environ.get("BENCH_API_ROUNDS", "3"))

# The API hot path's mechanisms, each switched off by its setting (portal/settings.py), and the
# send (test mode or live) whose rate it is meant to raise.
MECHANISMS: list[tuple[str, dict[str, str], str]] = [
    ("the one-second local caches off", {"API_LOCAL_CACHE_SECONDS": "0"}, "test"),
    ("rate-limit leasing off (a Redis round trip each)", {"API_RATE_LIMIT_LEASE_MAX": "1"}, "test"),
    ("the plain-JSON fast paths off (DRF parser, Response)", {"API_FAST_PATHS": "false"}, "test"),
    ("prepared statements off", {"DB_PREPARED_STATEMENTS": "false"}, "test"),
    ("prepared statements off", {"DB_PREPARED_STATEMENTS": "false"}, "live"),
    ("connection health checks off", {"DB_CONN_HEALTH_CHECKS": "false"}, "test"),
    ("the dispatch thread off (a task published per send)", {"SMS_DISPATCH_INTERVAL": "0"}, "live"),
]


def start_web(work: Path, log: str, env: dict) -> tuple[subprocess.Popen, str]:
    """gunicorn with 4 sync workers and no worker recycling (steady state), on a free port."""
    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "portal.wsgi", "-b", f"127.0.0.1:{port}", "-w", "4",
         "--max-requests", "0", "--access-logfile", "/dev/null"],
        cwd=REPO, env=env, stdout=(work / f"{log}.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    return web, f"http://127.0.0.1:{port}"


def wait_for_port(url: str) -> None:
    port = int(url.rsplit(":", 1)[1])
    for _ in range(150):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"no server at {url}")


def median_rate(rates: list[Rate]) -> Rate:
    """The run with the median rate (its CPU per request with it)."""
    return sorted(rates)[len(rates) // 2]


def api_benchmark(work: Path, owner, seconds: int) -> list[tuple[str, str, str]]:
    """Authenticated API endpoints beside /healthz, under gunicorn, in the same run."""
    from apikeys.services import token_create

    scopes = ["messages:send", "balance:read"]
    # Test mode: validated, priced and stored like live, never sent or charged.
    token = token_create(user=owner, name="bench", scopes=scopes, is_test=True).secret
    live = token_create(user=owner, name="bench-live", scopes=scopes, is_test=False).secret
    owner.membership.account.__class__.objects.filter(pk=owner.membership.account_id).update(
        api_rate_limit_per_minute=10**9, api_token_rate_limit_per_minute=10**9
    )
    work_env = {**os.environ, "ALLOWED_HOSTS": "127.0.0.1"}
    servers = {"": start_web(work, "api-web", work_env)}
    # Each hot-path mechanism switched off, on a server of its own measured in the same rounds:
    # what it buys is the difference with the send measured seconds before.
    for index, (_name, switch, _path) in enumerate(MECHANISMS):
        servers[index] = start_web(work, f"api-web-{index}", {**work_env, **switch})
    base = servers[""][1]
    try:
        for _, url in servers.values():
            wait_for_port(url)
        scripts = {}
        for name, secret in (("test", token), ("live", live)):
            scripts[name] = work / f"post-{name}.lua"
            scripts[name].write_text(
                'wrk.method = "POST"\n'
                'wrk.body = \'{"to": "+15005550001", "text": "Benchmark"}\'\n'
                'wrk.headers["Content-Type"] = "application/json"\n'
                f'wrk.headers["Authorization"] = "Bearer {secret}"\n'
            )
        # Warm every worker on every path (its first requests prepare statements, fill caches).
        wrk(f"{base}/healthz", 2)
        wrk(f"{base}/api/v1/balance", 2, headers={"Authorization": f"Bearer {token}"})
        for _, url in servers.values():
            wrk(f"{url}/api/v1/messages", 2, script=scripts["test"])
            wrk(f"{url}/api/v1/messages", 2, script=scripts["live"])
        # The speed of this kind of virtual machine drifts by a third within minutes: the
        # endpoints take turns in ROUNDS short runs, and each figure is the median of its runs.
        runs: dict[str, list[Rate]] = {name: [] for name in ("health", "floor", "balance", "send", "live")}
        off: dict[int, list[Rate]] = {index: [] for index in range(len(MECHANISMS))}
        for _ in range(ROUNDS):
            runs["health"].append(wrk(f"{base}/healthz", seconds))
            runs["floor"].append(wrk(f"{base}/api/v1/", seconds, errors=True))
            runs["balance"].append(wrk(f"{base}/api/v1/balance", seconds, headers={"Authorization": f"Bearer {token}"}))
            runs["send"].append(wrk(f"{base}/api/v1/messages", seconds, script=scripts["test"]))
            runs["live"].append(wrk(f"{base}/api/v1/messages", seconds, script=scripts["live"]))
            for index, (_name, _switch, path) in enumerate(MECHANISMS):
                off[index].append(wrk(f"{servers[index][1]}/api/v1/messages", seconds, script=scripts[path]))
    finally:
        for process, _ in servers.values():
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    health, floor, balance, send, send_live = (median_rate(runs[name]) for name in runs)
    # The ratio within each round (both endpoints measured seconds apart), lowest first.
    send_ratios = sorted(sent / probed for sent, probed in zip(runs["send"], runs["health"], strict=True))

    def ratio(rate: Rate) -> str:
        return f"{rate:.0f} req/s = {rate / health:.0%}, {rate.cpu_ms:.2f} ms machine CPU"

    return [
        (
            "GET /healthz (unauthenticated probe), gunicorn 4 sync workers",
            f"{health:.0f} req/s, {health.cpu_ms:.2f} ms machine CPU",
            "baseline",
        ),
        ("GET /api/v1/ (unauthenticated: a 404 problem through the API stack)", ratio(floor), ""),
        ("GET /api/v1/balance (Bearer token)", ratio(balance), ""),
        ("POST /api/v1/messages, 1 recipient, test mode", ratio(send), ">= 40%"),
        (
            f"  the send's ratio to /healthz in each of {ROUNDS} rounds",
            ", ".join(f"{value:.0%}" for value in send_ratios),
            ">= 40%",
        ),
        ("POST /api/v1/messages, 1 recipient, live (locks, debit, ledger)", ratio(send_live), ""),
        *(
            (
                f"  send ({path}) with {name}",
                f"{median_rate(off[index]):.0f} req/s, {median_rate(off[index]).cpu_ms:.2f} ms machine CPU",
                f"with it: {(send if path == 'test' else send_live):.0f} req/s, "
                f"{(send if path == 'test' else send_live).cpu_ms:.2f} ms",
            )
            for index, (name, _switch, path) in enumerate(MECHANISMS)
        ),
    ]


def main() -> int:
    import bench.settings  # noqa: F401  (its environment defaults name the database)

    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    call_command("migrate", verbosity=0)
    from messaging.models import Message, PriceRule
    from messaging.services import account_open, message_submit
    from portal.celery import app

    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    account = account_open(
        name="Bench", owner_email="bench@example.com", owner_password="Bench-password-1", credit=Decimal("1e9")
    )
    owner = account.memberships.get().user
    app.control.purge()
    if os.environ.get("BENCH_ONLY") == "api":  # quick loop while tuning the API path
        work = Path(tempfile.mkdtemp(prefix="bench-"))
        rows = [
            ("measure", "result", "target"),
            *api_benchmark(work, owner, int(os.environ.get("BENCH_API_SECONDS", "5"))),
        ]
        print()
        print(table(rows))
        return 0

    # 1. Submit 10,000 recipients in one call.
    timings, queries = [], []
    only_delivery = os.environ.get("BENCH_ONLY") == "delivery"  # repeated runs of the delivery row
    for run in range(0 if only_delivery else 3):
        numbers = [f"+4474{run:02d}{i:06d}" for i in range(10_000)]
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            result = message_submit(
                account_id=account.pk, user=owner, caller="bench", to=numbers, text="Benchmark message"
            )
            timings.append(time.perf_counter() - start)
        queries.append(len(captured))
        assert len(result.messages) == 10_000
    app.control.purge()
    Message.objects.all().delete()
    small = []
    with CaptureQueriesContext(connection) as captured:
        message_submit(account_id=account.pk, user=owner, caller="bench", to=["+447400000001"], text="x")
    small.append(len(captured))

    # 2. Delivery throughput through Celery and Kannel.
    from tests.kannel.stack import KannelStack

    work = Path(tempfile.mkdtemp(prefix="bench-"))
    kannel = KannelStack(work / "kannel")
    kannel.start()
    web_port = free_port()
    env = {**os.environ, "PUBLIC_URL": f"http://127.0.0.1:{web_port}", "KANNEL_URL": kannel.sendsms_url,
           "KANNEL_USERNAME": kannel.username, "KANNEL_PASSWORD": kannel.password}  # fmt: skip
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "portal.wsgi", "-b", f"127.0.0.1:{web_port}", "-w", "2",
         "--access-logfile", "/dev/null"],
        cwd=REPO, env=env, stdout=(work / "web.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    # Handing a message to Kannel is network-bound (Kannel answers a sendsms that asks for delivery
    # reports in ~20 ms), so the worker runs a pool of threads, each handing over one message at a time.
    pool = os.environ.get("BENCH_WORKER_POOL", "threads")
    concurrency = int(os.environ.get("BENCH_WORKER_CONCURRENCY", "32"))
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "-l", "WARNING", "--pool", pool,
         "--concurrency", str(concurrency), "--without-gossip", "--without-mingle"],
        cwd=REPO, env=env, stdout=(work / "worker.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not app.control.ping(timeout=0.5):
            time.sleep(0.5)
        count = int(os.environ.get("BENCH_MESSAGES", "5000"))
        start = time.perf_counter()
        batch = message_submit(
            account_id=account.pk, user=owner, caller="bench", to=[f"+4475{i:08d}" for i in range(count)], text="Go"
        ).batch_id
        submitted = time.perf_counter()
        pending = Message.objects.filter(batch_id=batch, status__in=["queued", "sending"])
        while pending.exists() and time.perf_counter() - submitted < 600:
            time.sleep(0.2)
        handed_over = time.perf_counter()
        delivered = Message.objects.filter(batch_id=batch, status="delivered")
        while delivered.count() < count and time.perf_counter() - submitted < 600:
            time.sleep(0.5)
        all_delivered = time.perf_counter()
        received = sum(1 for _, receiver, _ in kannel.received() if receiver.startswith("+4475"))
    finally:
        for process in (worker, web):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        kannel.stop_all()
        app.control.purge()

    api_rows = [] if only_delivery else api_benchmark(work, owner, int(os.environ.get("BENCH_API_SECONDS", "5")))
    app.control.purge()

    rows = [
        ("measure", "result", "target"),
        (
            "submit 10,000 recipients, one call (median of 3)",
            f"{statistics.median(timings):.2f} s" if timings else "-",
            "< 2 s",
        ),
        ("queries for 10,000 recipients", " / ".join(str(q) for q in queries), "constant"),
        ("queries for 1 recipient", str(small[0]), "constant"),
        (
            f"delivery queued -> sent, {count} messages, {pool} pool x {concurrency}",
            f"{count / (handed_over - submitted):.0f} msg/s",
            ">= 500 msg/s",
        ),
        ("all delivered through real delivery reports", f"{count / (all_delivered - start):.0f} msg/s", ""),
        ("messages received by the fake SMSC", f"{received} of {count}", f"{count}"),
        *api_rows,
    ]
    print()
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
