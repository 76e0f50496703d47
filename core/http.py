"""HTTP rules applied to every answer of the portal (and, where said, of the API), as middleware
wired in settings.MIDDLEWARE and settings.API_MIDDLEWARE: one place each, not per view."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.shortcuts import render
from django.utils.cache import patch_cache_control


class NoStoreMiddleware:
    """Every answer Django makes is `Cache-Control: no-store`: pages, CSV exports, redirects and
    errors of the portal, and the API's answers. Each may hold an account's data, a CSRF token or
    a secret shown once, and none gains from a copy in a shared or browser cache (or in the
    browser's back-forward cache after signing out). Static files are served before this (by
    WhiteNoise, with their own long-lived caching) and are not touched. A view's own directives
    stay, with `no-store` added."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        directives = response.get("Cache-Control")
        if directives is None:
            response["Cache-Control"] = "no-store"
        elif "no-store" not in directives:
            patch_cache_control(response, no_store=True)
        return response


class ContentSecurityPolicyMiddleware:
    """The portal's Content-Security-Policy (settings.CONTENT_SECURITY_POLICY) on every answer that
    does not set its own: the pages load scripts, styles and images from this site only, run no
    inline script or style, submit forms only here and cannot be framed. Django 5.2 has no CSP of
    its own (6.0 does)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response


# --- Request bodies -----------------------------------------------------------------------------

# Room for a form's other fields and the multipart framing around a declared upload.
UPLOAD_FORM_ALLOWANCE = 64 * 1024


def accepts_upload(max_bytes: int):
    """Marks a view taking a file of up to `max_bytes`: its requests may be that large (with
    UPLOAD_FORM_ALLOWANCE for the rest of the form) instead of DATA_UPLOAD_MAX_MEMORY_SIZE, and the
    413 page names the file's limit."""

    def decorate(view):
        view.upload_max_bytes = max_bytes
        return view

    return decorate


class _CappedStream:
    """A request body read through this stops one byte past `limit`: what was read is marked on
    the request (RequestBodyLimitMiddleware answers 413 for it) and the reader gets
    RequestDataTooBig, never a silently cut body."""

    def __init__(self, request, stream, limit: int) -> None:
        self.request, self.stream, self.limit, self.position = request, stream, limit, 0

    def _count(self, data: bytes) -> bytes:
        self.position += len(data)
        if self.position > self.limit:
            self.request.body_over_limit = True
            raise RequestDataTooBig("The request body is larger than this page accepts.")
        return data

    def _size(self, size: int | None) -> int:
        left = self.limit + 1 - self.position  # one byte more than allowed shows it is too long
        return left if size is None or size < 0 else min(size, left)

    def read(self, size: int | None = -1) -> bytes:
        return self._count(self.stream.read(self._size(size)))

    def readline(self, size: int | None = -1) -> bytes:
        return self._count(self.stream.readline(self._size(size)))

    def close(self) -> None:
        self.stream.close()


class RequestBodyLimitMiddleware:
    """The portal's cap on request bodies, for every visitor (signed in or not): a request larger
    than its view accepts is answered 413 with a page (templates/413.html) before anyone reads it,
    CSRF's check included (list this above CsrfViewMiddleware). The cap is
    DATA_UPLOAD_MAX_MEMORY_SIZE (Django's own limit on form fields, and the API's on bodies), or a
    view's declared upload (`accepts_upload`).

    Checked from Content-Length before the body is read. A body without one (chunked) is counted
    while it is read: Django's WSGI handler reads none of such a body, its ASGI handler passes it
    on whole (already buffered by then), and either way no view sees more than the cap."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(request, "body_over_limit", False):  # found while reading, whoever read it
            return self._too_large(request)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        upload = getattr(view_func, "upload_max_bytes", None)
        request.body_limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE if upload is None else upload + UPLOAD_FORM_ALLOWANCE
        request.upload_limit = upload
        try:
            length = int(request.META["CONTENT_LENGTH"])
        except (KeyError, ValueError):
            request._stream = _CappedStream(request, request._stream, request.body_limit)  # Django's body stream
            return None
        if length > request.body_limit:
            return self._too_large(request)
        return None

    def _too_large(self, request):
        upload = getattr(request, "upload_limit", None)
        context = {"upload": upload is not None, "limit": upload or getattr(request, "body_limit", None)}
        return render(request, "413.html", context, status=413)
