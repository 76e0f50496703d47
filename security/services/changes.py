"""The owner's security e-mail for each sensitive change: a second factor set up, replaced or
turned off, new backup codes, a new API key or secret. Sent through the hub like every security
alert (`audit.services.security_alert`, delivered by `accounts.notices.owner_alert`), but one
e-mail per change rather than at most one an hour: each is a deliberate act worth hearing of."""

from django.utils import timezone

from accounts.models import User
from audit.context import AuditContext
from audit.services import security_alert
from security.services.devices import describe_user_agent


def change_alert(*, user: User, change: str, context: AuditContext) -> None:
    account = user.account
    if account is None:
        return
    security_alert(
        account=account,
        kind="change",
        subject=f"Security change on your SMS Portal account: {change[:1].lower()}{change[1:]}",
        body=(
            f"{change}.\n\n"
            f"User: {user.email}\n"
            f"Time: {timezone.now():%Y-%m-%d %H:%M:%S} UTC\n"
            f"IP address: {context.ip or 'unknown'}\n"
            f"Browser: {describe_user_agent(context.user_agent or '')}\n\n"
            "The change needed a recent sign-in or re-authentication (the password or the second factor). "
            "If nobody you trust made it, sign in now: change the password, sign out the other sessions on the "
            "security page, and check the second factors and the API keys."
        ),
        hourly=False,
    )
