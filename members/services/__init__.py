"""Sub-user management, by concern. Callers import from here (`from members import services`)."""

from members.services.changes import (  # noqa: F401
    UNCHANGED,
    subuser_deactivate,
    subuser_reactivate,
    subuser_update,
    user_deactivate,
)
from members.services.invitations import (  # noqa: F401
    INVITATION_TIMEOUT,
    INVITES_PER_ACCOUNT_PER_HOUR,
    RESENDS_PER_INVITEE_PER_HOUR,
    InvitationTokenGenerator,
    invitation_accept,
    invitation_email_send,
    invitation_token_generator,
    invitation_user,
    subuser_invitation_cancel,
    subuser_invitation_resend,
    subuser_invite,
)
from members.services.rules import (  # noqa: F401
    LIMIT_FIELDS,
    grantable_permissions,
    member_state,
    subuser_check_manageable,
)
