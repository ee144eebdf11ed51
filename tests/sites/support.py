"""Builders and readers shared by the sites tests.

Builders go through the real services (in the service context where the test
needs rows without a request); readers look past RLS in the service context.
"""

from __future__ import annotations

from typing import Any

from django.test import Client

from audit.models import AuditEvent
from organizations.models import Organization
from organizations.tenancy import service_context
from sites.models import Deployment, Page, Site
from sites.services import deployments as deployment_services
from sites.services import pages as page_services
from sites.services import sites as site_services


def sites_url(org_slug: str = "acme", rest: str = "") -> str:
    return f"/api/v1/orgs/{org_slug}/sites/{rest}"


def site_url(site: str = "shop", rest: str = "", *, org_slug: str = "acme") -> str:
    return sites_url(org_slug, f"{site}/{rest}")


def page_url(page_id: Any, rest: str = "", *, site: str = "shop", org_slug: str = "acme") -> str:
    return site_url(site, f"pages/{page_id}/{rest}", org_slug=org_slug)


def public_get(path: str, **extra: Any) -> Any:
    """The live site as an anonymous visitor sees it."""
    return Client().get(path, **extra)


def text(blocks_text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": blocks_text}]


def make_site(org: Organization, user: Any, slug: str = "shop", **extra: Any) -> Site:
    with service_context(reason="test fixture: site"):
        return site_services.site_create(
            actor=user, organization_id=org.id, name=slug.title(), slug=slug, **extra
        )


def make_page(site: Site, user: Any, path: str = "/", body: str = "hello", **extra: Any) -> Page:
    with service_context(reason="test fixture: page"):
        return page_services.page_create(
            actor=user, site=site, path=path, title=extra.pop("title", "Home"), content=text(body)
        )


def publish(site: Site, page: Page, user: Any, **extra: Any) -> Any:
    with service_context(reason="test fixture: publish"):
        return page_services.page_publish(actor=user, site=site, page=page, **extra)


def build_queued(site: Site) -> list[Deployment]:
    """Build the site's queued deployments now, as the worker would (its own code, in
    this thread): e.g. the production deployment publishing started by itself."""
    with service_context(reason="test read"):
        queued = list(
            Deployment.objects.filter(site_id=site.id, status="queued").values_list("id", flat=True)
        )
    for deployment_id in queued:
        deployment_services.run_build(str(deployment_id))
    with service_context(reason="test read"):
        return list(Deployment.objects.filter(id__in=queued).order_by("created_at"))


def deploy_now(site: Site, user: Any, environment: str = "production") -> Deployment:
    """A built deployment of what is published now: for production, the one publishing
    already queued (the built-in host follows publishing) if there is one; otherwise
    created by ``user`` and built now (the task's own code, called in this thread)."""
    queued = None
    with service_context(reason="test fixture: deploy"):
        if environment == "production":
            queued = Deployment.objects.filter(
                site_id=site.id, environment=environment, status="queued"
            ).first()
        deployment = queued or deployment_services.deployment_create(
            actor=user, site=site, environment=environment
        )
    deployment_services.run_build(str(deployment.id))
    with service_context(reason="test read"):
        return Deployment.objects.get(id=deployment.id)


def audit_actions(org: Organization, prefix: str) -> list[str]:
    with service_context(reason="test read"):
        return list(
            AuditEvent.objects.filter(organization_id=org.id, action__startswith=prefix)
            .order_by("sequence")
            .values_list("action", flat=True)
        )


def get(model: Any, *related: str, **lookup: Any) -> Any:
    """One row past RLS, with the ``related`` rows loaded while still elevated."""
    with service_context(reason="test read"):
        return model.objects.select_related(*related).get(**lookup)


def count(model: Any, **lookup: Any) -> int:
    with service_context(reason="test read"):
        return model.objects.filter(**lookup).count()
