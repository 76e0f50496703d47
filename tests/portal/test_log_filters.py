"""`make run`'s development server logs request lines with their query strings: secrets in them
(the legacy endpoint's smsKey, a password-reset link's token) are redacted."""

import logging

from portal.log_filters import RedactSecrets


def test_the_development_server_log_never_holds_an_sms_key_or_reset_token(caplog):
    logger = logging.getLogger("django.server")
    assert any(isinstance(f, RedactSecrets) for f in logger.filters)
    request_line = (
        "GET /smsapi/send?smsUser=ak_0123456789abcdef&smsKey=live_CANARYsecret-_x&to=%2B44&message=hi HTTP/1.1"
    )
    reset_line = "GET /accounts/reset/MQ/cz7d8a-CANARYtoken1234/ HTTP/1.1"
    with caplog.at_level(logging.INFO, logger="django.server"):
        logger.info('"%s" %s %s', request_line, "200", "9")
        logger.info('"%s" %s %s', reset_line, "302", "0")
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "CANARY" not in text
    assert "smsKey=[redacted]&to=%2B44" in text
    assert "smsUser=ak_0123456789abcdef" in text  # the key id is no secret
    assert "/accounts/reset/[redacted]/" in text
