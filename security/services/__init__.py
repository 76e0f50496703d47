"""Portal security's services, by concern. Callers import from here (`from security import services`)."""

from security.services.allowlists import (  # noqa: F401
    allowlist_cache_key,
    allowlist_shared_key,
    ip_allowlist_changed,
    ip_allowlist_networks,
    ip_allowlist_replace,
    ip_is_allowed,
    ip_refused,
    parse_allowlist,
)
from security.services.changes import (  # noqa: F401
    change_alert,
)
from security.services.devices import (  # noqa: F401
    describe_user_agent,
    device_hash,
    known_device_check,
    known_device_forget,
)
from security.services.otp import (  # noqa: F401
    BACKUP_CODE_COUNT,
    backup_codes_left,
    backup_codes_regenerate,
    confirmed_devices,
    has_two_factor,
    otp_sms_send,
    second_factor_methods,
    sms_device_confirm,
    sms_device_start,
    totp_config_svg,
    totp_device_confirm,
    totp_device_start,
    totp_secret_base32,
    two_factor_disable,
    two_factor_required,
)
from security.services.passwords import (  # noqa: F401
    PASSWORD_HISTORY_KEEP,
    password_age_reminders_send,
    password_change_forced,
    password_confirm,
    password_expired,
    password_reset_email_send,
    password_reset_request,
    password_set,
)
from security.services.policy import (  # noqa: F401
    account_policy_update,
)
from security.services.preferences import user_time_zone_set  # noqa: F401
from security.services.reauth import (  # noqa: F401
    reauth_methods,
    reauth_sms_send,
    reauthenticate,
)
from security.services.sessions import (  # noqa: F401
    session_revoke,
    session_timeout_choices,
    session_timeout_minutes,
    session_timeout_set,
    sessions_end,
    sessions_end_others,
)
from security.services.signin import (  # noqa: F401
    OTP_FAILURE_LIMIT,
    OTP_FAILURE_WINDOW_SECONDS,
    OTP_LOCKED_MESSAGE,
    PENDING_KEY,
    SignInResult,
    pending_sign_in,
    second_step_locked,
    sign_in_after_password,
    sign_in_complete,
    sign_in_failed,
    sign_in_locked_out,
    sign_in_resend,
    sign_in_verify,
    sms_sent,
)
