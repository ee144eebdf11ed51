"""Stripe webhooks: verified, recorded once, applied in order.

:func:`stripe_webhook_handle` is the whole contract:

1. the raw body's ``Stripe-Signature`` is verified with ``STRIPE_WEBHOOK_SECRET``
   (``t=…,v1=HMAC-SHA256(secret, "{t}.{body}")``, 300 s tolerance) *before*
   anything is parsed: a bad or stale signature is a 400 and writes nothing;
2. in one transaction (service context): the event id goes into the
   ``StripeEvent`` inbox first — an id already processed is a 200 with no
   effect — then the event is applied and the inbox row marked;
3. if applying fails, that transaction rolls back, the failure is recorded on
   the inbox row in a second transaction, and the caller answers 500 so Stripe
   retries (the retry is processed again: a failed row is not a duplicate).

Events arrive out of order: a subscription event whose ``created`` is older
than the last one applied to that organization's subscription changes
nothing. Everything comes from the signed payload (no call back to Stripe),
so an installation without an API key still applies webhooks.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import stripe
from django.conf import settings
from django.db import connection

from audit.services import audit_record
from billing.errors import BillingNotConfigured
from billing.models import StripeEvent, Subscription, SubscriptionEvent
from billing.services import invoice_upsert, subscription_apply, subscription_fields_from_stripe
from config.errors import Invalid
from organizations.models import Organization
from organizations.tenancy import service_context

logger = logging.getLogger(__name__)

SUBSCRIPTION_EVENTS = frozenset(
    {
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
    }
)
INVOICE_EVENTS = frozenset({"invoice.paid", "invoice.payment_failed", "invoice.finalized"})
HANDLED_EVENTS = SUBSCRIPTION_EVENTS | INVOICE_EVENTS | {"checkout.session.completed"}


def verify_and_parse(payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event, if ``signature`` proves Stripe sent ``payload`` recently; else 400."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise BillingNotConfigured("Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET).")
    try:
        text = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(
            text, signature or "", secret, settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError):
        raise Invalid(
            "The Stripe signature is missing, wrong or too old.", code="invalid_signature"
        ) from None
    try:
        event = json.loads(text)
        event_id, event_type, created = event["id"], event["type"], int(event["created"])
        event["data"]["object"]
    except (ValueError, KeyError, TypeError):
        raise Invalid("This is not a Stripe event.", code="invalid_event") from None
    if not (isinstance(event_id, str) and isinstance(event_type, str) and created > 0):
        raise Invalid("This is not a Stripe event.", code="invalid_event")
    return event


def stripe_webhook_handle(*, payload: bytes, signature: str | None) -> str:
    """Verify, record and apply one delivery. Answers ``processed``, ``ignored`` or
    ``duplicate``; raises on a bad signature (400) or a processing failure (500)."""
    event = verify_and_parse(payload, signature)
    try:
        with service_context(reason=f"stripe webhook {event['type']}"):
            return _receive(event)
    except Exception as exc:
        logger.exception("stripe event %s failed", event["id"])
        with service_context(reason="stripe webhook failure record"):
            _record_failure(event, exc)
        raise


def _created(event: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(event["created"]), tz=UTC)


def _receive(event: dict[str, Any]) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO billing_stripeevent"
            " (id, event_id, type, created, payload, status, attempts, error, received_at,"
            "  updated_at)"
            " VALUES (%s, %s, %s, %s, %s, 'processing', 1, '', now(), now())"
            " ON CONFLICT (event_id) DO NOTHING RETURNING id",
            [uuid.uuid4(), event["id"], event["type"], _created(event), json.dumps(event)],
        )
        inserted = cursor.fetchone()
    inbox = StripeEvent.objects.select_for_update().get(event_id=event["id"])
    if not inserted:
        if inbox.status != StripeEvent.Status.FAILED:
            return "duplicate"
        inbox.attempts += 1
    outcome, note = _apply(event)
    inbox.status = outcome
    inbox.error = note
    inbox.save(update_fields=["status", "error", "attempts", "updated_at"])
    return outcome


def _record_failure(event: dict[str, Any], exc: Exception) -> None:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO billing_stripeevent"
            " (id, event_id, type, created, payload, status, attempts, error, received_at,"
            "  updated_at)"
            " VALUES (%s, %s, %s, %s, %s, 'failed', 1, %s, now(), now())"
            " ON CONFLICT (event_id) DO UPDATE SET status = 'failed',"
            " attempts = billing_stripeevent.attempts + 1, error = EXCLUDED.error,"
            " updated_at = now()",
            [uuid.uuid4(), event["id"], event["type"], _created(event), json.dumps(event), error],
        )


# --- applying ------------------------------------------------------------------------------


def _organization_for(
    metadata: dict[str, Any] | None, *, customer: str | None = None, subscription: str | None = None
) -> uuid.UUID | None:
    """The organization an object belongs to: the id we put in its metadata at checkout,
    else the subscription or customer id we already know."""
    raw = (metadata or {}).get("organization_id")
    if raw:
        try:
            org_id = uuid.UUID(str(raw))
        except ValueError:
            org_id = None
        if org_id and Organization.objects.filter(id=org_id).exists():
            return org_id
    known = Subscription.objects.none()
    if subscription:
        known = Subscription.objects.filter(stripe_subscription_id=subscription)
    if customer and not known.exists():
        known = Subscription.objects.filter(stripe_customer_id=customer)
    return known.values_list("organization_id", flat=True).first()


def _locked_subscription(organization_id: uuid.UUID) -> Subscription:
    Subscription.objects.get_or_create(organization_id=organization_id)
    return Subscription.objects.select_for_update().get(organization_id=organization_id)


def _apply(event: dict[str, Any]) -> tuple[str, str]:
    kind = event["type"]
    if kind in SUBSCRIPTION_EVENTS:
        return _apply_subscription(event)
    if kind == "checkout.session.completed":
        return _apply_checkout(event)
    if kind in INVOICE_EVENTS:
        return _apply_invoice(event)
    return StripeEvent.Status.IGNORED, f"{kind} is not handled"


def _log(org_id: uuid.UUID, event: dict[str, Any], details: dict[str, Any]) -> None:
    SubscriptionEvent.objects.create(
        organization_id=org_id, action=event["type"], stripe_event_id=event["id"], details=details
    )
    audit_record(
        action="billing.stripe_event_applied",
        organization_id=org_id,
        target_type="billing.stripeevent",
        target_id=event["id"],
        changes={"type": event["type"], **details},
    )


def _apply_subscription(event: dict[str, Any]) -> tuple[str, str]:
    obj = event["data"]["object"]
    org_id = _organization_for(
        obj.get("metadata"), customer=obj.get("customer"), subscription=obj.get("id")
    )
    if org_id is None:
        return StripeEvent.Status.IGNORED, "no organization in the metadata or on record"
    subscription = _locked_subscription(org_id)
    at = _created(event)
    if subscription.last_event_created and at < subscription.last_event_created:
        return StripeEvent.Status.IGNORED, "older than the last event applied"
    fields = subscription_fields_from_stripe(obj)
    if event["type"] == "customer.subscription.deleted":
        fields["status"] = Subscription.Status.CANCELED
    changes = subscription_apply(subscription=subscription, fields=fields, at=at)
    _log(org_id, event, {"subscription": obj.get("id"), "changes": changes})
    return StripeEvent.Status.PROCESSED, ""


def _apply_checkout(event: dict[str, Any]) -> tuple[str, str]:
    obj = event["data"]["object"]
    org_id = _organization_for(
        {"organization_id": obj.get("client_reference_id")}
        if obj.get("client_reference_id")
        else obj.get("metadata"),
        customer=obj.get("customer"),
    )
    if org_id is None:
        return StripeEvent.Status.IGNORED, "no organization in the session"
    subscription = _locked_subscription(org_id)
    changes = {}
    # Links the Stripe ids only; the plan comes with the subscription events.
    for name, value in (
        ("stripe_customer_id", obj.get("customer")),
        ("stripe_subscription_id", obj.get("subscription")),
    ):
        if value and getattr(subscription, name) != value:
            changes[name] = {"from": getattr(subscription, name), "to": value}
            setattr(subscription, name, value)
    if changes:
        subscription.save(update_fields=[*changes, "updated_at"])
    _log(org_id, event, {"session": obj.get("id"), "changes": changes})
    return StripeEvent.Status.PROCESSED, ""


def _invoice_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    parent = (obj.get("parent") or {}).get("subscription_details") or {}
    legacy = obj.get("subscription_details") or {}
    return parent.get("metadata") or legacy.get("metadata") or obj.get("metadata") or {}


def _apply_invoice(event: dict[str, Any]) -> tuple[str, str]:
    obj = event["data"]["object"]
    if not obj.get("id"):
        return StripeEvent.Status.IGNORED, "invoice without an id"
    parent = (obj.get("parent") or {}).get("subscription_details") or {}
    org_id = _organization_for(
        _invoice_metadata(obj),
        customer=obj.get("customer"),
        subscription=parent.get("subscription") or obj.get("subscription"),
    )
    if org_id is None:
        return StripeEvent.Status.IGNORED, "no organization for this invoice"
    invoice = invoice_upsert(organization_id=org_id, obj=obj)
    _log(
        org_id,
        event,
        {"invoice": obj["id"], "status": invoice.status, "amount_due": invoice.amount_due},
    )
    return StripeEvent.Status.PROCESSED, ""
