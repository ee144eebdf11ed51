import uuid

from django.apps import AppConfig


class SitesConfig(AppConfig):
    name = "sites"
    verbose_name = "Sites"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from billing.quotas import register_counter

        # Billing meters what the domain apps report (billing imports no site model).
        register_counter("sites", count_sites)


def count_sites(organization_id: uuid.UUID) -> int:
    """Every role reads every site: counted as the caller."""
    from sites.models import Site

    return Site.objects.filter(organization_id=organization_id).count()
