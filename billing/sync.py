"""``billing_sync``: reconcile subscriptions and invoices from Stripe (missed webhooks).

Reads the customer's subscriptions and invoices through the SDK and applies
them like webhooks do, in the service context. What Stripe answers now is at
least as new as any event already applied, so the subscription's
``last_event_created`` moves to the time of the sync: a webhook older than the
sync that arrives afterwards changes nothing.
"""

from __future__ import annotations

from typing import Any

import stripe
from django.utils import timezone

from billing.errors import StripeUnavailable
from billing.models import Subscription, SubscriptionEvent
from billing.services import invoice_upsert, subscription_apply, subscription_fields_from_stripe
from billing.stripe_client import stripe_client
from config.errors import NotFound
from organizations.models import Organization
from organizations.tenancy import service_context

# Which of a customer's subscriptions is "the" subscription: a live one first.
_PREFERENCE = ["active", "trialing", "past_due", "unpaid", "paused", "incomplete"]


def _pick(subscriptions: list[Any]) -> Any | None:
    def rank(sub: Any) -> tuple[int, int]:
        status = sub.get("status")
        order = _PREFERENCE.index(status) if status in _PREFERENCE else len(_PREFERENCE)
        return (order, -int(sub.get("created") or 0))

    return min(subscriptions, key=rank) if subscriptions else None


def billing_sync(*, org_slug: str | None = None) -> dict[str, int]:
    """Sync every organization with a Stripe customer (or just ``org_slug``)."""
    client = stripe_client()
    counts = {"organizations": 0, "subscriptions": 0, "invoices": 0}
    with service_context(reason="billing_sync: list organizations"):
        rows = Subscription.objects.exclude(stripe_customer_id="")
        if org_slug:
            org = Organization.objects.filter(slug=org_slug).first()
            if org is None:
                raise NotFound(f"No organization {org_slug!r}.")
            rows = rows.filter(organization_id=org.id)
        targets = list(rows.values_list("organization_id", "stripe_customer_id"))
    for organization_id, customer in targets:
        try:
            subs = client.v1.subscriptions.list({"customer": customer, "status": "all"})
            invoices = client.v1.invoices.list({"customer": customer, "limit": 100})
        except stripe.StripeError as exc:
            raise StripeUnavailable(f"Stripe: {exc.user_message or exc}") from exc
        with service_context(reason="billing_sync", organization_id=organization_id):
            counts["organizations"] += 1
            chosen = _pick([s.to_dict() for s in subs.auto_paging_iter()])
            if chosen is not None:
                subscription = Subscription.objects.select_for_update().get(
                    organization_id=organization_id
                )
                fields = subscription_fields_from_stripe(chosen)
                changes = subscription_apply(
                    subscription=subscription, fields=fields, at=timezone.now()
                )
                if changes:
                    SubscriptionEvent.objects.create(
                        organization_id=organization_id,
                        action="billing_sync",
                        details={"subscription": chosen.get("id"), "changes": changes},
                    )
                counts["subscriptions"] += 1
            for invoice in invoices.auto_paging_iter():
                invoice_upsert(organization_id=organization_id, obj=invoice.to_dict())
                counts["invoices"] += 1
    return counts
