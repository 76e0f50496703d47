from portal import views

PROBES = {"/healthz": views.healthz, "/readyz": views.readyz}


class HealthCheckMiddleware:
    """Answers the load balancer's probes before host validation and the HTTPS redirect:
    probes address the host by IP, which ALLOWED_HOSTS (rightly) refuses for everything else."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = PROBES.get(request.path_info)
        if probe is not None:
            return probe(request)
        return self.get_response(request)
