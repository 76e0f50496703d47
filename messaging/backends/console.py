import sys
import threading

from messaging.backends.base import BaseSmsBackend, OutgoingSms, SendResult


class ConsoleBackend(BaseSmsBackend):
    """Prints each message to standard output: the local-run default, so 2FA codes show in the terminal."""

    _lock = threading.Lock()

    def __init__(self, stream=None) -> None:
        self.stream = stream

    def send_messages(self, messages: list[OutgoingSms]) -> list[SendResult]:
        stream = self.stream or sys.stdout
        with self._lock:
            for sms in messages:
                stream.write(
                    f"----- SMS {sms.id} -----\nFrom: {sms.sender}\nTo: {sms.to}\n\n{sms.text}\n" + "-" * 60 + "\n"
                )
            stream.flush()
        return [SendResult(id=sms.id, status="delivered", provider_id=f"console-{sms.id}") for sms in messages]
