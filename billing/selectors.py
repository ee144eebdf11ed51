"""Reads of the billing app."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from billing.metering import pending_api_calls
from billing.models import (
    COUNTED_METRICS,
    METERED_METRICS,
    METRICS,
    CostEstimate,
    Invoice,
    Plan,
    Subscription,
    UsageCounter,
)
from billing.quotas import COUNTERS, limits_for, period_start
from billing.stripe_client import price_id_for, stripe_configured


def plan_catalog() -> list[dict[str, Any]]:
    """The plans, cheapest first, as a pricing page shows them: code, name, monthly
    price, limits (``None``: unlimited), features, and whether checkout sells it here
    (a Stripe price is configured for it). One query; no tenant data."""
    return [
        {
            "code": plan.code,
            "name": plan.name,
            "monthly_price_cents": plan.monthly_price_cents,
            "limits": plan.limits(),
            "features": plan.features,
            "purchasable": stripe_configured() and price_id_for(plan.code) is not None,
        }
        for plan in Plan.objects.order_by("sort_order", "code")
    ]


def usage_for(organization_id: uuid.UUID) -> dict[str, int]:
    """What the organization uses of every metric (counted now; metered this month, with
    this process's buffered API calls)."""
    usage = {metric: COUNTERS[metric](organization_id) for metric in sorted(COUNTED_METRICS)}
    rows = dict(
        UsageCounter.objects.filter(
            organization_id=organization_id, period_start=period_start()
        ).values_list("metric", "used")
    )
    for metric in sorted(METERED_METRICS):
        usage[metric] = int(rows.get(metric, 0))
    usage["api_calls"] += pending_api_calls(organization_id)
    return {metric: usage[metric] for metric in METRICS}


def usage_report(*, organization_id: uuid.UUID) -> dict[str, Any]:
    """Plan in force, limit and use of every metric (any member may read this)."""
    state, limits = limits_for(organization_id)
    return {
        "plan": state.plan,
        "limits": limits,
        "usage": usage_for(organization_id),
        "period_start": period_start(),
    }


def billing_overview(*, organization_id: uuid.UUID) -> dict[str, Any]:
    """The usage report plus the subscription (owners, admins and billing members)."""
    report = usage_report(organization_id=organization_id)
    subscription = Subscription.objects.get(organization_id=organization_id)
    grace_until = None
    if subscription.status == Subscription.Status.PAST_DUE and subscription.past_due_since:
        grace_until = subscription.past_due_since + timedelta(days=settings.BILLING_GRACE_DAYS)
    return {
        **report,
        "subscribed_plan": subscription.plan_code,
        "status": subscription.status,
        "current_period_start": subscription.current_period_start,
        "current_period_end": subscription.current_period_end,
        "cancel_at_period_end": subscription.cancel_at_period_end,
        "trial_end": subscription.trial_end,
        "grace_until": grace_until,
        "billing_configured": stripe_configured(),
    }


def invoices_of(*, organization_id: uuid.UUID) -> QuerySet[Invoice]:
    return Invoice.objects.filter(organization_id=organization_id)


def cost_estimates_of(*, organization_id: uuid.UUID) -> QuerySet[CostEstimate]:
    """RLS narrows this to the caller's own estimates unless they are an owner or admin."""
    return CostEstimate.objects.filter(organization_id=organization_id)
