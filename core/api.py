"""RFC 9457 problem details for every API failure, and the API's shared DRF pieces."""

import logging
from datetime import UTC, datetime

import redis.exceptions
from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import OperationalError
from django.http import Http404, HttpResponse
from django.utils.dateparse import parse_datetime
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.utils import json as drf_json
from rest_framework.views import APIView, set_rollback

from core.errors import ApplicationError
from core.problems import problem_type
from core.renderers import PROBLEM_CONTENT_TYPE, ApiJSONRenderer, RequestTooLarge

logger = logging.getLogger(__name__)

# Failures of the services behind the API, answered 503 with Retry-After rather than 500.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def iso_z(moment) -> str | None:
    """ISO 8601 in UTC with a Z, as every date in the API (SPEC §5)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def zoned_time(value: str) -> datetime:
    """An ISO 8601 time with its zone, in UTC; ValueError for anything else. parse_datetime
    raises on well-formed but impossible dates (month 13), and PostgreSQL refuses offsets beyond
    ±15:59 that Python accepts (hence UTC here); a time past the year 9999 in UTC overflows."""
    moment = parse_datetime(value)
    if moment is None or moment.tzinfo is None:
        raise ValueError(f"Not a time with a zone: {value!r}")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"Out of range: {value!r}") from None


# --- The plain-JSON request and answer of the hot endpoints, without DRF's generic machinery ------
#
# A send with one recipient spends about as much CPU in DRF's parser and response rendering as in
# validating, pricing and storing its message. For the request nearly every client makes (a
# small UTF-8 JSON body, an answer in plain JSON) these two do the same work directly, through the
# same JSON functions and the same renderer; anything else takes DRF's path, unchanged
# (tests/core/test_plain_json.py compares the two).

PLAIN_JSON_TYPES = frozenset({"application/json", "application/json; charset=utf-8", "application/json;charset=utf-8"})
PLAIN_JSON_MAX_BYTES = 64 * 1024
_RENDERER = ApiJSONRenderer()


def json_body(request):
    """`request.data` of a DRF request, read straight from a small JSON body: decoded as UTF-8
    and parsed by DRF's strict JSON (no NaN or Infinity), as its JSONParser does. Another content
    type, a body over PLAIN_JSON_MAX_BYTES or one that does not parse goes to `request.data`,
    which parses it or raises the error (415, 400) as always."""
    meta = request.META
    if settings.API_FAST_PATHS and meta.get("CONTENT_TYPE", "").lower() in PLAIN_JSON_TYPES:
        try:
            length = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if 0 < length <= PLAIN_JSON_MAX_BYTES:
            try:
                return drf_json.loads(request.body.decode("utf-8"))
            except (ValueError, RecursionError):  # malformed, not UTF-8, NaN or Infinity, too deep
                pass
    return request.data


def json_response(request, data, *, status: int):
    """`Response(data, status=status)`, rendered at once when the request negotiated plain JSON
    (ApiContentNegotiation's common case): the bytes and headers DRF would send, without its
    template-response machinery. Any other negotiation gets a DRF Response."""
    if (
        settings.API_FAST_PATHS
        and type(request.accepted_renderer) is ApiJSONRenderer
        and request.accepted_media_type == _RENDERER.media_type
    ):
        return HttpResponse(_RENDERER.render(data), status=status, content_type=_RENDERER.media_type)
    return Response(data, status=status)


# DRF exception class → (code, title) of the problem document.
_DRF_PROBLEMS: list[tuple[type[exceptions.APIException], str, str]] = [
    (exceptions.ValidationError, "invalid_request", "Invalid request"),
    (exceptions.ParseError, "invalid_request", "Malformed request body"),
    (exceptions.NotAuthenticated, "unauthenticated", "Authentication required"),
    (exceptions.AuthenticationFailed, "unauthenticated", "Authentication failed"),
    (exceptions.PermissionDenied, "forbidden", "Forbidden"),
    (exceptions.NotFound, "not_found", "Not found"),
    (exceptions.MethodNotAllowed, "method_not_allowed", "Method not allowed"),
    (exceptions.NotAcceptable, "not_acceptable", "Not acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type", "Unsupported media type"),
    (RequestTooLarge, "request_too_large", "Request too large"),
    (exceptions.Throttled, "rate_limited", "Too many requests"),
]


def problem_response(
    *,
    status_code: int,
    code: str,
    title: str,
    detail: str,
    errors: dict | None = None,
    headers: dict[str, str] | None = None,
    extra: dict | None = None,
) -> Response:
    body = {
        "type": problem_type(code),
        "title": title,
        "status": status_code,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def _flatten_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error structure → {"field.sub": ["message", ...]}; top-level errors go under `non_field_errors`."""
    flat: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for sub_key, messages in _flatten_errors(value, name).items():
                flat.setdefault(sub_key, []).extend(messages)
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            flat[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                name = f"{prefix}.{index}" if prefix else str(index)
                for sub_key, messages in _flatten_errors(item, name).items():
                    flat.setdefault(sub_key, []).extend(messages)
    else:
        flat[prefix or "non_field_errors"] = [str(detail)]
    return flat


def problem_exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        set_rollback()
        return problem_response(
            status_code=exc.status,
            code=exc.code,
            title=exc.title,
            detail=exc.detail,
            errors=exc.errors,
            headers=exc.headers,
        )
    if isinstance(exc, DjangoValidationError):
        # A model or service rule enforced with Django's error type: still the caller's fault.
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge.for_limit()
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, _UNAVAILABLE):
        # Redis or PostgreSQL unreachable (or a deadlock, which PostgreSQL resolved by failing
        # this transaction): nothing the client did wrong, and worth retrying shortly. Only the
        # error's type is logged: its text may name hosts and users.
        set_rollback()
        view_name = type(context.get("view")).__name__
        logger.error("API request failed: %s.%s in %s", type(exc).__module__, type(exc).__name__, view_name)
        return problem_response(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            code="service_unavailable",
            title="Service unavailable",
            detail="A service this request needs is unavailable. Nothing was done; retry in a few seconds.",
            headers={"Retry-After": "5"},
        )
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: let Django log it and answer 500 (handler500 renders a problem)

    set_rollback()
    code, title = "error", "Error"
    for klass, klass_code, klass_title in _DRF_PROBLEMS:
        if isinstance(exc, klass):
            code, title = klass_code, klass_title
            break
    headers: dict[str, str] = {}
    request = context.get("request")
    view = context.get("view")
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        auth_header = view.get_authenticate_header(request) if view is not None and request is not None else None
        headers["WWW-Authenticate"] = auth_header or 'Bearer realm="api"'
        status_code = status.HTTP_401_UNAUTHORIZED
    else:
        status_code = exc.status_code
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(int(exc.wait) + (0 if exc.wait == int(exc.wait) else 1))

    errors = None
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten_errors(exc.detail)
        detail = "The request has invalid fields: " + ", ".join(sorted(errors)) + "."
    else:
        detail = str(exc.detail) if not isinstance(exc.detail, (list, dict)) else title
        codes = exc.get_codes()
        if isinstance(codes, str) and codes != exc.default_code:
            code = codes  # a specific code raised by a permission class, e.g. insufficient_scope
    return problem_response(
        status_code=status_code, code=code, title=title, detail=detail, errors=errors, headers=headers
    )


class ApiNotFoundView(APIView):
    """Catch-all under /api/: an unknown route is a problem document, not an HTML page."""

    authentication_classes: list = []
    permission_classes: list = []
    schema = None  # not an operation: kept out of the OpenAPI document

    def _not_found(self, request, *args, **kwargs):
        raise exceptions.NotFound(f"No API endpoint at {request.path}.")

    get = post = put = patch = delete = head = options = _not_found


def only_versioned_endpoints(endpoints):
    """drf-spectacular hook: `/api/` is an alias of the latest version; document `/api/v1/` once."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/v1/")]
