"""Known browsers: a sign-in from a new one is e-mailed to the user."""

import hashlib
import re
import secrets

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import User
from accounts.notices import user_email
from audit.context import NO_CONTEXT, AuditContext
from audit.services import audit_record
from core.errors import NotFound
from core.ip import get_client_ip
from security.models import (
    KnownDevice,
)


def device_hash(device_id: str) -> str:
    return hashlib.sha256(device_id.encode()).hexdigest()


def known_device_check(*, request: HttpRequest, user: User) -> None:
    """Recognise this browser by its signed cookie; a browser new to this user gets an e-mail."""
    device_id = request.get_signed_cookie(settings.DEVICE_COOKIE_NAME, default=None, salt="accounts.device")
    if not device_id:
        device_id = secrets.token_urlsafe(32)
    request.device_cookie = device_id  # the view's response sets (or refreshes) the cookie
    ip = get_client_ip(request) or None
    agent = request.META.get("HTTP_USER_AGENT", "")[:300]
    digest = device_hash(device_id)
    updated = KnownDevice.objects.filter(user=user, device_hash=digest).update(
        last_seen=timezone.now(), ip=ip, user_agent=agent
    )
    if updated:
        return
    KnownDevice.objects.create(user=user, device_hash=digest, ip=ip, user_agent=agent)
    audit_record(action="auth.new_device", actor=user, request=request, data={"browser": describe_user_agent(agent)})
    user_email(
        user=user,
        subject="New sign-in to your SMS Portal account",
        body=(
            f"Your account {user.email} was just signed in to from a browser it had not been used from before.\n\n"
            f"Time: {timezone.now():%Y-%m-%d %H:%M:%S} UTC\n"
            f"IP address: {ip or 'unknown'}\n"
            f"Browser: {describe_user_agent(agent)}\n\n"
            "If this was you, there is nothing to do. If not, change your password now and end all other "
            "sessions on the security page."
        ),
    )


def known_device_forget(*, user: User, device_pk: int, context: AuditContext = NO_CONTEXT) -> None:
    deleted, _ = KnownDevice.objects.filter(user=user, pk=device_pk).delete()
    if not deleted:
        raise NotFound("That device is not in your list.", code="not_found")
    audit_record(action="security.device_forgotten", actor=user, context=context)


def describe_user_agent(agent: str) -> str:
    """A short human name for a User-Agent: "Chrome 120 on Windows"."""
    browser = "Unknown browser"
    for pattern, name in (
        (r"Edg/(\d+)", "Edge"),
        (r"OPR/(\d+)", "Opera"),
        (r"Firefox/(\d+)", "Firefox"),
        (r"(?:HeadlessChrome|Chrome|Chromium)/(\d+)", "Chrome"),
        (r"Version/(\d+).*Safari/", "Safari"),
        (r"curl/(\d+)", "curl"),
    ):
        match = re.search(pattern, agent)
        if match:
            browser = f"{name} {match.group(1)}"
            break
    system = next(
        (name for key, name in (("Windows", "Windows"), ("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iPadOS"),
                                ("Mac OS X", "macOS"), ("Linux", "Linux")) if key in agent),
        "",
    )  # fmt: skip
    return f"{browser} on {system}" if system else browser
