"""Helpers other apps' tests use when they need more than the free plan allows."""

from __future__ import annotations

from billing.models import Subscription
from organizations.models import Organization
from organizations.tenancy import service_context


def unlimited_plan(org: Organization) -> None:
    """Put ``org`` on the unlimited ``enterprise`` plan (as a webhook would)."""
    with service_context(reason="test fixture"):
        Subscription.objects.update_or_create(
            organization_id=org.id, defaults={"plan_code": "enterprise", "status": "active"}
        )
