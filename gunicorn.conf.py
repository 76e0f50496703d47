"""gunicorn settings for production, read from the same environment as Django.

Run: gunicorn portal.wsgi  (this file is picked up from the working directory)
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
max_requests = 10_000
max_requests_jitter = 1_000
accesslog = "-"
# Only the proxies Django trusts may set X-Forwarded-Proto (so HTTPS is recognised behind them).
forwarded_allow_ips = (
    ",".join(entry.strip() for entry in os.environ.get("TRUSTED_PROXIES", "").split(",") if entry.strip())
    or "127.0.0.1"
)
# Never log query strings' secrets: the access log shows the path only.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)ss "%(a)s"'


# Password-reset links carry their one-time token in the path (Django redirects it into the
# session on the first request): keep it out of the access log.
logger_class = "portal.gunicorn_logging.RedactingLogger"
