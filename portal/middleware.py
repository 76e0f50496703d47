from messaging import hooks
from portal import views

# Machine endpoints answered before the rest of the middleware: no session, user, CSRF or
# security policy applies to them, and skipping all that keeps them cheap (a load balancer polls
# the probes; Kannel calls the delivery-report hook twice for every message).
EARLY = {
    "/healthz": views.healthz,
    "/readyz": views.readyz,
    "/hooks/kannel/dlr": hooks.kannel_dlr,
}


class EarlyEndpointsMiddleware:
    """Answers probes and gateway callbacks before host validation, the HTTPS redirect, sessions
    and authentication: probes address the host by IP, which ALLOWED_HOSTS (rightly) refuses for
    everything else, and the callbacks carry their own proof (a per-message token, a source IP)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = EARLY.get(request.path_info)
        if view is not None:
            return view(request)
        return self.get_response(request)
