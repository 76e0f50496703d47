import fcntl
import json
from pathlib import Path

from django.conf import settings

from messaging.backends.base import BaseSmsBackend, OutgoingSms, SendResult


class FileBackend(BaseSmsBackend):
    """Appends one JSON object per message to settings.SMS_FILE_PATH and marks it delivered.

    Several worker processes may append at once: each batch is written under an exclusive lock.
    """

    def send_messages(self, messages: list[OutgoingSms]) -> list[SendResult]:
        path = Path(settings.SMS_FILE_PATH)
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(
            json.dumps(
                {
                    "id": sms.id,
                    "to": sms.to,
                    "sender": sms.sender,
                    "text": sms.text,
                    "created_at": sms.created_at.isoformat().replace("+00:00", "Z"),
                },
                ensure_ascii=False,
            )
            + "\n"
            for sms in messages
        )
        with path.open("a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                handle.write(lines)
                handle.flush()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return [SendResult(id=sms.id, status="delivered", provider_id=f"file-{sms.id}") for sms in messages]
