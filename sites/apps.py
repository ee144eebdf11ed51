import uuid

from django.apps import AppConfig


class SitesConfig(AppConfig):
    name = "sites"
    verbose_name = "Sites"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from billing.quotas import register_counter
        from integrations.providers.spec import register
        from sites.providers import LocalProvider

        # Billing meters what the domain apps report (billing imports no site model).
        register_counter("sites", count_sites)
        # Deployments use providers (integrations defines the contract): sites brings
        # the built-in one; integrations registers Netlify/Vercel in its own ready().
        register(LocalProvider())


def count_sites(organization_id: uuid.UUID) -> int:
    """Every role reads every site: counted as the caller."""
    from sites.models import Site

    return Site.objects.filter(organization_id=organization_id).count()
