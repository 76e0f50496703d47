from portal.gunicorn_logging import RESET_PATH


def test_reset_tokens_are_cut_from_access_log_paths():
    line = "GET /accounts/reset/MQ/cx3k9-4f0b8a1e2c3d4e5f6a7b/ HTTP/1.1"
    assert RESET_PATH.sub(r"\1[redacted]/", line) == "GET /accounts/reset/[redacted]/ HTTP/1.1"
    assert RESET_PATH.sub(r"\1[redacted]/", "/accounts/reset/done/") == "/accounts/reset/done/"


def test_secret_query_parameters_are_cut_from_every_access_log_atom(monkeypatch):
    """gunicorn's access line holds the request line (`r`) and the query string (`q`): the Kannel
    MO hook's shared secret and the legacy endpoint's key must not reach it."""
    from gunicorn.glogging import Logger

    from portal.gunicorn_logging import RedactingLogger

    raw = {
        "r": "GET /hooks/kannel/mo?secret=S3cr3t-mo&from=%2B4915112345678&text=STOP HTTP/1.1",
        "q": "secret=S3cr3t-mo&from=%2B4915112345678",
        "U": "/smsapi/send",
        "s": "200",
    }
    monkeypatch.setattr(Logger, "atoms", lambda self, *args: dict(raw))
    atoms = RedactingLogger.atoms(object.__new__(RedactingLogger), None, None, {}, None)
    assert "S3cr3t-mo" not in repr(atoms)
    assert atoms["r"] == "GET /hooks/kannel/mo?secret=[redacted]&from=%2B4915112345678&text=STOP HTTP/1.1"
    assert atoms["q"] == "secret=[redacted]&from=%2B4915112345678"
    legacy = {"r": "GET /smsapi/send?smsUser=abc&smsKey=live_x1y2z3 HTTP/1.1"}
    monkeypatch.setattr(Logger, "atoms", lambda self, *args: dict(legacy))
    assert "live_x1y2z3" not in RedactingLogger.atoms(object.__new__(RedactingLogger), None, None, {}, None)["r"]
