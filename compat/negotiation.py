"""What both dialects share: their answers are JSON whatever the client asks for."""

from rest_framework.negotiation import DefaultContentNegotiation


class JsonAlways(DefaultContentNegotiation):
    """The dialect's first renderer, whatever `Accept` or `?format=` say (COMPAT C.1): DRF reads
    `format` as its renderer override, but SMSAPI's `format` is its own parameter, and SMSGate's
    clients read JSON whatever they send. Never a 404 or 406 from negotiation; parsers are chosen
    as usual."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
