"""The suite's settings on SQLite, as `make run` uses it: `make test` runs the rules of
messaging/sql.py through the ORM here too (tests/messaging/test_sql_rules.py). The rest of the
suite needs PostgreSQL."""

from tests.settings import *  # noqa: F403

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
