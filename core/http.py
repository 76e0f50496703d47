"""HTTP rules applied to every answer of the portal (and, where said, of the API), as middleware
wired in settings.MIDDLEWARE and settings.API_MIDDLEWARE: one place each, not per view."""

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
