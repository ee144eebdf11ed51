"""``GET /api/v1/billing/plans/``: the public plan catalog (issue 22 §2)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.billing.conftest import PRICES

pytestmark = pytest.mark.django_db

URL = "/api/v1/billing/plans/"


def test_anyone_reads_the_catalog_cheapest_first_with_prices_and_limits(catalog):
    response = Client().get(URL)

    assert response.status_code == 200, response.content
    plans = response.json()["results"]
    assert [p["code"] for p in plans] == ["free", "pro", "studio", "enterprise"]
    pro = plans[1]
    assert pro["name"] == "Pro" and pro["monthly_price_cents"] == 2_000
    assert pro["limits"]["sites"] == 10 and plans[3]["limits"]["sites"] is None
    assert pro["features"]["custom_domains"] is True
    assert {p["purchasable"] for p in plans} == {False}  # Stripe is not configured


def test_plans_with_a_stripe_price_are_purchasable(catalog, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_PRICE_IDS = dict(PRICES)

    plans = Client().get(URL).json()["results"]

    assert {p["code"]: p["purchasable"] for p in plans} == {
        "free": False,
        "pro": True,
        "studio": True,
        "enterprise": False,
    }


def test_a_signed_in_user_reads_the_same_catalog(catalog, personas):
    signed_in = personas.client("viewer").get(URL)

    assert signed_in.status_code == 200
    assert signed_in.json() == Client().get(URL).json()


def test_the_catalog_costs_one_query(catalog):
    client = Client()
    client.get(URL)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(URL).status_code == 200
    statements = [q["sql"] for q in queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 1, statements


def test_the_catalog_is_throttled_per_address(catalog, monkeypatch):
    from django.core.cache import cache
    from rest_framework.throttling import AnonRateThrottle

    cache.clear()
    # The suite runs with the anon rate raised (config/settings.py, TESTING); this test
    # puts a small one back on the throttle class, which read the rates at import.
    monkeypatch.setattr(
        AnonRateThrottle, "THROTTLE_RATES", {**AnonRateThrottle.THROTTLE_RATES, "anon": "2/min"}
    )
    client = Client()

    statuses = [client.get(URL).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    cache.clear()


def test_the_schema_documents_the_catalog_without_credentials(client):
    schema = client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/billing/plans/"]["get"]
    assert "401" not in operation["responses"] and "429" in operation["responses"]
    assert "Plan" in schema["components"]["schemas"]
