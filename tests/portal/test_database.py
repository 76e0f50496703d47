"""The database connection: Django's own PostgreSQL backend with its supported options
(portal/settings.py): persistent connections that Django health-checks, and statements that
psycopg prepares on the server once they repeat."""

import json
import os
import subprocess
import sys

import pytest
from django.db import DataError, connection, connections
from django.test.utils import CaptureQueriesContext

from tests.conftest import REPO

pytestmark = pytest.mark.django_db(transaction=True)

PRINT_DATABASE = (
    "import json; from django.conf import settings; d = settings.DATABASES['default']; "
    "print(json.dumps({'ENGINE': d['ENGINE'], 'CONN_MAX_AGE': d.get('CONN_MAX_AGE'), "
    "'CONN_HEALTH_CHECKS': d.get('CONN_HEALTH_CHECKS'), 'OPTIONS': d.get('OPTIONS', {})}))"
)
POSTGRESQL = "postgres://portal:secret@db.internal:5432/portal"


def database_settings(tmp_path, **env) -> dict:
    """settings.DATABASES['default'] as portal/settings.py makes it from this environment."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "DATABASE_URL", "DJANGO_"))}
    result = subprocess.run(
        [sys.executable, "-c", PRINT_DATABASE],
        cwd=REPO,
        env={**base, "DJANGO_SETTINGS_MODULE": "portal.settings", "VAR_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_postgresql_runs_on_djangos_own_backend_with_its_supported_options(tmp_path):
    assert database_settings(tmp_path, DATABASE_URL=POSTGRESQL) == {
        "ENGINE": "django.db.backends.postgresql",
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {"server_side_binding": True, "prepare_threshold": 5},
    }


def test_prepared_statements_and_health_checks_can_be_turned_off(tmp_path):
    """For a pooler that cannot keep prepared statements: Django's defaults, client-side binding."""
    database = database_settings(
        tmp_path, DATABASE_URL=POSTGRESQL, DB_PREPARED_STATEMENTS="false", DB_CONN_HEALTH_CHECKS="false"
    )
    assert database["CONN_HEALTH_CHECKS"] is False
    assert database["OPTIONS"] == {}


def test_sqlite_gets_none_of_the_postgresql_options(tmp_path):
    database = database_settings(tmp_path)
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert "server_side_binding" not in database["OPTIONS"]
    assert "prepare_threshold" not in database["OPTIONS"]


def _prepared_statements(conn) -> list[str]:
    with conn.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_a_statement_that_repeats_is_prepared_on_the_server_and_keeps_djangos_wrappers():
    threshold = connection.settings_dict["OPTIONS"]["prepare_threshold"]
    with CaptureQueriesContext(connection) as captured:
        for value in range(threshold + 1):
            with connection.cursor() as cursor:
                cursor.execute("SELECT %s::int + 40", [value])
                assert cursor.fetchone() == (value + 40,)
    assert len(captured) == threshold + 1, "counted and logged like any other query"
    assert any("$1::int + 40" in statement for statement in _prepared_statements(connection))
    with pytest.raises(DataError, match="division by zero"), connection.cursor() as cursor:
        cursor.execute("SELECT 1 / %s", [0])  # errors come through Django's translation
    assert connection.is_usable()


@pytest.fixture
def persistent():
    """A connection of its own (not the test's), persistent and health-checked, as in production."""
    conn = connections.create_connection("default")
    conn.settings_dict["CONN_MAX_AGE"] = 60
    conn.settings_dict["CONN_HEALTH_CHECKS"] = True
    conn.ensure_connection()
    yield conn
    conn.close()


def test_a_persistent_connection_that_died_is_replaced_before_the_next_request(persistent):
    with persistent.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        [pid] = cursor.fetchone()
    persistent.close_if_unusable_or_obsolete()  # the request ends: the connection is kept
    with connection.cursor() as admin:  # a database restart, a firewall dropping idle connections
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    persistent.close_if_unusable_or_obsolete()  # the next request starts
    with persistent.cursor() as cursor:  # Django's check finds it dead and connects again
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
