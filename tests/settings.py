"""Settings for the test suite: the production stack (PostgreSQL, Redis), set up by `make test`.

Only defaults are set here; the environment still wins, so CI can point elsewhere.
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/9")
os.environ.setdefault("SMS_BACKEND", "locmem")
os.environ.setdefault("EMAIL_URL", "consolemail://")

from portal.settings import *  # noqa: F403
from portal.settings import DATABASES

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DATABASES["default"]["CONN_MAX_AGE"] = 0
