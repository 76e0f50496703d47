"""Helpers for the Verify tests: starting and checking verifications through the API, and the code
a verification SMS carried."""

import re

from messaging.backends import locmem
from tests import api_support as api

NUMBER = "+447400123456"
CODE_IN_TEXT = re.compile(r"\b(\d{6})\b")


def start(client, headers, to=NUMBER, **extra):
    return api.post_json(client, "/api/v1/verifications", {"to": to, **extra}, **headers)


def check(client, headers, verification_id, code):
    return api.post_json(client, f"/api/v1/verifications/{verification_id}/check", {"code": code}, **headers)


def code_sent_to(number: str) -> str:
    """The code in the last SMS the gateway (locmem) received for `number`."""
    for sms in reversed(locmem.outbox):
        if sms.to == number:
            return CODE_IN_TEXT.search(sms.text).group(1)
    raise AssertionError(f"no SMS reached {number}")


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"
