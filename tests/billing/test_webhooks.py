"""Stripe webhooks: signatures, the inbox, ordering, and what each event does.

The events are signed here with Stripe's documented scheme (``tests/billing/conftest.py``
``sign``), never with our own code.
"""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client

from billing.models import Invoice, StripeEvent, Subscription, SubscriptionEvent
from organizations.tenancy import service_context
from tests.billing.conftest import event_body, post_event, sign, subscription_object

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe_client_http() -> Client:
    return Client(enforce_csrf_checks=True)  # Stripe sends no CSRF token


def _subscription(org) -> Subscription:
    """The organization's row (made free, as the first quota check would, if missing)."""
    with service_context(reason="test read"):
        return Subscription.objects.get_or_create(organization_id=org.id)[0]


def _count(model, **filters) -> int:
    with service_context(reason="test read"):
        return model.objects.filter(**filters).count()


def _plan_seen_by_owner(personas) -> str:
    response = personas.client("owner").get("/api/v1/orgs/acme/billing/")
    assert response.status_code == 200, response.content
    return response.json()["plan"]


def test_signed_subscription_update_makes_acme_pro_once_and_in_order(
    personas, webhook_secret, stripe_client_http
):
    now = int(time.time())
    assert _plan_seen_by_owner(personas) == "free"
    body = event_body(
        "evt_1",
        "customer.subscription.updated",
        subscription_object(personas.org.id, status="active"),
        created=now - 10,
    )

    first = post_event(stripe_client_http, body, sign(body))

    assert first.status_code == 200, first.content
    assert _plan_seen_by_owner(personas) == "pro"
    sub = _subscription(personas.org)
    assert (sub.plan_code, sub.status, sub.stripe_subscription_id) == ("pro", "active", "sub_123")
    assert _count(SubscriptionEvent, organization_id=personas.org.id) == 1

    # The same event again (Stripe retries): 200, no effect.
    again = post_event(stripe_client_http, body, sign(body))
    assert again.status_code == 200
    assert again.json()["outcome"] == "duplicate"
    assert _count(SubscriptionEvent, organization_id=personas.org.id) == 1
    assert _subscription(personas.org).updated_at == sub.updated_at

    # An older event for that subscription, delivered late: changes nothing.
    older = event_body(
        "evt_0",
        "customer.subscription.updated",
        subscription_object(personas.org.id, status="canceled"),
        created=now - 3600,
    )
    late = post_event(stripe_client_http, older, sign(older))
    assert late.status_code == 200
    assert late.json()["outcome"] == "ignored"
    sub_after = _subscription(personas.org)
    assert (sub_after.plan_code, sub_after.status) == ("pro", "active")
    assert sub_after.updated_at == sub.updated_at
    assert _count(SubscriptionEvent, organization_id=personas.org.id) == 1
    assert _plan_seen_by_owner(personas) == "pro"


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "t=123,v1=deadbeef",
        "garbage",
    ],
    ids=["missing", "empty", "wrong", "malformed"],
)
def test_a_bad_signature_is_a_400_and_writes_nothing(
    personas, webhook_secret, stripe_client_http, signature
):
    body = event_body(
        "evt_bad",
        "customer.subscription.updated",
        subscription_object(personas.org.id),
        created=int(time.time()),
    )
    response = post_event(stripe_client_http, body, signature)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signature"
    assert _count(StripeEvent) == 0
    assert _subscription(personas.org).plan_code == "free"


def test_a_signature_with_another_secret_or_a_changed_body_is_refused(
    personas, webhook_secret, stripe_client_http
):
    body = event_body(
        "evt_x", "customer.subscription.updated", subscription_object(personas.org.id), created=1
    )
    assert post_event(stripe_client_http, body, sign(body, secret="whsec_other")).status_code == 400
    tampered = body.replace(b'"active"', b'"trialing"')
    assert post_event(stripe_client_http, tampered, sign(body)).status_code == 400
    assert _count(StripeEvent) == 0


def test_a_stale_signature_is_refused_and_a_fresh_one_within_300s_accepted(
    personas, webhook_secret, stripe_client_http
):
    body = event_body(
        "evt_t",
        "customer.subscription.updated",
        subscription_object(personas.org.id),
        created=int(time.time()),
    )
    stale = sign(body, timestamp=int(time.time()) - 301)
    assert post_event(stripe_client_http, body, stale).status_code == 400
    assert _subscription(personas.org).plan_code == "free"
    recent = sign(body, timestamp=int(time.time()) - 290)
    assert post_event(stripe_client_http, body, recent).status_code == 200
    assert _subscription(personas.org).plan_code == "pro"


