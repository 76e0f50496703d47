from http import HTTPStatus


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
