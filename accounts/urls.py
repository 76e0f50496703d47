from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views, views_users

app_name = "accounts"

urlpatterns = [
    path("login/", views.sign_in, name="login"),
    path("login/verify/", views.sign_in_verify, name="login-verify"),
    path("logout/", views.sign_out, name="logout"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password-reset-done",
    ),
    # Before the reset route, which would match this path too. Under /accounts/reset/ so the
    # access log redacts the token (portal/gunicorn_logging.py RESET_PATH).
    path("reset/invite-<uidb64>/<token>/", views_users.invitation_accept, name="invitation-accept"),
    path("reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password-reset-confirm"),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_complete.html"),
        name="password-reset-complete",
    ),
    path("security/", views.security, name="security"),
    path("security/password/", views.password_change, name="password-change"),
    path("security/timeout/", views.session_timeout, name="session-timeout"),
    path("security/sessions/revoke/", views.session_revoke, name="session-revoke"),
    path("security/sessions/end-others/", views.sessions_end_others, name="sessions-end-others"),
    path("security/devices/<int:pk>/forget/", views.device_forget, name="device-forget"),
    path("security/policy/", views.account_policy, name="account-policy"),
    path("security/ip-allowlist/", views.ip_allowlist, name="ip-allowlist"),
    path("security/audit/", views.audit_log, name="audit-log"),
    path("security/two-factor/", views.two_factor_setup, name="two-factor-setup"),
    path("security/two-factor/sms/", views.two_factor_sms, name="two-factor-sms"),
    path("security/two-factor/sms/confirm/", views.two_factor_sms_confirm, name="two-factor-sms-confirm"),
    path("security/two-factor/app/", views.two_factor_totp, name="two-factor-totp"),
    path("security/two-factor/backup-codes/", views.backup_codes, name="backup-codes"),
    path("security/two-factor/disable/", views.two_factor_disable, name="two-factor-disable"),
    path("users/", views_users.users, name="users"),
    path("users/invite/", views_users.user_invite, name="users-invite"),
    path("users/<int:member_id>/", views_users.user_edit, name="users-edit"),
    path("users/<int:member_id>/deactivate/", views_users.user_deactivate, name="users-deactivate"),
    path("users/<int:member_id>/reactivate/", views_users.user_reactivate, name="users-reactivate"),
    path("users/<int:member_id>/resend/", views_users.user_invitation_resend, name="users-resend"),
    path("users/<int:member_id>/cancel/", views_users.user_invitation_cancel, name="users-cancel"),
]
