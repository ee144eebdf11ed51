"""Staff screens for billing: pages render, overrides go through the service, the
Stripe mirror is read-only."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEvent
from billing.models import Plan, QuotaOverride, Subscription
from organizations.tenancy import service_context
from tests.billing.makers import fill_tables
from tests.helpers import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(personas) -> Client:
    client = Client()
    client.force_login(make_user("staff@example.test", is_staff=True, is_superuser=True))
    return client


def test_every_billing_admin_page_renders(staff_client, personas, catalog):
    fill_tables(personas)
    for model in (
        "plan",
        "quotaoverride",
        "subscription",
        "invoice",
        "subscriptionevent",
        "stripeevent",
        "costestimate",
    ):
        assert staff_client.get(f"/admin/billing/{model}/").status_code == 200, model
    with service_context(reason="test read"):
        sub = Subscription.objects.get(organization_id=personas.org.id)
        plan = Plan.objects.get(code="free")
    assert staff_client.get(f"/admin/billing/subscription/{sub.pk}/change/").status_code == 200
    assert staff_client.get(f"/admin/billing/plan/{plan.pk}/change/").status_code == 200


def test_staff_grant_an_override_through_the_service(staff_client, personas):
    response = staff_client.post(
        "/admin/billing/quotaoverride/add/",
        {
            "organization": str(personas.org.id),
            "metric": "projects",
            "limit": "50",
            "reason": "Pilot customer",
            "expires_at_0": "2099-01-01",
            "expires_at_1": "00:00:00",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    with service_context(reason="test read"):
        override = QuotaOverride.objects.get(organization_id=personas.org.id, metric="projects")
        assert (override.limit, override.granted_by.email) == (50, "staff@example.test")
        assert AuditEvent.objects.filter(
            action="billing.quota_override_set", organization_id=personas.org.id
        ).exists()
    usage = personas.client("member").get("/api/v1/orgs/acme/billing/usage/").json()
    assert usage["limits"]["projects"] == 50


def test_subscriptions_cannot_be_added_edited_or_deleted_in_the_admin(staff_client, personas):
    fill_tables(personas)
    with service_context(reason="test read"):
        sub = Subscription.objects.get(organization_id=personas.org.id)
    assert staff_client.get("/admin/billing/subscription/add/").status_code == 403
    staff_client.post(f"/admin/billing/subscription/{sub.pk}/change/", {"plan_code": "enterprise"})
    assert staff_client.get(f"/admin/billing/subscription/{sub.pk}/delete/").status_code == 403
    with service_context(reason="test read"):
        assert Subscription.objects.get(pk=sub.pk).plan_code == "free"


def test_every_billing_admin_action_declares_its_permissions():
    from django.contrib import admin

    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label != "billing":
            continue
        for action in model_admin.actions or []:
            func = getattr(model_admin, action) if isinstance(action, str) else action
            assert getattr(func, "allowed_permissions", None), f"{model.__name__}.{action}"
