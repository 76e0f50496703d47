from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer

PROBLEM_CONTENT_TYPE = "application/problem+json"


class ProblemJSONRenderer(JSONRenderer):
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
            and type(renderers[0]) is JSONRenderer
            and meta.get("HTTP_ACCEPT", "").strip() in self.COMMON
            and "format=" not in meta.get("QUERY_STRING", "")
        ):
            renderer = renderers[0]
            return renderer, renderer.media_type
        return super().select_renderer(request, renderers, format_suffix)
