"""The plan catalog's defaults (seeded by ``migrations/0003_plans.py``; staff may edit
the rows in the admin) and how a subscription's status becomes an entitlement."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

FREE = "free"
GiB = 1024**3

# code -> row defaults. A limit of None means unlimited.
CATALOG: dict[str, dict[str, Any]] = {
    "free": {
        "name": "Free",
        "sort_order": 0,
        "monthly_price_cents": 0,
        "projects": 10,
        "sites": 1,
        "members": 10,
        "api_calls": 10_000,
        "ai_tokens": 100_000,
        "storage_bytes": 1 * GiB,
        "deployments": 20,
        "webhook_endpoints": 1,
        "features": {"custom_domains": False, "priority_support": False},
    },
    "pro": {
        "name": "Pro",
        "sort_order": 1,
        "monthly_price_cents": 2_000,
        "projects": 100,
        "sites": 10,
        "members": 25,
        "api_calls": 250_000,
        "ai_tokens": 2_000_000,
        "storage_bytes": 50 * GiB,
        "deployments": 500,
        "webhook_endpoints": 10,
        "features": {"custom_domains": True, "priority_support": False},
    },
    "studio": {
        "name": "Studio",
        "sort_order": 2,
        "monthly_price_cents": 8_000,
        "projects": 1_000,
        "sites": 50,
        "members": 100,
        "api_calls": 2_000_000,
        "ai_tokens": 20_000_000,
        "storage_bytes": 500 * GiB,
        "deployments": 5_000,
        "webhook_endpoints": 50,
        "features": {"custom_domains": True, "priority_support": True},
    },
    "enterprise": {
        "name": "Enterprise",
        "sort_order": 3,
        "monthly_price_cents": 0,
        "projects": None,
        "sites": None,
        "members": None,
        "api_calls": None,
        "ai_tokens": None,
        "storage_bytes": None,
        "deployments": None,
        "webhook_endpoints": None,
        "features": {"custom_domains": True, "priority_support": True, "sso": True},
    },
}

# Stripe statuses that grant the subscribed plan.
GRANTING = frozenset({"active", "trialing"})


def effective_plan_code(
    *,
    plan_code: str,
    status: str,
    past_due_since: datetime | None,
    now: datetime,
    grace_days: int,
) -> str:
    """The plan an organization is entitled to right now.

    active/trialing: the plan; past_due: the plan for ``grace_days`` after it became
    past due; anything else (canceled, unpaid, incomplete, incomplete_expired,
    paused): free. A downgrade deletes nothing; over-limit creates are refused.
    """
    if status in GRANTING:
        return plan_code
    if (
        status == "past_due"
        and past_due_since is not None
        and now < past_due_since + timedelta(days=grace_days)
    ):
        return plan_code
    return FREE
