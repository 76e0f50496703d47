from rest_framework.renderers import JSONRenderer

PROBLEM_CONTENT_TYPE = "application/problem+json"


class ProblemJSONRenderer(JSONRenderer):
    """Lets a client that accepts only `application/problem+json` still get its error documents."""

    media_type = PROBLEM_CONTENT_TYPE
