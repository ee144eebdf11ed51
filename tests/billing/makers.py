"""The route matrix's object makers for the billing routes.

:data:`BILLING_MAKERS` gives a value for every URL kwarg the billing routes
introduce (kwarg names are global across apps: ``tests/security/objects.py``
refuses a name two apps both claim). Makers are idempotent and also fill every
billing table with rows, for the raw-SQL isolation tests.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from billing.models import (
    CostEstimate,
    Invoice,
    QuotaOverride,
    Subscription,
    SubscriptionEvent,
    UsageCounter,
)
from billing.quotas import period_start
from organizations.tenancy import service_context
from tests.helpers import Personas

# The billing routes name no object in their URLs.
BILLING_MAKERS: dict[str, Callable[[Personas], Any]] = {}


def fill_tables(personas: Personas) -> None:
    """Put rows in the billing tables no URL kwarg reaches (the makers fill the rest)."""
    org_id = personas.org.id
    with service_context(reason="test fixture"):
        Subscription.objects.get_or_create(organization_id=org_id)
        if not SubscriptionEvent.objects.filter(organization_id=org_id).exists():
            SubscriptionEvent.objects.create(
                organization_id=org_id, action="fixture", stripe_event_id="evt_fixture"
            )
        Invoice.objects.get_or_create(
            organization_id=org_id,
            stripe_invoice_id="in_fixture",
            defaults={"status": "paid", "currency": "usd", "total": 2000},
        )
        UsageCounter.objects.get_or_create(
            organization_id=org_id,
            metric="ai_tokens",
            period_start=period_start(),
            defaults={"used": 1},
        )
        QuotaOverride.objects.get_or_create(
            organization_id=org_id,
            metric="webhook_endpoints",
            defaults={
                "limit": 5,
                "reason": "fixture",
                "expires_at": timezone.now() + timedelta(days=30),
            },
        )
        if not CostEstimate.objects.filter(organization_id=org_id).exists():
            # One by a member and one by the owner: a member reads their own only.
            for author in ("member", "owner"):
                CostEstimate.objects.create(
                    organization_id=org_id,
                    inputs={},
                    line_items=[],
                    total=Decimal("1.00"),
                    currency="USD",
                    formula_version="fixture",
                    author=personas.user(author),
                )
