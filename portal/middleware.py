from django.conf import settings
from django.core.handlers.base import BaseHandler

from inbound import hooks as inbound_hooks
from messaging import hooks
from portal import views

# Machine endpoints answered before the rest of the middleware: no session, user, CSRF or
# security policy applies to them, and skipping all that keeps them cheap (a load balancer polls
# the probes; Kannel calls the delivery-report hook twice for every message, and the inbound hook
# for every SMS received).
EARLY = {
    "/healthz": views.healthz,
    "/readyz": views.readyz,
    "/hooks/kannel/dlr": hooks.kannel_dlr,
    "/hooks/kannel/mo": inbound_hooks.kannel_mo,
}


class _ApiHandler(BaseHandler):
    """The API's own middleware chain (settings.API_MIDDLEWARE), loaded the way Django loads
    settings.MIDDLEWARE, so process_view and process_exception hooks work as usual."""

    def __init__(self):
        original = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_MIDDLEWARE
        try:
            self.load_middleware()
        finally:
            settings.MIDDLEWARE = original

    def __call__(self, request):
        return self._middleware_chain(request)


class EarlyEndpointsMiddleware:
    """First in MIDDLEWARE: routes each request to one of three paths.

    - Probes and gateway callbacks are answered at once, before host validation, the HTTPS
      redirect, sessions and authentication: probes address the host by IP, which ALLOWED_HOSTS
      (rightly) refuses for everything else, and the callbacks carry their own proof (a
      per-message token, a source IP).
    - The API (`API_PATH_PREFIXES`) runs `API_MIDDLEWARE`: host validation, HTTPS redirect and
      security headers, but no sessions, CSRF cookies, messages, OTP or portal policy. API
      requests authenticate with keys in DRF (apikeys/authentication.py) and never read a
      session, so that machinery would only cost time on the hottest path.
    - Everything else (the portal, the admin) runs the rest of MIDDLEWARE.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.api = _ApiHandler()
        self.api_prefixes = tuple(settings.API_PATH_PREFIXES)

    def __call__(self, request):
        path = request.path_info
        view = EARLY.get(path)
        if view is not None:
            return view(request)
        if path.startswith(self.api_prefixes):
            return self.api(request)
        return self.get_response(request)
