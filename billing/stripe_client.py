"""The one way this code talks to Stripe: the official SDK's ``StripeClient``.

The API version is pinned (the payloads we parse have that shape), the base
address comes from ``STRIPE_API_BASE`` (tests point it at a fake Stripe server
on 127.0.0.1), and without ``STRIPE_SECRET_KEY`` there is no client at all:
callers answer 503 ``billing_not_configured``.
"""

from __future__ import annotations

import stripe
from django.conf import settings

from billing.errors import BillingNotConfigured

# The API version our parsing is written against (the SDK 16.1 default).
STRIPE_API_VERSION = "2026-10-28.endive"


def stripe_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def stripe_client() -> stripe.StripeClient:
    if not stripe_configured():
        raise BillingNotConfigured(
            "Billing is not configured on this installation (STRIPE_SECRET_KEY is not set)."
        )
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        stripe_version=STRIPE_API_VERSION,
        base_addresses={
            "api": settings.STRIPE_API_BASE,
            "meter_events": settings.STRIPE_API_BASE,
        },
        max_network_retries=2,
    )


def price_id_for(plan_code: str) -> str | None:
    return settings.STRIPE_PRICE_IDS.get(plan_code)


def plan_for_price(price_id: str) -> str | None:
    for code, price in settings.STRIPE_PRICE_IDS.items():
        if price == price_id:
            return code
    return None
