from django.contrib.auth.backends import ModelBackend

from accounts.models import User


class AccountBackend(ModelBackend):
    """Django's model backend (it hashes a dummy password for unknown e-mails, so the answer
    takes as long either way), loading the user with its account in one query per request."""

    def get_user(self, user_id):
        try:
            user = User.objects.select_related("membership__account").get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
