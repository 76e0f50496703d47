"""Sudo mode: a sensitive change needs a recent authentication, not just a signed-in session.

The session keeps when its user last proved who they are: at sign-in (after the password, or
after the second factor when there is one) and on the re-authentication page (the password, or
a code of the current second factor). A view decorated with `sudo_required` runs only while that
is at most `SECURITY_SUDO_SECONDS` old (GitHub's "sudo mode"); otherwise it sends the browser to
`security:reauthenticate`, which comes back to the page afterwards. A stolen session cookie
alone therefore cannot enrol a second factor, see backup codes or make an API key.
"""

from datetime import datetime
from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

AUTHENTICATED_AT_KEY = "security.authenticated_at"


def sudo_mark(session: SessionBase) -> None:
    """The user of this session has just proved who they are."""
    session[AUTHENTICATED_AT_KEY] = timezone.now().isoformat()


def sudo_active(session: SessionBase) -> bool:
    """Whether the session's last authentication is recent enough for a sensitive change."""
    try:
        at = datetime.fromisoformat(session.get(AUTHENTICATED_AT_KEY) or "")
    except ValueError:
        return False
    return (timezone.now() - at).total_seconds() <= settings.SECURITY_SUDO_SECONDS


def reauthenticate_url(next_url: str) -> str:
    return reverse("security:reauthenticate") + "?" + urlencode({"next": next_url})


def sudo_required(view):
    """A signed-in user with a recent authentication; anyone else signs in or re-authenticates
    first and comes back here (a form sent meanwhile is shown again, not acted on)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not sudo_active(request.session):
            if request.method == "POST":
                messages.info(request, "Nothing was changed yet: confirm it's you, then send the form again.")
            return redirect(reauthenticate_url(request.get_full_path()))
        return view(request, *args, **kwargs)

    return login_required(wrapped)
