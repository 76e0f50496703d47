"""Settings for the test suite: the production stack (PostgreSQL, Redis), set up by `make test`.

Only defaults are set here; the environment still wins, so CI can point elsewhere.
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://portal:portal@127.0.0.1:5432/portal")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/9")
os.environ.setdefault("SMS_BACKEND", "locmem")
os.environ.setdefault("EMAIL_URL", "consolemail://")
# The tests' webhook receivers listen on loopback (tests/webhooks/): inherited by their workers.
os.environ.setdefault("WEBHOOK_ALLOW_LOOPBACK", "true")
# One id per test run, inherited by the worker processes a test starts: runs side by side on
# one machine (two developers, CI) get their own database, queue and cache keys.
RUN_ID = os.environ.setdefault("TEST_RUN_ID", str(os.getpid()))

from portal.settings import *  # noqa: E402, F403
from portal.settings import CACHES, DATABASES  # noqa: E402

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"]["TEST"] = {"NAME": f"test_portal_{RUN_ID}"}
CACHES["default"]["KEY_PREFIX"] = f"test{RUN_ID}"
CELERY_TASK_DEFAULT_QUEUE = f"test-{RUN_ID}"
# Every change is seen on the very next request (a test of its own covers the one-second cache).
API_LOCAL_CACHE_SECONDS = 0

# Delivery work is published at each commit, so a test sees it at once.
SMS_DISPATCH_INTERVAL = 0
# The suite sends many bad keys from 127.0.0.1; the one test of the limit sets its own.
API_AUTH_FAILURES_PER_MINUTE = 1_000_000
