"""Sites: create (optionally from a template), update, archive, delete.

``site_create`` is the single write path that creates a site (billing meters it).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import User
from audit.services import audit_record
from billing.quotas import quota_check_count
from config.errors import Invalid, NotFound, conflict_on_duplicate, slug_taken
from integrations.models import Integration
from integrations.providers import DEPLOY_PROVIDERS
from sites import content as blocks
from sites.models import Page, Site, Template
from sites.services import deployments

UPDATABLE_FIELDS = ("name", "slug", "description", "settings")


def _slug(value: str) -> str:
    slug = slugify(value)[:60].strip("-")
    if not slug:
        raise Invalid("This slug is not allowed.", details={"slug": ["Letters, digits, hyphens."]})
    return slug


def _template_for(organization_id: uuid.UUID, template_id: uuid.UUID, actor: User) -> Template:
    """The template as the org's own: a public template of another org is copied in."""
    template = Template.objects.filter(id=template_id).first()  # own or public, by RLS
    if template is None:
        raise NotFound("No such template.")
    if template.organization_id == organization_id:
        return template
    copy = Template.objects.filter(organization_id=organization_id, copied_from_id=template.id)
    existing = copy.first()
    if existing:
        return existing
    slug = template.slug
    taken = set(
        Template.objects.filter(
            organization_id=organization_id, slug__startswith=template.slug
        ).values_list("slug", flat=True)
    )
    n = 2
    while slug in taken:
        slug = f"{template.slug[:55]}-{n}"
        n += 1
    return Template.objects.create(
        organization_id=organization_id,
        name=template.name,
        slug=slug,
        description=template.description,
        pages=template.pages,
        settings=template.settings,
        copied_from_id=template.id,
        created_by=actor,
    )


@transaction.atomic
def site_create(
    *,
    actor: User,
    organization_id: uuid.UUID,
    name: str,
    slug: str | None = None,
    description: str = "",
    settings: dict[str, Any] | None = None,
    template_id: uuid.UUID | None = None,
) -> Site:
    """Create a site; from ``template_id`` (own or public) its pages come as drafts."""
    slug = _slug(slug or name)
    template = _template_for(organization_id, template_id, actor) if template_id else None
    # Billing: refused with 402 over the plan's limit (locks the subscription row).
    quota_check_count(organization_id=organization_id, metric="sites")
    with conflict_on_duplicate(slug_taken("A site with this slug already exists.")):
        site = Site.objects.create(
            organization_id=organization_id,
            name=name,
            slug=slug,
            description=description,
            settings={**(template.settings if template else {}), **(settings or {})},
            template=template,
            created_by=actor,
        )
    pages = []
    for spec in template.pages if template else []:
        pages.append(
            Page(
                organization_id=organization_id,
                site=site,
                path=blocks.normalize_path(spec.get("path", "/")),
                title=str(spec.get("title") or "Untitled")[:200],
                content=blocks.clean(spec.get("content", [])),
                seo=blocks.clean_seo(spec.get("seo", {})),
                created_by=actor,
                updated_by=actor,
            )
        )
    Page.objects.bulk_create(pages)
    audit_record(
        action="site.created",
        actor=actor,
        organization_id=organization_id,
        target=site,
        changes={"name": name, "slug": slug, "template": str(template.id) if template else None},
    )
    return site


@transaction.atomic
def site_update(*, actor: User, site: Site, **fields: Any) -> Site:
    unknown = set(fields) - set(UPDATABLE_FIELDS)
    if unknown:
        raise Invalid("Unknown fields.", details={name: ["Unknown field."] for name in unknown})
    if "slug" in fields:
        fields["slug"] = _slug(fields["slug"])
    changes = {}
    for name in UPDATABLE_FIELDS:
        if name in fields and getattr(site, name) != fields[name]:
            changes[name] = {"changed": True} if name == "settings" else fields[name]
            setattr(site, name, fields[name])
    if not changes:
        return site
    with conflict_on_duplicate(slug_taken("A site with this slug already exists.")):
        site.save(update_fields=[*changes, "updated_at"])
    audit_record(
        action="site.updated",
        actor=actor,
        organization_id=site.organization_id,
        target=site,
        changes=changes,
    )
    return site


@transaction.atomic
def site_set_archived(*, actor: User, site: Site, archived: bool) -> Site:
    """Archive (the public site is gone; reads only) or unarchive. Idempotent."""
    status = Site.Status.ARCHIVED if archived else Site.Status.ACTIVE
    if site.status != status:
        site.status = status
        site.save(update_fields=["status", "updated_at"])
        audit_record(
            action="site.archived" if archived else "site.unarchived",
            actor=actor,
            organization_id=site.organization_id,
            target=site,
        )
    return site


@transaction.atomic
def site_delete(*, actor: User, site: Site) -> None:
    """Delete the site with its pages, versions, deployments, domains (database cascades)."""
    audit_record(
        action="site.deleted",
        actor=actor,
        organization_id=site.organization_id,
        target=site,
        changes={"slug": site.slug},
    )
    Site.objects.filter(organization_id=site.organization_id, id=site.id).delete()


@transaction.atomic
def site_set_production_locked(*, actor: User, site: Site, locked: bool) -> Site:
    """Lock production (publishing stops deploying it; only a manual deployment moves
    it) or unlock it. Unlocking with changes pending deploys them now (built-in host).
    Idempotent. The caller checks ``deployment.production`` (admins)."""
    site = Site.objects.select_for_update(of=("self",)).get(
        organization_id=site.organization_id, id=site.id
    )
    if site.production_locked == locked:
        return site
    site.production_locked = locked
    site.save(update_fields=["production_locked", "updated_at"])
    audit_record(
        action="site.production_locked" if locked else "site.production_unlocked",
        actor=actor,
        organization_id=site.organization_id,
        target=site,
        changes={"pending_changes": site.changes_pending_since is not None},
    )
    if not locked and site.changes_pending_since is not None:
        deployments.changes_published(
            site=site, actor=actor, reason="production unlocked", now=timezone.now()
        )
        site.refresh_from_db()
    return site


def site_deployment_integration_set(
    *, actor: User, site: Site, integration: Integration | None
) -> Site:
    """Deploy ``site`` through ``integration`` (Netlify/Vercel), or ``None``: the
    built-in ``local`` provider again. One transaction, audited."""
    if integration is not None and integration.provider not in DEPLOY_PROVIDERS:
        raise Invalid(
            "Only a Netlify or Vercel integration can deploy a site.",
            code="not_a_deploy_integration",
            details={"integration_id": ["Not a deployment provider."]},
        )
    with transaction.atomic():
        Site.objects.filter(organization_id=site.organization_id, id=site.id).update(
            deployment_integration=integration
        )
        site.deployment_integration = integration
        audit_record(
            action="site.deployment_integration_set",
            actor=actor,
            organization_id=site.organization_id,
            target=site,
            changes={"integration": str(integration.id) if integration else None},
        )
    return site
