"""The route matrix's object makers for the sites routes.

:data:`SITES_MAKERS` gives a value for every URL kwarg the sites routes
introduce (kwarg names are global across apps: ``tests/security/objects.py``
refuses a name two apps both claim). All of them share one idempotent fixture
world in ``personas.org``, built through the real services: the org template
``matrix-template`` (private), the component and section it embeds, the site
``matrix-site`` made from it, its home page published as version 1, a comment
on it by the member, a ready production deployment (the live one) pinning that version, and
the pending domain ``matrix.example.test``. :func:`fill_tables` adds a day of
page analytics, the one table no route writes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from organizations.tenancy import service_context
from sites.models import (
    Component,
    Deployment,
    Domain,
    Page,
    PageAnalyticsDaily,
    PageComment,
    Section,
    Site,
    Template,
)
from sites.services import comments as comment_services
from sites.services import domains as domain_services
from sites.services import library
from tests.helpers import Personas
from tests.sites.support import deploy_now, make_site, publish

SITE_SLUG = "matrix-site"


def sites_world(personas: Personas) -> dict[str, Any]:
    """The shared fixture world (created on first use, found afterwards)."""
    owner = personas.users["owner"]
    org = personas.org
    with service_context(reason="test fixture: sites objects"):
        site = Site.objects.filter(organization=org, slug=SITE_SLUG).first()
        if site is None:
            make = library.library_item_create
            component = make(
                actor=owner,
                org_role="owner",
                organization_id=org.id,
                model=Component,
                name="Matrix button",
                content=[{"type": "button", "label": "Buy", "href": "/buy"}],
            )
            section = make(
                actor=owner,
                org_role="owner",
                organization_id=org.id,
                model=Section,
                name="Matrix hero",
                content=[{"type": "heading", "text": "Matrix", "level": 1}],
            )
            template = make(
                actor=owner,
                org_role="owner",
                organization_id=org.id,
                model=Template,
                name="Matrix template",
                slug="matrix-template",
                pages=[
                    {
                        "path": "/",
                        "title": "Matrix home",
                        "content": [
                            {"type": "embed", "section": str(section.id)},
                            {"type": "embed", "component": str(component.id)},
                        ],
                    }
                ],
            )
            site = make_site(org, owner, SITE_SLUG, template_id=template.id)
            page = Page.objects.get(site=site, path="/")
            publish(site, page, owner, message="v1")
            # By a member: every role allowed to comment may also delete it (authors may).
            comment_services.comment_create(
                actor=personas.users["member"],
                page=page,
                body="Looks good",
                block_id="",
                version_number=1,
            )
            deploy_now(site, owner)
            domain_services.domain_create(actor=owner, site=site, hostname="matrix.example.test")
        page = Page.objects.get(site=site, path="/")
        return {
            "site": site,
            "page": page,
            "comment": PageComment.objects.get(page=page, body="Looks good"),
            "deployment": Deployment.objects.get(site=site, status="ready"),
            "domain": Domain.objects.get(site=site),
            "component": Component.objects.get(organization=org, name="Matrix button"),
            "section": Section.objects.get(organization=org, name="Matrix hero"),
            "template": Template.objects.get(organization=org, slug="matrix-template"),
        }


def _id(key: str) -> Callable[[Personas], str]:
    return lambda personas: str(sites_world(personas)[key].pk)


SITES_MAKERS: dict[str, Callable[[Personas], Any]] = {
    "site_slug": lambda personas: sites_world(personas)["site"].slug,
    "page_id": _id("page"),
    "version_number": lambda personas: (sites_world(personas), 1)[1],
    "comment_id": _id("comment"),
    "deployment_id": _id("deployment"),
    "domain_id": _id("domain"),
    "component_id": _id("component"),
    "section_id": _id("section"),
    "template_id": _id("template"),
}


def fill_tables(personas: Personas) -> None:
    """Put rows in the sites tables no URL kwarg reaches (the makers fill the rest)."""
    world = sites_world(personas)
    with service_context(reason="test fixture: page analytics"):
        PageAnalyticsDaily.objects.get_or_create(
            organization_id=personas.org.id,
            page=world["page"],
            day=date(2026, 1, 1),
            defaults={"site": world["site"], "views": 3, "visitors": 2},
        )
