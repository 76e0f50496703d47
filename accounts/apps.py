from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and people"

    def ready(self) -> None:
        from accounts import notices

        notices.subscribe()
