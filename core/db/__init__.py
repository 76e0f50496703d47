"""Django's PostgreSQL backend with a rarer health check and prepared statements (base.py)."""


def prepared_cursor(connection):
    """A cursor whose statements are prepared on the server when the connection's backend is
    this one (core.db, PostgreSQL), a plain cursor otherwise (SQLite under `make run`)."""
    return getattr(connection, "prepared_cursor", connection.cursor)()
