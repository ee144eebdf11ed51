"""The billing API: who may do what, checkout and portal against a fake Stripe,
usage, cost estimates."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import Subscription
from organizations.api.routes import methods_of, org_routes
from organizations.permissions import MATRIX
from organizations.tenancy import service_context
from tests.billing.expected_routes import EXPECTED_ROUTES

pytestmark = pytest.mark.django_db

METRICS = {
    "projects",
    "sites",
    "members",
    "api_calls",
    "ai_tokens",
    "storage_bytes",
    "deployments",
    "webhook_endpoints",
}


def test_the_routes_allow_exactly_the_roles_the_issue_names():
    actual = {
        f"{method} {route.pattern}": MATRIX[route.view_class.required_action(method)].roles
        for route in org_routes()
        for method in methods_of(route.view_class)
        if f"{method} {route.pattern}" in EXPECTED_ROUTES
    }
    assert set(actual) == set(EXPECTED_ROUTES), "a billing route is missing or renamed"
    assert actual == EXPECTED_ROUTES


def test_a_member_cannot_start_checkout(personas, stripe_settings):
    response = personas.client("member").post(
        "/api/v1/orgs/acme/billing/checkout/", {"plan": "pro"}, format="json"
    )
    assert response.status_code == 403
    assert stripe_settings.requests == []


@pytest.mark.parametrize("persona", ["viewer", "member"])
def test_viewers_and_members_cannot_read_billing(personas, persona):
    assert personas.client(persona).get("/api/v1/orgs/acme/billing/").status_code == 403
    assert personas.client(persona).get("/api/v1/orgs/acme/billing/invoices/").status_code == 403


def test_the_billing_role_reads_billing_and_every_member_reads_usage(personas):
    response = personas.client("billing").get("/api/v1/orgs/acme/billing/")
    assert response.status_code == 200
    body = response.json()
    assert (body["plan"], body["status"], body["cancel_at_period_end"]) == ("free", "active", False)
    assert set(body["limits"]) == METRICS and set(body["usage"]) == METRICS
    assert body["limits"]["projects"] == 10
    for persona in ("owner", "admin", "member", "viewer", "billing"):
        usage = personas.client(persona).get("/api/v1/orgs/acme/billing/usage/")
        assert usage.status_code == 200
        assert usage.json()["usage"]["members"] == 5


def test_checkout_sends_the_org_id_and_an_idempotency_key_and_changes_no_plan(
    personas, stripe_settings
):
    response = personas.client("billing").post(
        "/api/v1/orgs/acme/billing/checkout/", {"plan": "pro"}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["url"].startswith("https://checkout.stripe.test/")
    [sent] = stripe_settings.posted("/v1/checkout/sessions")
    org_id = str(personas.org.id)
    assert sent.form["client_reference_id"] == org_id
    assert sent.form["metadata[organization_id]"] == org_id
    assert sent.form["subscription_data[metadata][organization_id]"] == org_id
    assert sent.form["line_items[0][price]"] == "price_pro_test"
    assert sent.form["mode"] == "subscription"
    assert sent.headers["idempotency-key"]
    assert sent.headers["authorization"] == "Bearer sk_test_fake"
    assert sent.headers["stripe-version"] == "2026-10-28.endive"
    # Nothing granted until the webhook says so.
    overview = personas.client("owner").get("/api/v1/orgs/acme/billing/").json()
    assert (overview["plan"], overview["subscribed_plan"]) == ("free", "free")

    personas.client("owner").post(
        "/api/v1/orgs/acme/billing/checkout/", {"plan": "studio"}, format="json"
    )
    keys = [r.headers["idempotency-key"] for r in stripe_settings.posted("/v1/checkout/sessions")]
    assert len(set(keys)) == 2  # a fresh key per checkout (the SDK reuses it on retries)


def test_checkout_without_a_stripe_key_is_503_billing_not_configured(personas, settings):
    settings.STRIPE_SECRET_KEY = ""
    response = personas.client("owner").post(
        "/api/v1/orgs/acme/billing/checkout/", {"plan": "pro"}, format="json"
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "billing_not_configured"
    assert personas.client("owner").get("/api/v1/orgs/acme/billing/").status_code == 200


def test_checkout_refuses_an_unknown_plan(personas, stripe_settings):
    for plan in ("free", "platinum"):
        response = personas.client("owner").post(
            "/api/v1/orgs/acme/billing/checkout/", {"plan": plan}, format="json"
        )
        assert response.status_code == 400
    assert stripe_settings.requests == []


def test_a_stripe_error_is_a_502(personas, stripe_settings):
    stripe_settings.fail_with = 500
    response = personas.client("owner").post(
        "/api/v1/orgs/acme/billing/checkout/", {"plan": "pro"}, format="json"
    )
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "stripe_unavailable"


def test_portal_needs_a_customer_then_answers_a_url(personas, stripe_settings):
    response = personas.client("owner").post("/api/v1/orgs/acme/billing/portal/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "billing_no_customer"
    with service_context(reason="test fixture"):
        Subscription.objects.update_or_create(
            organization_id=personas.org.id, defaults={"stripe_customer_id": "cus_acme"}
        )
    response = personas.client("billing").post("/api/v1/orgs/acme/billing/portal/")
    assert response.status_code == 201
    assert response.json()["url"].startswith("https://billing.stripe.test/")
    [sent] = stripe_settings.posted("/v1/billing_portal/sessions")
    assert sent.form["customer"] == "cus_acme"
    assert sent.headers["idempotency-key"]


# --- cost estimates ------------------------------------------------------------------------

ESTIMATE = {
    "title": "Launch",
    "items": [
        {"description": "Pro seats", "quantity": "3", "unit_price": "20.00"},
        {"description": "Tokens (M)", "quantity": "2.5", "unit_price": "0.333"},
    ],
    "currency": "eur",
    "discount_percent": "10",
    "tax_percent": "19",
}


def test_any_member_creates_a_cost_estimate_with_the_total_worked_out_by_hand(personas):
    response = personas.client("viewer").post(
        "/api/v1/orgs/acme/cost-estimates/", ESTIMATE, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    # 3 * 20.00 = 60.00; 2.5 * 0.333 = 0.8325 -> 0.83; subtotal 60.83; discount 10% = 6.083
    # -> 6.08; taxable 54.75; tax 19% = 10.4025 -> 10.40; total 65.15.
    assert Decimal(body["total"]) == Decimal("65.15")
    assert body["currency"] == "EUR"
    assert body["formula_version"]
    assert [Decimal(line["amount"]) for line in body["line_items"]] == [
        Decimal("60.00"),
        Decimal("0.83"),
    ]


def test_members_read_their_own_estimates_and_admins_read_all(personas):
    for persona in ("member", "viewer", "admin"):
        created = personas.client(persona).post(
            "/api/v1/orgs/acme/cost-estimates/", ESTIMATE, format="json"
        )
        assert created.status_code == 201

    def authors(persona: str) -> list[str]:
        rows = personas.client(persona).get("/api/v1/orgs/acme/cost-estimates/").json()["results"]
        return sorted(row["author"] for row in rows)

    assert authors("member") == [str(personas.user("member").id)]
    assert authors("viewer") == [str(personas.user("viewer").id)]
    assert len(authors("admin")) == 3
    assert len(authors("owner")) == 3


def _queries_and_rows(client, url: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    statements = sum(1 for q in queries.captured_queries if "SAVEPOINT" not in q["sql"])
    return statements, len(response.json()["results"])


@pytest.mark.parametrize(
    "url", ["/api/v1/orgs/acme/cost-estimates/", "/api/v1/orgs/acme/billing/invoices/"]
)
def test_billing_lists_cost_the_same_queries_for_3_rows_as_for_9(personas, url):
    from billing.models import Invoice

    def add(n: int) -> None:
        for _ in range(n):
            personas.client("admin").post(
                "/api/v1/orgs/acme/cost-estimates/", ESTIMATE, format="json"
            )
        with service_context(reason="test fixture"):
            start = Invoice.objects.filter(organization_id=personas.org.id).count()
            for i in range(start, start + n):
                Invoice.objects.create(
                    organization_id=personas.org.id,
                    stripe_invoice_id=f"in_{i}",
                    status="paid",
                    currency="usd",
                )

    client = personas.client("admin")
    add(3)
    few = _queries_and_rows(client, url)
    add(6)
    many = _queries_and_rows(client, url)
    assert (few[1], many[1]) == (3, 9)
    assert few[0] == many[0]


def test_cost_estimates_cannot_be_changed_or_deleted(personas):
    created = personas.client("owner").post(
        "/api/v1/orgs/acme/cost-estimates/", ESTIMATE, format="json"
    )
    assert created.status_code == 201
    url = "/api/v1/orgs/acme/cost-estimates/"
    assert personas.client("owner").delete(url).status_code == 405
    assert (
        personas.client("owner")
        .patch(url, json.dumps({}), content_type="application/json")
        .status_code
        == 405
    )
