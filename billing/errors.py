"""Error codes the billing app answers (beyond those of ``config/errors.py``)."""

from __future__ import annotations

from typing import Any

from config.errors import DomainError

ERROR_CODES: dict[str, tuple[int, str]] = {
    "quota_exceeded": (
        402,
        "The organization's plan does not allow more of this metric; `details` names the"
        " metric, the limit and the current usage.",
    ),
    "billing_not_configured": (
        503,
        "Stripe is not configured on this installation (no STRIPE_SECRET_KEY, or no price"
        " id for the plan / no STRIPE_WEBHOOK_SECRET for webhooks).",
    ),
    "billing_no_customer": (
        409,
        "The organization has no Stripe customer yet: start a checkout first.",
    ),
    "unknown_plan": (400, "The plan is not in the catalog or cannot be bought."),
    "stripe_unavailable": (502, "Stripe answered with an error or could not be reached."),
    "invalid_signature": (400, "The Stripe-Signature header is missing, wrong or too old."),
    "invalid_event": (400, "A correctly signed body that is not a Stripe event."),
    "webhook_failed": (500, "A Stripe event could not be applied; Stripe retries it."),
}


# metric -> (one, several, counted per calendar month)
METRIC_NOUNS: dict[str, tuple[str, str, bool]] = {
    "projects": ("project", "projects", False),
    "sites": ("site", "sites", False),
    "members": ("member or open invitation", "members and open invitations", False),
    "api_calls": ("API call", "API calls", True),
    "ai_tokens": ("AI token", "AI tokens", True),
    "deployments": ("deployment", "deployments", True),
    "webhook_endpoints": ("webhook endpoint", "webhook endpoints", False),
}


def quantity(metric: str, amount: int) -> str:
    """``amount`` of ``metric`` as a person writes it: "1 site", "2 webhook endpoints",
    "10,000 API calls", "1 GiB of storage"."""
    if metric == "storage_bytes":
        size, unit = float(amount), "bytes"
        for next_unit in ("KiB", "MiB", "GiB", "TiB"):
            if size < 1024:
                break
            size, unit = size / 1024, next_unit
        number = f"{size:,.1f}".removesuffix(".0") if unit != "bytes" else f"{amount:,}"
        return f"{number} {unit if unit != 'bytes' or amount != 1 else 'byte'} of storage"
    one, several, _ = METRIC_NOUNS.get(metric, (metric, metric, False))
    return f"{amount:,} {one if amount == 1 else several}"


class QuotaExceeded(DomainError):
    status_code = 402
    code = "quota_exceeded"

    def __init__(self, *, metric: str, limit: int, usage: int, requested: int = 1) -> None:
        monthly = METRIC_NOUNS.get(metric, ("", "", False))[2]
        period = " a month" if monthly else ""
        used = "has used" if monthly else "has"
        this_month = " this month" if monthly else ""
        in_use = quantity(metric, usage) if metric == "storage_bytes" else f"{usage:,}"
        super().__init__(
            f"Your plan allows {quantity(metric, limit)}{period}; this organization {used}"
            f" {in_use}{this_month}. Upgrade the plan or free some up.",
            details={"metric": metric, "limit": limit, "usage": usage, "requested": requested},
        )


class BillingNotConfigured(DomainError):
    status_code = 503
    code = "billing_not_configured"


class StripeUnavailable(DomainError):
    status_code = 502
    code = "stripe_unavailable"


def not_configured(what: str = "Stripe is not configured on this installation.") -> Any:
    return BillingNotConfigured(what)
