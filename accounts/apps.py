from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and API keys"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from accounts.authentication import connect_signals
        from accounts.middleware import remember_generation_on_login

        connect_signals()
        user_logged_in.connect(remember_generation_on_login, dispatch_uid="session_generation")
