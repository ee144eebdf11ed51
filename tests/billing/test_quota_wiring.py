"""The plan limits reach the write paths of sites, deployments, webhook endpoints and AI
usage: over the limit is a 402 ``quota_exceeded`` with the numbers, and nothing is
written."""

from __future__ import annotations

import pytest

from billing.models import UsageCounter
from integrations.usage import record_usage
from organizations.tenancy import service_context
from sites.models import Deployment, Site
from tests.billing.test_quotas import _override
from tests.integrations.support import stub_dns
from tests.sites.support import make_page, make_site, publish

pytestmark = pytest.mark.django_db

FREE_SITES = 1  # the free plan's catalog limits (billing/plans.py CATALOG, issue 13)
FREE_WEBHOOK_ENDPOINTS = 1


def _count(model, org) -> int:
    with service_context(reason="test count"):
        return model.objects.filter(organization_id=org.id).count()


def test_a_free_organization_gets_one_site_then_a_402(personas):
    member = personas.client("member")
    first = member.post("/api/v1/orgs/acme/sites/", {"name": "One"}, format="json")
    assert first.status_code == 201, first.content
    second = member.post("/api/v1/orgs/acme/sites/", {"name": "Two"}, format="json")
    assert second.status_code == 402, second.content
    assert second.json()["error"]["code"] == "quota_exceeded"
    assert second.json()["error"]["details"] == {
        "metric": "sites",
        "limit": FREE_SITES,
        "usage": FREE_SITES,
        "requested": 1,
    }
    assert _count(Site, personas.org) == FREE_SITES


def test_deployments_are_metered_per_month(personas):
    """Automatic deployments (publishing on the built-in host) count like manual ones;
    over the limit a publication still succeeds and production waits (pending)."""
    owner = personas.users["owner"]
    site = make_site(personas.org, owner)
    page = make_page(site, owner)
    _override(personas.org, "deployments", 1)
    publish(site, page, owner)  # production follows publishing: the one deployment
    url = f"/api/v1/orgs/acme/sites/{site.slug}/deployments/"
    client = personas.client("owner")
    second = client.post(url, {"environment": "preview"}, format="json")
    assert second.status_code == 402, second.content
    assert second.json()["error"]["details"]["metric"] == "deployments"
    assert _count(Deployment, personas.org) == 1
    republished = client.post(f"/api/v1/orgs/acme/sites/{site.slug}/pages/{page.id}/publish/")
    assert republished.status_code == 201, republished.content
    assert republished.json()["deployment"] is None
    assert client.get(f"/api/v1/orgs/acme/sites/{site.slug}/").json()["pending_changes"]
    assert _count(Deployment, personas.org) == 1
    with service_context(reason="test read"):
        counter = UsageCounter.objects.get(organization_id=personas.org.id, metric="deployments")
    assert counter.used == 1


def test_a_free_organization_gets_one_webhook_endpoint_then_a_402(personas, monkeypatch):
    stub_dns(monkeypatch, {"hooks.example.com": ["93.184.216.34"]})
    admin = personas.client("admin")
    body = {"url": "https://hooks.example.com/a", "event_types": ["*"]}
    assert admin.post("/api/v1/orgs/acme/webhooks/", body, format="json").status_code == 201
    refused = admin.post("/api/v1/orgs/acme/webhooks/", body, format="json")
    assert refused.status_code == 402, refused.content
    assert refused.json()["error"]["details"] == {
        "metric": "webhook_endpoints",
        "limit": FREE_WEBHOOK_ENDPOINTS,
        "usage": FREE_WEBHOOK_ENDPOINTS,
        "requested": 1,
    }


def test_usage_reported_after_the_fact_is_counted(personas):
    with service_context(reason="test"):
        record_usage(personas.org.id, "ai_tokens", 1200)
        record_usage(personas.org.id, "ai_tokens", 34)
        counter = UsageCounter.objects.get(organization_id=personas.org.id, metric="ai_tokens")
    assert counter.used == 1234
