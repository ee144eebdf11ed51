from typing import Any

from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from audit import events
        from billing.quotas import register_counter
        from integrations import providers
        from integrations.api import schema  # noqa: F401 - registers the OpenAPI auth scheme
        from organizations import hooks

        providers.register()  # Netlify/Vercel deployment adapters for sites
        hooks.register(hooks.SERVE_BANNER, serve_banner)
        # Outbound webhooks consume the audit trail's committed events (audit.events).
        events.subscribe(fan_out_committed, when=events.org_event)
        # Billing meters what the domain apps report (billing imports no integrations model).
        register_counter("webhook_endpoints", count_webhook_endpoints)


def count_webhook_endpoints(organization_id: Any) -> int:
    """Endpoints are created and read by admins and up: counted as the caller."""
    from integrations.models import WebhookEndpoint

    return WebhookEndpoint.objects.filter(organization_id=organization_id).count()


def serve_banner(*, base_url: str) -> list[str]:
    """``manage.py serve``'s line for the demo API key ``seed`` creates."""
    from integrations.apikeys import DEMO_API_KEY

    return [f"Demo API key {DEMO_API_KEY}   (acme, member role; development only)"]


def fan_out_committed(event: Any, *, using: str) -> None:
    """Create the webhook deliveries of a committed organization event."""
    from integrations.webhooks import fan_out

    fan_out(event.id, using=using)
