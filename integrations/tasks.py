"""Background work of the integrations app (Django Tasks API)."""

from __future__ import annotations

from django_tasks import task


@task()
def deliver_webhooks() -> int:
    """Send every webhook delivery that is due (see :mod:`integrations.webhooks`)."""
    from integrations.webhooks import deliver_due

    return deliver_due()
