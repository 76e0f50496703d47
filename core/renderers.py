"""The API's JSON renderers and parsers: DRF's, made safe for every input a client can send."""

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer

PROBLEM_CONTENT_TYPE = "application/problem+json"


class _AsciiJSONRenderer(JSONRenderer):
    ensure_ascii = True


_ASCII = _AsciiJSONRenderer()


class ApiJSONRenderer(JSONRenderer):
    """DRF's JSON renderer (compact, UTF-8), which cannot encode a lone surrogate: JSON lets a
    request carry one (`"\\ud800"`), and an error may quote the request back. Such a document
    is written with its non-ASCII characters escaped instead: the same JSON, never a 500."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return _ASCII.render(data, accepted_media_type, renderer_context)


class ProblemJSONRenderer(ApiJSONRenderer):
    """Lets a client that accepts only `application/problem+json` still get its error documents."""

    media_type = PROBLEM_CONTENT_TYPE


class ApiContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, answered at once for what nearly every API client sends (no Accept
    header, `*/*` or `application/json`, and no `?format=`) to a view whose first renderer is
    plain JSON; anything else (the schema's YAML-first views, the docs page) negotiates as usual."""

    COMMON = frozenset({"", "*/*", "application/json"})

    def select_renderer(self, request, renderers, format_suffix=None):
        meta = request.META
        if (
            format_suffix is None
            and type(renderers[0]) is ApiJSONRenderer
            and meta.get("HTTP_ACCEPT", "").strip() in self.COMMON
            and "format=" not in meta.get("QUERY_STRING", "")
        ):
            renderer = renderers[0]
            return renderer, renderer.media_type
        return super().select_renderer(request, renderers, format_suffix)


class RequestTooLarge(exceptions.APIException):
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE: Django refuses to read it (RequestDataTooBig, which
    DRF leaves to Django's HTML 400), the API's exception handler answers this 413 instead."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"

    @classmethod
    def for_limit(cls) -> "RequestTooLarge":
        return cls(f"The request body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes, the most accepted.")


class ApiJSONParser(JSONParser):
    """DRF's JSON parser, which lets a document nested deeper than Python's parser can go through
    as a RecursionError (no ValueError), so a 500: here a 400 like any other malformed body."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - the document is nested too deeply.") from None


class ApiMultiPartParser(MultiPartParser):
    """DRF's multipart parser, refusing a body over DATA_UPLOAD_MAX_MEMORY_SIZE before reading it
    (Django's limit covers the fields, not file parts, which would be spooled to disk)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int((parser_context or {})["request"].META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            raise RequestTooLarge.for_limit()
        return super().parse(stream, media_type, parser_context)
