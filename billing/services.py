"""Every write of the billing app.

Subscriptions, invoices and the subscription audit are Stripe's mirror: only
the webhook path (:mod:`billing.webhooks`) and ``billing_sync`` write them, in
the service context. Tenant requests start checkouts and portal sessions
(which change nothing here: a plan is granted only by a webhook) and record
cost estimates. Staff manage plans and quota overrides in the admin.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import stripe
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from billing.costs import calculate_total_cost
from billing.errors import StripeUnavailable
from billing.models import METRICS, CostEstimate, Invoice, Plan, QuotaOverride, Subscription
from billing.plans import CATALOG
from billing.quotas import PLANS_CACHE_KEY
from billing.stripe_client import plan_for_price, price_id_for, stripe_client
from config.errors import Conflict, Invalid

# --- subscription rows ---------------------------------------------------------------


def subscription_create_free(*, organization_id: uuid.UUID) -> Subscription:
    """The free subscription of a new organization (service context: organization create)."""
    subscription, _ = Subscription.objects.get_or_create(organization_id=organization_id)
    return subscription


def _timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def subscription_fields_from_stripe(obj: dict[str, Any]) -> dict[str, Any]:
    """Our columns from a Stripe subscription object (API 2026-10-28: the period lives
    on the subscription items; older payloads carry it on the subscription)."""
    items = (obj.get("items") or {}).get("data") or []
    first = items[0] if items else {}
    price_id = (first.get("price") or {}).get("id", "")
    plan = plan_for_price(price_id) or (obj.get("metadata") or {}).get("plan")
    fields = {
        "status": obj.get("status", ""),
        "stripe_subscription_id": obj.get("id", ""),
        "stripe_customer_id": obj.get("customer") or "",
        "stripe_price_id": price_id,
        "current_period_start": _timestamp(
            obj.get("current_period_start") or first.get("current_period_start")
        ),
        "current_period_end": _timestamp(
            obj.get("current_period_end") or first.get("current_period_end")
        ),
        "cancel_at_period_end": bool(obj.get("cancel_at_period_end")),
        "trial_end": _timestamp(obj.get("trial_end")),
        "canceled_at": _timestamp(obj.get("canceled_at")),
    }
    if plan in CATALOG:
        fields["plan_code"] = plan
    return fields


def subscription_apply(
    *, subscription: Subscription, fields: dict[str, Any], at: datetime
) -> dict[str, Any]:
    """Write Stripe's view of the subscription (service context, row locked by the
    caller); answers what changed. ``at`` is when Stripe produced that view."""
    if fields.get("status") == Subscription.Status.PAST_DUE:
        if subscription.status != Subscription.Status.PAST_DUE:
            fields["past_due_since"] = at
    else:
        fields["past_due_since"] = None
    changes = {}
    for name, value in fields.items():
        if getattr(subscription, name) != value:
            changes[name] = {"from": _plain(getattr(subscription, name)), "to": _plain(value)}
            setattr(subscription, name, value)
    subscription.last_event_created = at
    subscription.save()
    return changes


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


INVOICE_STATUS_RANK = {"draft": 0, "open": 1, "paid": 2, "uncollectible": 2, "void": 2}


def invoice_upsert(*, organization_id: uuid.UUID, obj: dict[str, Any]) -> Invoice:
    """Mirror a Stripe invoice. Its status never moves back (a late ``finalized``
    does not reopen a paid invoice)."""
    invoice = (
        Invoice.objects.select_for_update()
        .filter(organization_id=organization_id, stripe_invoice_id=obj["id"])
        .first()
    ) or Invoice(organization_id=organization_id, stripe_invoice_id=obj["id"])
    status = obj.get("status") or "draft"
    if invoice.status and INVOICE_STATUS_RANK.get(status, 0) < INVOICE_STATUS_RANK.get(
        invoice.status, 0
    ):
        status = invoice.status
    invoice.status = status
    invoice.number = obj.get("number") or ""
    invoice.currency = obj.get("currency") or "usd"
    for name in ("amount_due", "amount_paid", "amount_remaining", "total"):
        setattr(invoice, name, int(obj.get(name) or 0))
    invoice.period_start = _timestamp(obj.get("period_start"))
    invoice.period_end = _timestamp(obj.get("period_end"))
    invoice.hosted_invoice_url = obj.get("hosted_invoice_url") or ""
    invoice.invoice_pdf = obj.get("invoice_pdf") or ""
    invoice.stripe_created = _timestamp(obj.get("created"))
    invoice.save()
    return invoice


# --- checkout and portal (tenant requests) ---------------------------------------------


def _stripe_error(exc: stripe.StripeError) -> StripeUnavailable:
    return StripeUnavailable(f"Stripe refused or could not be reached: {exc.user_message or exc}")


def checkout_start(
    *,
    actor: User,
    organization_id: uuid.UUID,
    plan: str,
    success_url: str,
    cancel_url: str,
) -> dict[str, str]:
    """Open a Stripe Checkout session for ``plan``; answers its id and URL.

    Changes nothing here: the plan is granted by the webhook that follows
    payment. The organization id rides in ``client_reference_id`` and in the
    subscription's metadata (the webhooks read it from there).
    """
    price = price_id_for(plan)
    if plan not in CATALOG or plan == "free":
        raise Invalid("This plan cannot be bought.", code="unknown_plan", details={"plan": [plan]})
    client = stripe_client()  # 503 billing_not_configured without a key
    if not price:
        raise Invalid(
            "This plan has no Stripe price on this installation.",
            code="unknown_plan",
            details={"plan": [plan]},
        )
    existing = Subscription.objects.filter(organization_id=organization_id).first()
    metadata = {"organization_id": str(organization_id), "plan": plan}
    params: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [{"price": price, "quantity": 1}],
        "client_reference_id": str(organization_id),
        "metadata": metadata,
        "subscription_data": {"metadata": metadata},
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    if existing and existing.stripe_customer_id:
        params["customer"] = existing.stripe_customer_id
    else:
        params["customer_email"] = actor.email
    key = f"checkout-{organization_id}-{uuid.uuid4()}"
    try:
        session = client.v1.checkout.sessions.create(params, {"idempotency_key": key})
    except stripe.StripeError as exc:
        raise _stripe_error(exc) from exc
    with transaction.atomic():
        audit_record(
            action="billing.checkout_started",
            actor=actor,
            organization_id=organization_id,
            target_type="billing.checkout",
            target_id=session.id,
            changes={"plan": plan},
        )
    return {"id": session.id, "url": session.url}


def portal_start(*, actor: User, organization_id: uuid.UUID, return_url: str) -> dict[str, str]:
    """Open a Stripe customer-portal session (manage card, cancel, invoices)."""
    existing = Subscription.objects.filter(organization_id=organization_id).first()
    if not existing or not existing.stripe_customer_id:
        raise Conflict(
            "This organization has no Stripe customer yet: start a checkout first.",
            code="billing_no_customer",
        )
    client = stripe_client()
    try:
        session = client.v1.billing_portal.sessions.create(
            {"customer": existing.stripe_customer_id, "return_url": return_url},
            {"idempotency_key": f"portal-{organization_id}-{uuid.uuid4()}"},
        )
    except stripe.StripeError as exc:
        raise _stripe_error(exc) from exc
    with transaction.atomic():
        audit_record(
            action="billing.portal_opened",
            actor=actor,
            organization_id=organization_id,
            target_type="billing.portal",
            target_id=session.id,
        )
    return {"id": session.id, "url": session.url}


# --- cost estimates -----------------------------------------------------------------------


@transaction.atomic
def cost_estimate_create(
    *, actor: User, organization_id: uuid.UUID, title: str, inputs: dict[str, Any]
) -> CostEstimate:
    """Run :func:`calculate_total_cost` on ``inputs`` and keep the result (insert-only)."""
    result = calculate_total_cost(**inputs)
    estimate = CostEstimate.objects.create(
        organization_id=organization_id,
        title=title,
        inputs=_jsonable(inputs),
        line_items=_jsonable(result.line_items),
        total=result.total,
        currency=result.currency,
        formula_version=result.formula_version,
        author=actor,
    )
    audit_record(
        action="cost_estimate.created",
        actor=actor,
        organization_id=organization_id,
        target=estimate,
        changes={"total": str(result.total), "currency": result.currency},
    )
    return estimate


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


# --- staff (admin) -------------------------------------------------------------------------


@transaction.atomic
def quota_override_set(
    *,
    actor: User,
    organization_id: uuid.UUID,
    metric: str,
    limit: int | None,
    reason: str,
    expires_at: datetime,
) -> QuotaOverride:
    """Grant ``limit`` for ``metric`` until ``expires_at`` (replaces an earlier override)."""
    if metric not in METRICS:
        raise Invalid("Unknown metric.", details={"metric": ["Unknown metric."]})
    if not reason.strip():
        raise Invalid("A reason is required.", details={"reason": ["A reason is required."]})
    if expires_at <= timezone.now():
        raise Invalid("The expiry must be in the future.", details={"expires_at": ["Past."]})
    override, _ = QuotaOverride.objects.update_or_create(
        organization_id=organization_id,
        metric=metric,
        defaults={
            "limit": limit,
            "reason": reason.strip(),
            "expires_at": expires_at,
            "granted_by": actor,
        },
    )
    audit_record(
        action="billing.quota_override_set",
        actor=actor,
        organization_id=organization_id,
        target=override,
        changes={"metric": metric, "limit": limit, "reason": reason, "expires_at": str(expires_at)},
    )
    return override


@transaction.atomic
def quota_override_delete(*, actor: User, override: QuotaOverride) -> None:
    audit_record(
        action="billing.quota_override_removed",
        actor=actor,
        organization_id=override.organization_id,
        target=override,
        changes={"metric": override.metric, "limit": override.limit},
    )
    override.delete()


def plans_ensure() -> int:
    """Create the catalog's missing plans with their default limits (service context);
    answers how many were created. Existing rows are left as staff edited them."""
    created = 0
    for code, fields in CATALOG.items():
        created += Plan.objects.get_or_create(code=code, defaults=fields)[1]
    if created:
        cache.delete(PLANS_CACHE_KEY)
    return created


@transaction.atomic
def plan_update(*, actor: User, plan: Plan, fields: dict[str, Any]) -> Plan:
    """Change a catalog entry's limits, name, price or features (staff)."""
    changes = {}
    for name, value in fields.items():
        if getattr(plan, name) != value:
            changes[name] = {"from": getattr(plan, name), "to": value}
            setattr(plan, name, value)
    if changes:
        plan.save()
        audit_record(action="billing.plan_updated", actor=actor, target=plan, changes=changes)
        transaction.on_commit(lambda: cache.delete(PLANS_CACHE_KEY))
    return plan
