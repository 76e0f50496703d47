from django.urls import path

from members import views

app_name = "members"

urlpatterns = [
    # Before security's reset route, which would match this path too. Under /accounts/reset/ so the
    # access log redacts the token (portal/gunicorn_logging.py RESET_PATH).
    path("reset/invite-<uidb64>/<token>/", views.invitation_accept, name="invitation-accept"),
    path("users/", views.users, name="users"),
    path("users/invite/", views.user_invite, name="users-invite"),
    path("users/<int:member_id>/", views.user_edit, name="users-edit"),
    path("users/<int:member_id>/deactivate/", views.user_deactivate, name="users-deactivate"),
    path("users/<int:member_id>/reactivate/", views.user_reactivate, name="users-reactivate"),
    path("users/<int:member_id>/resend/", views.user_invitation_resend, name="users-resend"),
    path("users/<int:member_id>/cancel/", views.user_invitation_cancel, name="users-cancel"),
]
