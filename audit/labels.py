"""What each audit event is called on the portal's pages: one label per event code.

The code (`auth.login.success`) stays what is stored, filtered on and exported in the CSV; people
read the label. tests/audit/test_labels.py reads the code base and fails on an event code that
has no label here.
"""

LABELS: dict[str, str] = {
    # Signing in
    "auth.login.success": "Signed in",
    "auth.login.failed": "Sign-in failed",
    "auth.lockout": "Sign-in locked after repeated failures",
    "auth.new_device": "Signed in from a new browser",
    "auth.password_changed": "Password changed",
    "auth.reauth.success": "Password confirmed for a sensitive change",
    "auth.reauth.failed": "Wrong password for a sensitive change",
    # Second factor
    "2fa.enrolled": "Two-factor authentication turned on",
    "2fa.disabled": "Two-factor authentication turned off",
    "2fa.failed": "Wrong two-factor code",
    "2fa.locked": "Two-factor codes locked after repeated failures",
    "2fa.backup_code_used": "Backup code used to sign in",
    "2fa.backup_codes_generated": "New backup codes made",
    # Security settings
    "security.session_revoked": "Session signed out",
    "security.sessions_ended": "Signed out of all other devices",
    "security.session_timeout_changed": "Session timeout changed",
    "security.device_forgotten": "Known browser forgotten",
    "security.ip_allowlist_changed": "IP allowlist changed",
    "security.ip_refused": "Refused: address not on the IP allowlist",
    "security.policy_changed": "Account security policy changed",
    "security.time_zone_changed": "Time zone changed",
    # API keys
    "api_token.created": "API token created",
    "api_token.enabled": "API token enabled",
    "api_token.disabled": "API token disabled",
    "api_token.deleted": "API token deleted",
    "api_token.used_from_new_ip": "API token used from a new address",
    "api_credential.created": "API credential created",
    "api_credential.enabled": "API credential enabled",
    "api_credential.disabled": "API credential disabled",
    "api_credential.deleted": "API credential deleted",
    "api_credential.reset": "API credential secret reset",
    "api_credential.used_from_new_ip": "API credential used from a new address",
    # Users
    "account.created": "Account opened",
    "account.settings_changed": "Account settings changed",
    "subuser.invited": "User invited",
    "subuser.invitation_resent": "Invitation sent again",
    "subuser.invitation_canceled": "Invitation canceled",
    "subuser.invitation_not_sent": "Invitation e-mail could not be sent",
    "subuser.invitation_accepted": "Invitation accepted",
    "subuser.updated": "User's permissions or limits changed",
    "user.deactivated": "User deactivated",
    "user.reactivated": "User reactivated",
    # Messages, sender names, credit
    "sms.test_sent": "Free test message sent",
    "messages.held": "Messages held for review",
    "messages.released": "Held messages released",
    "messages.rejected": "Held messages rejected",
    "sender_name.requested": "Sender name requested",
    "sender_name.pending": "Sender name back to waiting for approval",
    "sender_name.approved": "Sender name approved",
    "sender_name.rejected": "Sender name rejected",
    "billing.topup": "Credit topped up",
    "billing.adjustment": "Credit adjusted",
    "billing.debit": "Credit charged",
    "billing.refund": "Credit refunded",
    "billing.low_balance": "Balance fell below the warning threshold",
    "billing.low_balance_threshold_changed": "Low-balance warning changed",
    "traffic.alert": "Hourly sending volume over the alert threshold",
    # Contacts, inbound, Verify, webhooks
    "contacts.opt_out_added": "Number opted out",
    "contacts.opt_out_removed": "Opt-out removed",
    "contacts.opt_outs_imported": "Opt-outs imported",
    "inbound.number_assigned": "Inbound number assigned",
    "inbound.number_unassigned": "Inbound number removed",
    "inbound.settings_changed": "STOP/START reply settings changed",
    "verify.template_changed": "Verify message template changed",
    "webhook.created": "Webhook endpoint added",
    "webhook.enabled": "Webhook endpoint enabled",
    "webhook.disabled": "Webhook endpoint disabled",
    "webhook.deleted": "Webhook endpoint deleted",
    "webhook.secret_rotated": "Webhook signing secret rotated",
    # Staff
    "admin.added": "Added by staff",
    "admin.changed": "Changed by staff",
    "admin.deleted": "Deleted by staff",
}


def action_label(action: str) -> str:
    """The event's label; an unknown code (an old event whose code is gone) reads as its words."""
    return LABELS.get(action) or action.replace(".", " · ").replace("_", " ").capitalize()
