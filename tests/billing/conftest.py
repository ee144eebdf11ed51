"""Fixtures of the billing tests: a fake Stripe server, Stripe settings, signed events."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from billing import metering
from tests.billing import fake_stripe

WEBHOOK_SECRET = "whsec_test_secret_for_the_suite"
PRICES = {"pro": "price_pro_test", "studio": "price_studio_test"}


@pytest.fixture
def stripe_server() -> Iterator[fake_stripe.FakeStripe]:
    fake = fake_stripe.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def stripe_settings(settings: Any, stripe_server: fake_stripe.FakeStripe) -> fake_stripe.FakeStripe:
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_API_BASE = stripe_server.base
    settings.STRIPE_PRICE_IDS = dict(PRICES)
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    return stripe_server


@pytest.fixture
def webhook_secret(settings: Any) -> str:
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_PRICE_IDS = dict(PRICES)
    return WEBHOOK_SECRET


@pytest.fixture(autouse=True)
def _fresh_api_call_buffers() -> None:
    metering.reset()


@pytest.fixture
def catalog(db: None) -> None:
    """The plan rows the data migration seeds (a TransactionTestCase-style test anywhere
    in the suite flushes them; the quota code falls back to the defaults, the admin
    and the raw-SQL tests need the rows)."""
    from billing.services import plans_ensure
    from organizations.tenancy import service_context

    with service_context(reason="test fixture"):
        plans_ensure()


def sign(payload: bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """Stripe's documented scheme, written out here: ``t=<unix>,v1=<hex HMAC-SHA256 of
    "<t>.<body>" keyed with the endpoint secret>``."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def event_body(event_id: str, kind: str, obj: dict[str, Any], *, created: int) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": kind,
            "created": created,
            "api_version": "2026-10-28.endive",
            "livemode": False,
            "data": {"object": obj},
        }
    ).encode()


def subscription_object(
    org_id: Any,
    *,
    status: str = "active",
    price: str = PRICES["pro"],
    sub_id: str = "sub_123",
    customer: str = "cus_123",
    period_start: int = 1_764_547_200,
    period_end: int = 1_767_225_600,
    cancel_at_period_end: bool = False,
) -> dict[str, Any]:
    """A Stripe subscription as API 2026-10-28 shapes it (period on the items)."""
    return {
        "id": sub_id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "cancel_at_period_end": cancel_at_period_end,
        "canceled_at": None,
        "trial_end": None,
        "metadata": {"organization_id": str(org_id), "plan": "pro"},
        "items": {
            "object": "list",
            "data": [
                {
                    "id": "si_1",
                    "price": {"id": price, "object": "price"},
                    "current_period_start": period_start,
                    "current_period_end": period_end,
                }
            ],
        },
    }


def post_event(client: Any, body: bytes, signature: str | None) -> Any:
    headers = {"HTTP_STRIPE_SIGNATURE": signature} if signature is not None else {}
    return client.post(
        "/api/v1/billing/stripe/webhook/", data=body, content_type="application/json", **headers
    )
