from http import HTTPStatus

from django.core.exceptions import PermissionDenied
from django.http import Http404


class ApplicationError(Exception):
    """The one error a service raises when a business rule refuses a request.

    Views turn it into a form error; the API exception handler into an RFC 9457 problem
    document with this `status`, `code` and `title`.
    """

    status = 400
    code = "invalid_request"
    title = "Invalid request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        status: int | None = None,
        title: str | None = None,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title
        elif status is not None and status != 400:
            self.title = HTTPStatus(status).phrase  # "Too Many Requests", "Forbidden", …
        self.errors = errors
        self.headers = headers or {}
        if self.status == 429 and "Retry-After" not in self.headers:
            self.headers["Retry-After"] = "60"


# The refusals by kind: each names its HTTP status once, here. Services raise these; the API's
# exception handler and the portal's views read `status` (or catch the class) and never compare
# numbers of their own.


class NotFound(ApplicationError):
    """The object does not exist for this caller (another account's object included: never a 403
    that would confirm it exists)."""

    status = 404
    code = "not_found"
    title = "Not Found"


def not_found(what: str) -> NotFound:
    """The refusal for an object asked for by id that this caller does not have ("No contact with
    this id."): the one wording, and the title DRF's own 404 answers carry."""
    return NotFound(f"No {what} with this id.", title="Not found")


class Forbidden(ApplicationError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class PaymentRequired(ApplicationError):
    status = 402
    code = "insufficient_credit"
    title = "Payment Required"


class Conflict(ApplicationError):
    status = 409
    code = "conflict"
    title = "Conflict"


class TooLarge(ApplicationError):
    status = 413
    code = "request_too_large"
    title = "Content Too Large"


class RateLimited(ApplicationError):
    """Too many requests; `retry_after` (seconds) becomes the Retry-After header."""

    status = 429
    code = "rate_limited"
    title = "Too Many Requests"

    def __init__(self, detail: str, *, retry_after: int | None = None, **kwargs) -> None:
        super().__init__(detail, **kwargs)
        if retry_after is not None:
            self.headers["Retry-After"] = str(max(1, int(retry_after)))


def raise_for_page(exc: ApplicationError, *, forbidden: bool = False) -> None:
    """For a portal page: the refusals a page does not show as a message become Django's answers.
    NotFound is the page's 404 (the object vanished meanwhile, or is another account's) and, with
    `forbidden`, a Forbidden with the code `forbidden` (the permission to act lost meanwhile) its
    403. Any other refusal returns, for the page to show."""
    if isinstance(exc, NotFound):
        raise Http404 from exc
    if forbidden and isinstance(exc, Forbidden) and exc.code == Forbidden.code:
        raise PermissionDenied from exc
