from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from integrations import providers
        from integrations.api import schema  # noqa: F401 - registers the OpenAPI auth scheme

        providers.register()  # Netlify/Vercel deployment adapters for sites
