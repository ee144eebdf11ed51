"""Reads of the sites app: querysets shaped for the API and the admin.

Each takes the organization (or an object of it) explicitly; RLS checks every
row again. Lists defer the JSON content and read version numbers as
annotations, so a list's query count does not grow with its length.
"""

from __future__ import annotations

import difflib
import json
import uuid
from typing import Any

from django.db.models import F, Prefetch, Q, QuerySet

from sites.models import (
    Component,
    Deployment,
    DeploymentPage,
    Domain,
    Page,
    PageAnalyticsDaily,
    PageComment,
    PageVersion,
    Section,
    Site,
    Template,
)


def sites_of(*, organization_id: uuid.UUID) -> QuerySet[Site]:
    """The organization's sites with their creator (the site document shows it)."""
    return Site.objects.filter(organization_id=organization_id).select_related("created_by")


def site_by_slug(
    *, organization_id: uuid.UUID, slug: str, with_creator: bool = False
) -> Site | None:
    """The site ``slug``; its creator's row only ``with_creator`` (the site document
    needs it; the routes under a site, pages first, do not: issue 21)."""
    sites = (
        sites_of(organization_id=organization_id)
        if with_creator
        else Site.objects.filter(organization_id=organization_id)
    )
    return sites.filter(slug=slug).first()


def pages_of(*, site: Site) -> QuerySet[Page]:
    return (
        Page.objects.filter(organization_id=site.organization_id, site=site)
        .select_related("locked_by")
        .annotate(
            live_number=F("live_version__number"), scheduled_number=F("scheduled_version__number")
        )
    )


def page_of(*, site: Site, page_id: uuid.UUID) -> Page | None:
    return pages_of(site=site).filter(id=page_id).first()


def versions_of(*, page: Page) -> QuerySet[PageVersion]:
    return (
        PageVersion.objects.filter(organization_id=page.organization_id, page=page)
        .select_related("author")
        .defer("content", "seo")
    )


def version_of(*, page: Page, number: int) -> PageVersion | None:
    return (
        PageVersion.objects.filter(organization_id=page.organization_id, page=page, number=number)
        .select_related("author")
        .first()
    )


def _block_index(blocks: list[dict[str, Any]]) -> dict[str, str]:
    return {block["id"]: json.dumps(block, sort_keys=True) for block in blocks}


def version_diff(*, page: Page, from_number: int, to_number: int) -> dict[str, Any] | None:
    """A unified diff of two versions (as indented JSON) and which blocks changed."""
    versions = {
        v.number: v
        for v in PageVersion.objects.filter(
            organization_id=page.organization_id, page=page, number__in=[from_number, to_number]
        )
    }
    if from_number not in versions or to_number not in versions:
        return None

    def lines(v: PageVersion) -> list[str]:
        body = {"title": v.title, "path": v.path, "seo": v.seo, "content": v.content}
        return json.dumps(body, indent=2, sort_keys=True).splitlines(keepends=True)

    old, new = versions[from_number], versions[to_number]
    diff = "".join(difflib.unified_diff(lines(old), lines(new), f"v{from_number}", f"v{to_number}"))
    before, after = _block_index(old.content), _block_index(new.content)
    return {
        "from": from_number,
        "to": to_number,
        "diff": diff,
        "blocks": {
            "added": sorted(after.keys() - before.keys()),
            "removed": sorted(before.keys() - after.keys()),
            "changed": sorted(k for k in before.keys() & after.keys() if before[k] != after[k]),
        },
    }


def comments_of(*, page: Page) -> QuerySet[PageComment]:
    return (
        PageComment.objects.filter(organization_id=page.organization_id, page=page)
        .select_related("author", "resolved_by")
        .annotate(version_number=F("version__number"))
    )


def deployments_of(*, site: Site) -> QuerySet[Deployment]:
    return (
        Deployment.objects.filter(organization_id=site.organization_id, site=site)
        .select_related("created_by")
        .defer("log")
    )


def deployment_of(*, site: Site, deployment_id: uuid.UUID) -> Deployment | None:
    pinned = DeploymentPage.objects.select_related("version").only(
        "path", "page_id", "deployment_id", "version__number"
    )
    return (
        Deployment.objects.filter(organization_id=site.organization_id, site=site, id=deployment_id)
        .select_related("created_by")
        .prefetch_related(Prefetch("pinned_pages", queryset=pinned.order_by("path")))
        .first()
    )


def domains_of(*, site: Site) -> QuerySet[Domain]:
    return Domain.objects.filter(organization_id=site.organization_id, site=site)


def analytics_of(*, site: Site) -> QuerySet[PageAnalyticsDaily]:
    return PageAnalyticsDaily.objects.filter(organization_id=site.organization_id, site=site)


def library_of(*, model: type, organization_id: uuid.UUID) -> QuerySet[Any]:
    """The organization's own items and every public one (components, sections, templates)."""
    queryset = model.objects.filter(Q(organization_id=organization_id) | Q(is_public=True))
    if model is Template:
        queryset = queryset.defer("settings")
    return queryset


def public_templates() -> QuerySet[Template]:
    return Template.objects.filter(is_public=True)


LIBRARY_MODELS = {"component": Component, "section": Section, "template": Template}
