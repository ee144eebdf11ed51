"""Billing demo data: ``acme`` on ``pro`` (active) with two paid invoices; ``globex``
stays on ``free`` (``projects.seeding`` fills it to its project limit, so creating one
more project shows the 402: billing imports no domain app).
``seed --scale`` organizations get the unlimited ``enterprise`` plan: load tests
measure the platform, not the quotas."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from billing.models import Invoice, Subscription
from billing.plans import CATALOG
from billing.services import invoice_upsert, subscription_apply
from organizations.models import Organization


def seed_demo(ctx: dict[str, Any]) -> None:
    acme = Organization.objects.filter(slug="acme").first()
    if acme is not None:
        _acme_on_pro(acme)
    globex = Organization.objects.filter(slug="globex").first()
    if globex is not None:
        _globex_on_free(globex)


def _acme_on_pro(acme: Organization) -> None:
    subscription, _ = Subscription.objects.get_or_create(organization_id=acme.id)
    if subscription.stripe_subscription_id:
        return
    now = timezone.now()
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    subscription_apply(
        subscription=subscription,
        fields={
            "plan_code": "pro",
            "status": Subscription.Status.ACTIVE,
            "stripe_customer_id": "cus_demo_acme",
            "stripe_subscription_id": "sub_demo_acme",
            "current_period_start": start,
            "current_period_end": start + timedelta(days=31),
        },
        at=now,
    )
    for n, months_ago in enumerate((2, 1), start=1):
        begins = start - timedelta(days=31 * months_ago)
        if Invoice.objects.filter(organization_id=acme.id, number=f"ACME-000{n}").exists():
            continue
        invoice_upsert(
            organization_id=acme.id,
            obj={
                "id": f"in_demo_acme_{n}",
                "number": f"ACME-000{n}",
                "status": "paid",
                "currency": "usd",
                "amount_due": CATALOG["pro"]["monthly_price_cents"],
                "amount_paid": CATALOG["pro"]["monthly_price_cents"],
                "amount_remaining": 0,
                "total": CATALOG["pro"]["monthly_price_cents"],
                "period_start": int(begins.timestamp()),
                "period_end": int((begins + timedelta(days=31)).timestamp()),
                "hosted_invoice_url": f"https://invoice.stripe.com/i/demo_acme_{n}",
                "invoice_pdf": f"https://pay.stripe.com/invoice/demo_acme_{n}/pdf",
                "created": int(begins.timestamp()),
            },
        )


def _globex_on_free(globex: Organization) -> None:
    Subscription.objects.get_or_create(organization_id=globex.id)


def seed_scale(ctx: Any) -> None:
    rows = [
        (
            ctx.uuid("subscription", o),
            ctx.uuid("org", o),
            "enterprise",
            "active",
            "",
            "",
            "",
            False,
            ctx.timestamp(0),
            ctx.timestamp(0),
        )
        for o in range(ctx.orgs)
    ]
    ctx.copy(
        "billing_subscription",
        [
            "id",
            "organization_id",
            "plan_code",
            "status",
            "stripe_customer_id",
            "stripe_subscription_id",
            "stripe_price_id",
            "cancel_at_period_end",
            "created_at",
            "updated_at",
        ],
        rows,
    )