def test_without_a_webhook_secret_deliveries_are_refused_with_503(personas, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    body = event_body("evt_n", "invoice.paid", {"id": "in_1"}, created=1)
    response = post_event(Client(), body, sign(body))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "billing_not_configured"


def test_a_processing_failure_is_a_500_recorded_and_the_retry_is_applied(
    personas, webhook_secret, stripe_client_http
):
    broken = subscription_object(personas.org.id)
    broken["items"]["data"][0]["current_period_end"] = "not a time"
    body = event_body("evt_f", "customer.subscription.updated", broken, created=int(time.time()))

    response = post_event(stripe_client_http, body, sign(body))

    assert response.status_code == 500
    with service_context(reason="test read"):
        inbox = StripeEvent.objects.get(event_id="evt_f")
    assert (inbox.status, inbox.attempts) == ("failed", 1)
    assert "ValueError" in inbox.error
    assert _subscription(personas.org).plan_code == "free"  # rolled back
    assert _count(SubscriptionEvent, organization_id=personas.org.id) == 0

    fixed = event_body(
        "evt_f",
        "customer.subscription.updated",
        subscription_object(personas.org.id),
        created=int(time.time()),
    )
    retry = post_event(stripe_client_http, fixed, sign(fixed))
    assert retry.status_code == 200
    assert retry.json()["outcome"] == "processed"
    with service_context(reason="test read"):
        inbox = StripeEvent.objects.get(event_id="evt_f")
    assert (inbox.status, inbox.attempts) == ("processed", 2)
    assert _subscription(personas.org).plan_code == "pro"


def test_checkout_completion_links_ids_but_grants_no_plan(
    personas, webhook_secret, stripe_client_http
):
    session = {
        "id": "cs_1",
        "object": "checkout.session",
        "client_reference_id": str(personas.org.id),
        "customer": "cus_777",
        "subscription": "sub_777",
        "metadata": {"organization_id": str(personas.org.id), "plan": "pro"},
    }
    body = event_body("evt_c", "checkout.session.completed", session, created=int(time.time()))
    assert post_event(stripe_client_http, body, sign(body)).status_code == 200
    sub = _subscription(personas.org)
    assert (sub.stripe_customer_id, sub.stripe_subscription_id) == ("cus_777", "sub_777")
    assert sub.plan_code == "free"


def test_deleted_subscription_and_unpaid_fall_back_to_free_but_past_due_keeps_the_plan(
    personas, webhook_secret, stripe_client_http, settings
):
    settings.BILLING_GRACE_DAYS = 7
    now = int(time.time())
    for n, status in enumerate(["active", "past_due"]):
        body = event_body(
            f"evt_s{n}",
            "customer.subscription.updated",
            subscription_object(personas.org.id, status=status),
            created=now - 100 + n,
        )
        assert post_event(stripe_client_http, body, sign(body)).status_code == 200
    assert _plan_seen_by_owner(personas) == "pro"  # past_due, within the grace period
    overview = personas.client("owner").get("/api/v1/orgs/acme/billing/").json()
    assert overview["status"] == "past_due" and overview["grace_until"]

    body = event_body(
        "evt_del",
        "customer.subscription.deleted",
        subscription_object(personas.org.id, status="canceled"),
        created=now,
    )
    assert post_event(stripe_client_http, body, sign(body)).status_code == 200
    overview = personas.client("owner").get("/api/v1/orgs/acme/billing/").json()
    assert (overview["plan"], overview["subscribed_plan"], overview["status"]) == (
        "free",
        "pro",
        "canceled",
    )


def test_past_due_beyond_the_grace_period_is_free(personas, webhook_secret, stripe_client_http):
    import time_machine

    now = int(time.time())
    for n, status in enumerate(["active", "past_due"]):
        body = event_body(
            f"evt_g{n}",
            "customer.subscription.updated",
            subscription_object(personas.org.id, status=status),
            created=now - 100 + n,
        )
        assert post_event(stripe_client_http, body, sign(body)).status_code == 200
    with time_machine.travel(now + 8 * 86400, tick=False):
        assert _plan_seen_by_owner(personas) == "free"
    with time_machine.travel(now + 6 * 86400, tick=False):
        assert _plan_seen_by_owner(personas) == "pro"


def test_invoice_events_mirror_the_invoice_and_never_reopen_a_paid_one(
    personas, webhook_secret, stripe_client_http
):
    now = int(time.time())
    invoice = {
        "id": "in_42",
        "object": "invoice",
        "customer": "cus_123",
        "number": "ACME-0001",
        "status": "paid",
        "currency": "eur",
        "amount_due": 2000,
        "amount_paid": 2000,
        "amount_remaining": 0,
        "total": 2000,
        "period_start": now - 86400 * 30,
        "period_end": now,
        "hosted_invoice_url": "https://invoice.stripe.test/i/42",
        "invoice_pdf": "https://invoice.stripe.test/i/42.pdf",
        "created": now,
        "parent": {
            "type": "subscription_details",
            "subscription_details": {
                "subscription": "sub_123",
                "metadata": {"organization_id": str(personas.org.id)},
            },
        },
    }
    paid = event_body("evt_i1", "invoice.paid", invoice, created=now)
    assert post_event(stripe_client_http, paid, sign(paid)).status_code == 200
    finalized = event_body(
        "evt_i0", "invoice.finalized", {**invoice, "status": "open"}, created=now - 5
    )
    assert post_event(stripe_client_http, finalized, sign(finalized)).status_code == 200

    response = personas.client("billing").get("/api/v1/orgs/acme/billing/invoices/")
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert (row["number"], row["status"], row["amount_due"], row["currency"]) == (
        "ACME-0001",
        "paid",
        2000,
        "eur",
    )
    with service_context(reason="test read"):
        assert Invoice.objects.filter(organization_id=personas.org.id).count() == 1


def test_an_event_for_an_unknown_organization_is_acknowledged_and_ignored(
    personas, webhook_secret, stripe_client_http
):
    obj = subscription_object("00000000-0000-0000-0000-000000000000", customer="cus_nobody")
    obj["id"] = "sub_nobody"
    body = event_body("evt_u", "customer.subscription.updated", obj, created=int(time.time()))
    response = post_event(stripe_client_http, body, sign(body))
    assert response.status_code == 200 and response.json()["outcome"] == "ignored"
    with service_context(reason="test read"):
        assert json.loads(json.dumps(StripeEvent.objects.get(event_id="evt_u").status)) == "ignored"
