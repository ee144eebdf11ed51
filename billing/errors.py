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


class QuotaExceeded(DomainError):
    status_code = 402
    code = "quota_exceeded"

    def __init__(self, *, metric: str, limit: int, usage: int, requested: int = 1) -> None:
        super().__init__(
            f"Your plan allows {limit} {metric.replace('_', ' ')}; this organization uses"
            f" {usage}. Upgrade the plan or free some up.",
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
