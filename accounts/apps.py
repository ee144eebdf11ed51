from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts import schema  # noqa: F401  (registers the OpenAPI auth extension)
        from accounts.models import PASSWORD_CHANGED
        from accounts.services import password_changed_sessions_end

        # SECURITY: a changed password ends the user's sessions (User.save runs this).
        if password_changed_sessions_end not in PASSWORD_CHANGED:
            PASSWORD_CHANGED.append(password_changed_sessions_end)
