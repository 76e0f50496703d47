"""`make run`'s development server logs request lines with their query strings: secrets in them
(the legacy endpoint's smsKey, a password-reset link's token) are redacted; refused requests take
one line each."""

import logging
import sys

import pytest

from portal.log_filters import RedactSecrets
from tests.api_support import make_subuser


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


def test_the_recovery_sweep_s_routine_lines_are_left_out_and_what_it_does_is_kept(caplog):
    """The sweep runs every few seconds: beat's "sending" and the worker's "received" and
    "succeeded" lines for it would bury the rest (in `make run`, the printed SMS)."""
    from portal.log_filters import RECOVERY_SWEEP, QuietRecoverySweep

    trace, strategy, beat = (
        logging.getLogger(name) for name in ("celery.app.trace", "celery.worker.strategy", "celery.beat")
    )
    assert all(any(isinstance(f, QuietRecoverySweep) for f in logger.filters) for logger in (trace, strategy, beat))
    sweep = {"name": RECOVERY_SWEEP, "id": "1", "runtime": 0.1, "return_value": 0}
    delivery = {**sweep, "name": "messaging.tasks.deliver_messages"}
    with caplog.at_level(logging.INFO):
        trace.info("Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s", sweep, extra={"data": sweep})
        strategy.info("Task %(name)s[%(id)s] received", sweep, extra={"data": sweep})
        beat.info("Scheduler: Sending due task %s (%s)", "messaging-requeue-stale", RECOVERY_SWEEP)
        trace.info(
            "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s", delivery, extra={"data": delivery}
        )
        beat.info("Scheduler: Sending due task %s (%s)", "messaging-release-scheduled", "messaging.tasks.x")
        trace.error("Task %(name)s[%(id)s] raised", sweep, extra={"data": sweep})
    assert [record.getMessage() for record in caplog.records] == [
        "Task messaging.tasks.deliver_messages[1] succeeded in 0.1s: 0",
        "Scheduler: Sending due task messaging-release-scheduled (messaging.tasks.x)",
        f"Task {RECOVERY_SWEEP}[1] raised",
    ]


@pytest.mark.django_db
def test_a_refused_request_is_logged_in_one_line_without_a_traceback(client, owner, caplog):
    """A 403 is the client's mistake: one line in `make run`'s terminal (where the SMS codes are
    printed), not the PermissionDenied's traceback."""
    reader = make_subuser(owner, send_sms=False)
    client.force_login(reader)
    with caplog.at_level(logging.INFO, logger="django.request"):
        assert client.get("/messages/send/").status_code == 403
    (record,) = [record for record in caplog.records if record.name == "django.request"]
    assert record.getMessage() == "Forbidden (Permission denied): /messages/send/"
    assert record.exc_info is None
    (stderr,) = [handler for handler in logging.getLogger().handlers if type(handler) is logging.StreamHandler]
    assert "\n" not in stderr.format(record)


def test_a_server_error_keeps_its_traceback():
    from portal.log_filters import ClientErrorsInOneLine

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        exc_info = sys.exc_info()
    record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Internal Server Error: /", (), exc_info)
    record.status_code = 500
    assert ClientErrorsInOneLine().filter(record)
    assert record.exc_info == exc_info
