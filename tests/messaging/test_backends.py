import io
import json
from datetime import UTC, datetime

import pytest

from messaging.backends import OutgoingSms, get_backend, locmem
from messaging.backends.console import ConsoleBackend
from messaging.backends.file import FileBackend

SMS = [
    OutgoingSms(
        id="a1",
        to="+447700900123",
        sender="ACME",
        text="Zażółć €",
        created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    ),
    OutgoingSms(
        id="b2", to="+48500100200", sender="ACME", text="second", created_at=datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC)
    ),
]


def test_file_backend_appends_one_json_object_per_line(settings, tmp_path):
    settings.SMS_FILE_PATH = str(tmp_path / "out" / "sms.jsonl")
    results = FileBackend().send_messages(SMS)
    FileBackend().send_messages(SMS[:1])
    lines = [json.loads(line) for line in (tmp_path / "out" / "sms.jsonl").read_text(encoding="utf-8").splitlines()]
    assert lines[0] == {
        "id": "a1",
        "to": "+447700900123",
        "sender": "ACME",
        "text": "Zażółć €",
        "created_at": "2026-01-02T03:04:05Z",
    }
    assert [line["id"] for line in lines] == ["a1", "b2", "a1"]
    assert [r.status for r in results] == ["delivered", "delivered"]


def test_console_backend_prints_each_message():
    stream = io.StringIO()
    results = ConsoleBackend(stream=stream).send_messages(SMS)
    out = stream.getvalue()
    assert "To: +447700900123" in out
    assert "Zażółć €" in out
    assert "second" in out
    assert [r.id for r in results] == ["a1", "b2"]


def test_locmem_backend_keeps_an_outbox():
    locmem.LocmemBackend().send_messages(SMS)
    assert [sms.id for sms in locmem.outbox] == ["a1", "b2"]


@pytest.mark.parametrize(
    ("name", "klass"),
    [("console", "ConsoleBackend"), ("file", "FileBackend"), ("locmem", "LocmemBackend"),
     ("messaging.backends.file.FileBackend", "FileBackend")],
)  # fmt: skip
def test_backend_is_chosen_by_setting(settings, name, klass):
    settings.SMS_BACKEND = name
    assert type(get_backend()).__name__ == klass
