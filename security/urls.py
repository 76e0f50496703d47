from django.contrib.auth import views as auth_views
from django.urls import path

from security.views import pages, reauth, signin

app_name = "security"

urlpatterns = [
    path("login/", signin.sign_in, name="login"),
    path("login/verify/", signin.sign_in_verify, name="login-verify"),
    path("logout/", signin.sign_out, name="logout"),
    path("password-reset/", signin.PasswordResetView.as_view(), name="password-reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="security/password_reset_done.html"),
        name="password-reset-done",
    ),
    # Under /accounts/reset/ so the access log redacts the token (portal/gunicorn_logging.py
    # RESET_PATH). The invitation route (members.urls, included first) shares the prefix.
    path("reset/<uidb64>/<token>/", signin.PasswordResetConfirmView.as_view(), name="password-reset-confirm"),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="security/password_reset_complete.html"),
        name="password-reset-complete",
    ),
    path("security/", pages.security, name="security"),
    path("security/reauthenticate/", reauth.reauthenticate, name="reauthenticate"),
    path("security/password/", pages.password_change, name="password-change"),
    path("security/timeout/", pages.session_timeout, name="session-timeout"),
    path("security/time-zone/", pages.time_zone, name="time-zone"),
    path("security/sessions/revoke/", pages.session_revoke, name="session-revoke"),
    path("security/sessions/end-others/", pages.sessions_end_others, name="sessions-end-others"),
    path("security/devices/<int:pk>/forget/", pages.device_forget, name="device-forget"),
    path("security/policy/", pages.account_policy, name="account-policy"),
    path("security/ip-allowlist/", pages.ip_allowlist, name="ip-allowlist"),
    path("security/audit/", pages.audit_log, name="audit-log"),
    path("security/two-factor/", pages.two_factor_setup, name="two-factor-setup"),
    path("security/two-factor/sms/", pages.two_factor_sms, name="two-factor-sms"),
    path("security/two-factor/sms/confirm/", pages.two_factor_sms_confirm, name="two-factor-sms-confirm"),
    path("security/two-factor/app/", pages.two_factor_totp, name="two-factor-totp"),
    path("security/two-factor/backup-codes/", pages.backup_codes, name="backup-codes"),
    path("security/two-factor/disable/", pages.two_factor_disable, name="two-factor-disable"),
]
