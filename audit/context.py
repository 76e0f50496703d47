"""Who is acting and from where, built once per request and passed to the services as data."""

from dataclasses import dataclass
from typing import Any

from core.ip import get_client_ip


@dataclass(frozen=True)
class AuditContext:
    actor: Any = None  # the signed-in user, when there is one
    actor_token: str = ""  # an API key's public prefix or key id, never a secret
    ip: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request) -> "AuditContext":
        user = getattr(request, "user", None)
        return cls(
            actor=user if user is not None and user.is_authenticated else None,
            ip=get_client_ip(request) or None,
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        )

    @classmethod
    def from_api_request(cls, request) -> "AuditContext":
        """An API request's: the key's holder acting through the key (its public label, never
        the secret), from the client's address."""
        auth = request.auth
        return cls(
            actor=auth.user,
            actor_token=auth.label,
            ip=get_client_ip(request) or None,
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        )


NO_CONTEXT = AuditContext()
