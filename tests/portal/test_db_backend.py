"""core.db: Django's PostgreSQL backend with the connection health check at most once a second."""

import time

import pytest
from django.db import connection, connections

from core.db import base as backend

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def wrapper():
    """A connection of its own (not the test's), health checks on, as in production."""
    conn = connections.create_connection("default")
    conn.settings_dict["CONN_HEALTH_CHECKS"] = True
    conn.ensure_connection()
    assert isinstance(conn, backend.DatabaseWrapper)
    yield conn
    conn.close()


@pytest.fixture
def checks(monkeypatch):
    calls = []
    original = backend.base.DatabaseWrapper.is_usable

    def counted(self):
        calls.append(time.monotonic())
        return original(self)

    monkeypatch.setattr(backend.base.DatabaseWrapper, "is_usable", counted)
    return calls


def next_request(conn):
    """What Django does between two requests (request_started / request_finished)."""
    conn.health_check_done = False


def test_a_connection_checked_within_the_interval_is_not_checked_again(wrapper, checks):
    next_request(wrapper)
    wrapper.cursor().execute("SELECT 1")
    assert checks == [], "a new connection needs no check"
    for _ in range(5):
        next_request(wrapper)
        wrapper.cursor().execute("SELECT 1")
    assert checks == []


def test_an_idle_connection_is_checked_and_a_dead_one_replaced(wrapper, checks):
    pid = wrapper.cursor().connection.info.backend_pid
    wrapper._checked_at -= backend.HEALTH_CHECK_INTERVAL + 0.1  # as if idle for longer than the interval
    with connection.cursor() as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    next_request(wrapper)
    with wrapper.cursor() as cursor:  # the check finds it dead, Django reconnects
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
    assert len(checks) == 1

    next_request(wrapper)
    wrapper.cursor().execute("SELECT 1")
    assert len(checks) == 1, "the new connection is trusted for the interval"


def _prepared_statements(conn) -> list[str]:
    with conn.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_prepared_cursor_prepares_on_the_server_and_keeps_djangos_wrappers(wrapper, settings):
    from django.test.utils import CaptureQueriesContext

    settings.DB_PREPARED_STATEMENTS = True
    with CaptureQueriesContext(wrapper) as captured:
        for value in (1, 2, 3):
            with wrapper.prepared_cursor() as cursor:
                cursor.execute("SELECT %s::int + 40", [value])
                assert cursor.fetchone() == (value + 40,)
    assert len(captured) == 3, "counted and logged like any other query"
    statements = _prepared_statements(wrapper)
    assert any("$1::int + 40" in statement for statement in statements), statements
    from django.db import DataError

    with pytest.raises(DataError, match="division by zero"), wrapper.prepared_cursor() as cursor:
        cursor.execute("SELECT 1 / %s", [0])  # errors come through Django's translation
    assert wrapper.is_usable()
    # psycopg keeps no record of Django's own queries: preparing stays scoped to this cursor.
    assert wrapper.connection.prepare_threshold is None


def test_prepared_statements_can_be_turned_off_for_a_pooler(wrapper, settings):
    settings.DB_PREPARED_STATEMENTS = False
    with wrapper.prepared_cursor() as cursor:
        cursor.execute("SELECT %s::int + 50", [1])
        assert cursor.fetchone() == (51,)
    assert not any("+ 50" in statement for statement in _prepared_statements(wrapper))
