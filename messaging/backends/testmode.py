"""Where messages sent with test keys go instead of a gateway (SPEC §5 test mode).

Magic recipients simulate outcomes; every other number ends as delivered.
"""

from messaging.backends.base import BaseSmsBackend, OutgoingSms, SendResult

MAGIC_NUMBERS = {
    "+15005550001": ("delivered", ""),
    "+15005550002": ("undelivered", "test_undelivered"),
    "+15005550003": ("failed", "test_failed"),
}


class TestModeBackend(BaseSmsBackend):
    def send_messages(self, messages: list[OutgoingSms]) -> list[SendResult]:
        results = []
        for sms in messages:
            status, error = MAGIC_NUMBERS.get(sms.to, ("delivered", ""))
            results.append(SendResult(id=sms.id, status=status, provider_id=f"test-{sms.id}", error_code=error))
        return results
