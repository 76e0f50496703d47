"""Settings of a Celery worker started by an e-mail test: the suite's, with each e-mail written
to a file in TEST_EMAIL_FILE_PATH (another process's locmem outbox cannot be read)."""

import os

from tests.settings import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ["TEST_EMAIL_FILE_PATH"]
