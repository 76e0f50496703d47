"""Settings for `make bench`: the production stack with a database and queue of its own."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://portal:portal@127.0.0.1:5432/portal_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/10")
os.environ.setdefault("SMS_BACKEND", "kannel")
os.environ.setdefault("DEBUG", "false")  # measure what production runs: no query log, no debug pages

from portal.settings import *  # noqa: F403
from portal.settings import DATABASES, LOGGING

DATABASES["default"]["CONN_MAX_AGE"] = 600
CELERY_TASK_DEFAULT_QUEUE = "bench"
LOGGING["root"]["level"] = "WARNING"
