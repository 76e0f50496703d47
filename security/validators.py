"""Password rules of SPEC §4.3 beyond Django's own validators."""

from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError


class MaximumLengthValidator:
    def __init__(self, max_length: int = 128) -> None:
        self.max_length = max_length

    def validate(self, password, user=None) -> None:
        if len(password) > self.max_length:
            raise ValidationError(
                f"This password is too long. It must contain at most {self.max_length} characters.",
                code="password_too_long",
            )

    def get_help_text(self) -> str:
        return f"Your password must contain at most {self.max_length} characters."


class UppercaseValidator:
    def validate(self, password, user=None) -> None:
        if not any(ch.isupper() for ch in password):
            raise ValidationError("This password must contain at least one capital letter.", code="password_no_upper")

    def get_help_text(self) -> str:
        return "Your password must contain at least one capital letter."


class DigitValidator:
    def validate(self, password, user=None) -> None:
        if not any(ch.isdigit() for ch in password):
            raise ValidationError("This password must contain at least one digit.", code="password_no_digit")

    def get_help_text(self) -> str:
        return "Your password must contain at least one digit."


class PasswordHistoryValidator:
    """Not the current password nor one of the `history` before it."""

    def __init__(self, history: int = 5) -> None:
        self.history = history

    def validate(self, password, user=None) -> None:
        if user is None or user.pk is None:
            return
        hashes = [user.password] if user.password else []
        hashes += list(user.password_history.values_list("password", flat=True)[: self.history - 1])
        if any(check_password(password, encoded) for encoded in hashes):
            raise ValidationError(
                f"This password was used recently. Choose one that is not among your last {self.history}.",
                code="password_reused",
            )

    def get_help_text(self) -> str:
        return f"Your password must differ from your last {self.history} passwords."
