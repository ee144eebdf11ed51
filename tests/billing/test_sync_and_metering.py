"""billing_sync from a fake Stripe, meter events, API-call counting, the demo seed."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from billing.models import Invoice, QuotaOverride, Subscription, UsageCounter
from billing.quotas import period_start
from billing.tasks import usage_report_to_stripe
from organizations.tenancy import service_context
from tests.billing.conftest import PRICES, subscription_object

pytestmark = pytest.mark.django_db


def _give_customer(org, customer: str = "cus_acme") -> None:
    with service_context(reason="test fixture"):
        Subscription.objects.update_or_create(
            organization_id=org.id, defaults={"stripe_customer_id": customer}
        )


def test_billing_sync_applies_the_customers_subscription_and_invoices(personas, stripe_settings):
    _give_customer(personas.org)
    canceled = subscription_object(personas.org.id, status="canceled", sub_id="sub_old")
    live = subscription_object(
        personas.org.id, status="active", price=PRICES["studio"], customer="cus_acme"
    )
    stripe_settings.subscriptions = [{**canceled, "customer": "cus_acme"}, live]
    stripe_settings.invoices = [
        {
            "id": "in_s1",
            "object": "invoice",
            "customer": "cus_acme",
            "number": "S-1",
            "status": "open",
            "currency": "usd",
            "amount_due": 8000,
            "total": 8000,
        }
    ]

    call_command("billing_sync", "--org", "acme")

    with service_context(reason="test read"):
        sub = Subscription.objects.get(organization_id=personas.org.id)
        assert (sub.plan_code, sub.status, sub.stripe_subscription_id) == (
            "studio",
            "active",
            "sub_123",
        )
        invoice = Invoice.objects.get(organization_id=personas.org.id, stripe_invoice_id="in_s1")
        assert (invoice.number, invoice.amount_due) == ("S-1", 8000)
    listed = [r for r in stripe_settings.requests if r.method == "GET"]
    assert {r.path for r in listed} == {"/v1/subscriptions", "/v1/invoices"}
    assert all(r.query["customer"] == "cus_acme" for r in listed)


def test_billing_sync_needs_a_key(personas, settings):
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(CommandError, match="not configured"):
        call_command("billing_sync")


def test_metered_usage_is_reported_cumulatively_with_our_row_id(
    personas, stripe_settings, settings
):
    settings.STRIPE_METER_EVENTS = {"ai_tokens": "ai_tokens_used"}
    _give_customer(personas.org)
    with service_context(reason="test fixture"):
        counter = UsageCounter.objects.create(
            organization_id=personas.org.id,
            metric="ai_tokens",
            period_start=period_start(),
            used=42,
        )

    assert usage_report_to_stripe.call() == {"reported": 1}
    assert usage_report_to_stripe.call() == {"reported": 0}  # nothing new

    [sent] = stripe_settings.posted("/v1/billing/meter_events")
    assert sent.form["event_name"] == "ai_tokens_used"
    assert sent.form["identifier"] == f"{counter.id}:42"
    assert sent.form["payload[stripe_customer_id]"] == "cus_acme"
    assert sent.form["payload[value]"] == "42"
    with service_context(reason="test read"):
        assert UsageCounter.objects.get(id=counter.id).reported == 42


def test_api_calls_are_buffered_then_flushed_and_refused_over_the_limit(personas, settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.BILLING_API_CALLS_FLUSH_EVERY = 3
    with service_context(reason="test fixture"):
        QuotaOverride.objects.create(
            organization_id=personas.org.id,
            metric="api_calls",
            limit=4,
            reason="test",
            expires_at=timezone.now() + timedelta(days=1),
        )

    def stored() -> int:
        with service_context(reason="test read"):
            row = UsageCounter.objects.filter(
                organization_id=personas.org.id, metric="api_calls"
            ).first()
            return row.used if row else 0

    client = personas.client("member")
    url = "/api/v1/orgs/acme/projects/"
    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 200
    assert stored() == 0  # buffered: no write per request
    assert client.get(url).status_code == 200
    assert stored() == 3  # the third call flushed the batch
    assert client.get(url).status_code == 200  # the 4th of 4
    refused = client.get(url)
    assert refused.status_code == 402
    assert refused.json()["error"]["details"]["metric"] == "api_calls"
    # Billing stays reachable, and shows the calls (stored + buffered).
    usage = client.get("/api/v1/orgs/acme/billing/usage/").json()
    assert usage["usage"]["api_calls"] == 4


def test_the_demo_seed_puts_acme_on_pro_with_invoices_and_globex_at_its_limit():
    call_command("seed")
    call_command("seed")  # idempotent
    from accounts.models import User
    from organizations.models import Organization
    from tests.helpers import client_for

    with service_context(reason="test read"):
        acme = Organization.objects.get(slug="acme")
        sub = Subscription.objects.get(organization_id=acme.id)
        assert (sub.plan_code, sub.status) == ("pro", "active")
        assert Invoice.objects.filter(organization_id=acme.id).count() == 2
        globex_owner = User.objects.get(email="owner@globex.test")
    response = client_for(globex_owner).post(
        "/api/v1/orgs/globex/projects/",
        json.dumps({"name": "One too many"}),
        content_type="application/json",
    )
    assert response.status_code == 402
    assert response.json()["error"]["details"]["limit"] == 10
