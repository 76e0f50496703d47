import threading

from messaging.backends.base import BaseSmsBackend, OutgoingSms, SendResult

# Like django.core.mail.outbox: tests read what was "sent" in this process.
outbox: list[OutgoingSms] = []
_lock = threading.Lock()


class LocmemBackend(BaseSmsBackend):
    def send_messages(self, messages: list[OutgoingSms]) -> list[SendResult]:
        with _lock:
            outbox.extend(messages)
        return [SendResult(id=sms.id, status="delivered", provider_id=f"locmem-{sms.id}") for sms in messages]
