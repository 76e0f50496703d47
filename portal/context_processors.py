"""What every portal page may show, from the settings: the address the page chrome sends customers
to (the suspended-account banner, templates/_suspended.html)."""

from django.conf import settings
from django.http import HttpRequest


def support(request: HttpRequest) -> dict[str, str]:
    return {"support_email": settings.SUPPORT_EMAIL}
