from portal.gunicorn_logging import RESET_PATH


def test_reset_tokens_are_cut_from_access_log_paths():
    line = "GET /accounts/reset/MQ/cx3k9-4f0b8a1e2c3d4e5f6a7b/ HTTP/1.1"
    assert RESET_PATH.sub(r"\1[redacted]/", line) == "GET /accounts/reset/[redacted]/ HTTP/1.1"
    assert RESET_PATH.sub(r"\1[redacted]/", "/accounts/reset/done/") == "/accounts/reset/done/"
