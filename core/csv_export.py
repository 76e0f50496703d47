"""Streamed CSV downloads (message log, audit log): one row at a time, formula-injection safe."""

import csv
from collections.abc import Iterable
from datetime import UTC
from decimal import Decimal

from django.http import StreamingHttpResponse


class _Echo:
    def write(self, value):
        return value


def csv_safe(value) -> str:
    """A cell a spreadsheet will not run as a formula: text starting with = + - @ or a tab/CR gets a
    leading quote, unless it is a plain number such as a phone number (+48500100200), or a number
    itself (a ledger's negative amounts stay numbers a spreadsheet adds up)."""
    if value is None:
        return ""
    if hasattr(value, "strftime"):  # a time: in UTC whatever zone the pages show (ISO 8601)
        return (value.astimezone(UTC) if getattr(value, "tzinfo", None) else value).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, (int, Decimal)):  # a number, never a formula: "-4.5000" stays a number to sum
        return str(value)
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not text[1:].isdigit():
        return "'" + text
    return text


def streaming_csv(filename: str, header: list[str], rows: Iterable[Iterable]) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([csv_safe(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
