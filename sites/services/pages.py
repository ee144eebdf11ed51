"""Pages: drafts, edit locks, publishing into immutable versions, scheduling.

A draft write never touches what is live. Each draft write bumps
``Page.revision`` (the ETag): a write naming an older one with ``If-Match`` is a
412, so two editors cannot silently overwrite each other. A page locked by
someone else refuses writes with a 423 (the holder and org admins unlock).

Publishing makes the next :class:`PageVersion` from the draft, with every
embedded component/section inlined, and makes it live — or, with a future
``go_live_at``, scheduled: :func:`publish_due` (``manage.py publish_scheduled``,
run periodically by ``make run``) makes it live when due and takes expired
pages down, claiming rows with ``FOR UPDATE SKIP LOCKED`` so two schedulers
never publish the same page twice. A pending schedule is replaced only when the
caller says so (409 ``schedule_pending`` otherwise).

The live site follows: every change of what is published (publish now, unpublish,
go-live, expiry) goes through :mod:`sites.services.deployments`
(``changes_published`` / ``changes_pending``), which deploys production for the
built-in host unless the site's production is locked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from config.errors import Conflict, Invalid, NotFound, conflict_on_duplicate
from organizations.models import Organization
from organizations.permissions import allows
from organizations.tenancy import service_context
from sites import content as blocks
from sites.errors import PageLocked, PreconditionFailed, PreconditionRequired, conflict
from sites.models import Component, Deployment, Page, PageVersion, Section, Site
from sites.services import deployments

UPDATABLE_FIELDS = ("path", "title", "content", "seo", "expire_at")


def _ensure_site_active(site: Site) -> None:
    if site.status == Site.Status.ARCHIVED:
        raise conflict("site_archived", "The site is archived; unarchive it first.")


def lock_page(page: Page) -> Page:
    """The page's row, locked for this transaction (serializes writes and numbering)."""
    locked = (
        Page.objects.select_for_update(of=("self",))
        .filter(organization_id=page.organization_id, id=page.id)
        .first()
    )
    if locked is None:
        raise NotFound("No such page.")
    return locked


def _lock_is_live(page: Page) -> bool:
    if page.locked_by_id is None or page.locked_at is None:
        return False
    return page.locked_at > timezone.now() - settings.SITES_PAGE_LOCK_TTL


def _ensure_may_write(page: Page, actor: User) -> None:
    if _lock_is_live(page) and page.locked_by_id != actor.id:
        raise PageLocked(
            "Someone else is editing this page.",
            details={"locked_by": str(page.locked_by_id), "locked_at": page.locked_at.isoformat()},
        )


def _check_etag(page: Page, if_match: str | None, *, required: bool) -> None:
    if if_match is None:
        if required:
            raise PreconditionRequired(
                "Send the page's ETag in If-Match.", details={"etag": page.etag}
            )
        return
    tags = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in tags and page.etag not in tags:
        raise PreconditionFailed(
            "The page changed since you loaded it.", details={"etag": page.etag}
        )


def _path_taken() -> Conflict:
    return conflict("path_taken", "Another page of this site has this path.")


@transaction.atomic
def page_create(
    *,
    actor: User,
    site: Site,
    path: str,
    title: str,
    content: list[Any] | None = None,
    seo: dict[str, Any] | None = None,
) -> Page:
    _ensure_site_active(site)
    path = blocks.normalize_path(path)
    with conflict_on_duplicate(_path_taken()):
        page = Page.objects.create(
            organization_id=site.organization_id,
            site=site,
            path=path,
            title=title,
            content=blocks.clean(content or []),
            seo=blocks.clean_seo(seo or {}),
            created_by=actor,
            updated_by=actor,
        )
    audit_record(
        action="page.created",
        actor=actor,
        organization_id=site.organization_id,
        target=page,
        changes={"site": site.slug, "path": path},
    )
    return page


@transaction.atomic
def page_update(
    *, actor: User, site: Site, page: Page, if_match: str | None, **fields: Any
) -> Page:
    """Change the draft (``path``, ``title``, ``content``, ``seo``, ``expire_at``).

    ``if_match`` must be the page's current ETag (412 if stale, 428 if missing)."""
    unknown = set(fields) - set(UPDATABLE_FIELDS)
    if unknown:
        raise Invalid("Unknown fields.", details={name: ["Unknown field."] for name in unknown})
    _ensure_site_active(site)
    page = lock_page(page)
    _ensure_may_write(page, actor)
    _check_etag(page, if_match, required=True)
    if "path" in fields:
        fields["path"] = blocks.normalize_path(fields["path"])
    if "content" in fields:
        fields["content"] = blocks.clean(fields["content"])
    if "seo" in fields:
        fields["seo"] = blocks.clean_seo(fields["seo"])
    changed = [name for name in UPDATABLE_FIELDS if name in fields]
    for name in changed:
        setattr(page, name, fields[name])
    page.revision += 1
    page.has_unpublished_changes = True
    page.updated_by = actor
    with conflict_on_duplicate(_path_taken()):
        page.save(
            update_fields=[
                *changed,
                "revision",
                "has_unpublished_changes",
                "updated_by",
                "updated_at",
            ]
        )
    audit_record(
        action="page.updated",
        actor=actor,
        organization_id=page.organization_id,
        target=page,
        changes={"fields": changed, "revision": page.revision},
    )
    return page


@transaction.atomic
def page_delete(*, actor: User, page: Page) -> None:
    page = lock_page(page)
    _ensure_may_write(page, actor)
    audit_record(
        action="page.deleted",
        actor=actor,
        organization_id=page.organization_id,
        target=page,
        changes={"path": page.path},
    )
    Page.objects.filter(organization_id=page.organization_id, id=page.id).delete()


@transaction.atomic
def page_lock(*, actor: User, page: Page) -> Page:
    """Take the edit lock (or renew your own). 423 if someone else holds it."""
    page = lock_page(page)
    _ensure_may_write(page, actor)
    page.locked_by = actor
    page.locked_at = timezone.now()
    page.save(update_fields=["locked_by", "locked_at", "updated_at"])
    audit_record(
        action="page.locked", actor=actor, organization_id=page.organization_id, target=page
    )
    return page


@transaction.atomic
def page_unlock(*, actor: User, org_role: str, page: Page) -> Page:
    """Release the lock: its holder, or an org owner/admin (``page.unlock_any``)."""
    page = lock_page(page)
    if page.locked_by_id is None:
        return page
    if (
        page.locked_by_id != actor.id
        and _lock_is_live(page)
        and not allows(org_role, "page.unlock_any")
    ):
        raise PageLocked("Only the lock's holder or an admin can unlock this page.")
    holder = page.locked_by_id
    page.locked_by = None
    page.locked_at = None
    page.save(update_fields=["locked_by", "locked_at", "updated_at"])
    audit_record(
        action="page.unlocked",
        actor=actor,
        organization_id=page.organization_id,
        target=page,
        changes={"holder": str(holder)},
    )
    return page


def _resolver(organization_id: uuid.UUID, page_content: list[dict[str, Any]]) -> Any:
    """Loads every embedded component and section in two queries (own or public, by RLS)."""
    wanted = blocks.embedded_ids(page_content)
    found: dict[tuple[str, str], tuple[str, list[Any]]] = {}
    for kind, model in (("component", Component), ("section", Section)):
        if wanted[kind]:
            for row in model.objects.filter(id__in=wanted[kind]).values("id", "name", "content"):
                found[(kind, str(row["id"]))] = (row["name"], row["content"])
    return lambda kind, ident: found.get((kind, ident))


def _next_version(page: Page, actor: User | None, message: str) -> PageVersion:
    number = (
        PageVersion.objects.filter(organization_id=page.organization_id, page=page).aggregate(
            n=Max("number")
        )["n"]
        or 0
    ) + 1
    inlined = blocks.inline(page.content, _resolver(page.organization_id, page.content))
    body = {"path": page.path, "title": page.title, "content": inlined, "seo": page.seo}
    return PageVersion.objects.create(
        organization_id=page.organization_id,
        site_id=page.site_id,
        page=page,
        number=number,
        path=page.path,
        title=page.title,
        content=inlined,
        seo=page.seo,
        sha256=blocks.sha256_of(body),
        message=message,
        author=actor,
    )


def _make_live(page: Page, version: PageVersion, now: datetime) -> list[str]:
    page.live_version = version
    page.status = Page.Status.PUBLISHED
    page.first_published_at = page.first_published_at or now
    page.last_published_at = now
    page.scheduled_version = None
    page.go_live_at = None
    return [
        "live_version",
        "status",
        "first_published_at",
        "last_published_at",
        "scheduled_version",
        "go_live_at",
    ]


@dataclass(frozen=True)
class Publication:
    """What publishing did: ``state`` is ``live`` (since ``live_at``) or ``scheduled`` (for
    ``live_at``); ``deployment`` is the production deployment it started, if any (the
    built-in host, production not locked: see :func:`deployments.changes_published`)."""

    version: PageVersion
    state: str
    live_at: datetime
    deployment: Deployment | None = None


LIVE, SCHEDULED = "live", "scheduled"


def _schedule_pending(pages: list[Page]) -> Conflict:
    return conflict(
        "schedule_pending",
        "A publication is already scheduled; send replace_schedule: true to replace it.",
        details={
            str(page.id): {"go_live_at": page.go_live_at.isoformat() if page.go_live_at else None}
            for page in pages
        },
    )


def _publish_locked(
    *,
    actor: User,
    page: Page,
    message: str,
    go_live_at: datetime | None,
    expire_at: datetime | None,
    now: datetime,
) -> Publication:
    """Publish one page whose row the caller holds (see :func:`lock_page`)."""
    if expire_at is not None and expire_at <= (go_live_at or now):
        raise Invalid(
            "The page would expire before it goes live.",
            details={"expire_at": ["Must be after go_live_at (or now)."]},
        )
    replaced = page.scheduled_version.number if page.scheduled_version_id else None
    version = _next_version(page, actor, message)
    if go_live_at is not None and go_live_at > now:
        page.scheduled_version = version
        page.go_live_at = go_live_at
        if page.live_version_id is None:
            page.status = Page.Status.SCHEDULED
        fields = ["scheduled_version", "go_live_at", "status"]
        action, state, live_at = "page.scheduled", SCHEDULED, go_live_at
    else:
        fields = _make_live(page, version, now)
        action, state, live_at = "page.published", LIVE, now
    page.has_unpublished_changes = False
    page.expire_at = expire_at
    page.save(update_fields=[*fields, "has_unpublished_changes", "expire_at", "updated_at"])
    audit_record(
        action=action,
        actor=actor,
        organization_id=page.organization_id,
        target=page,
        changes={
            "version": version.number,
            "go_live_at": go_live_at.isoformat() if go_live_at else None,
            "replaced_schedule": replaced,
        },
    )
    return Publication(version=version, state=state, live_at=live_at)


@transaction.atomic
def page_publish(
    *,
    actor: User,
    site: Site,
    page: Page,
    message: str = "",
    go_live_at: datetime | None = None,
    expire_at: datetime | None = None,
    if_match: str | None = None,
    replace_schedule: bool = False,
) -> Publication:
    """Make the next version from the draft; live now, or scheduled for ``go_live_at``.

    A page with a pending schedule is a 409 (``schedule_pending``) unless
    ``replace_schedule``: a later publication never silently drops the earlier one.
    Going live now changes the live site too (:func:`deployments.changes_published`)."""
    _ensure_site_active(site)
    page = lock_page(page)
    _ensure_may_write(page, actor)
    _check_etag(page, if_match, required=False)
    if page.scheduled_version_id and not replace_schedule:
        raise _schedule_pending([page])
    now = timezone.now()
    publication = _publish_locked(
        actor=actor,
        page=page,
        message=message,
        go_live_at=go_live_at,
        expire_at=expire_at,
        now=now,
    )
    if publication.state == LIVE:
        deployment = deployments.changes_published(
            site=site, actor=actor, reason=f"published {page.path}", now=now
        )
        publication = replace(publication, deployment=deployment)
    return publication


@dataclass(frozen=True)
class SitePublication:
    state: str
    live_at: datetime
    published: list[tuple[Page, PageVersion]]
    deployment: Deployment | None = None


@transaction.atomic
def site_publish(
    *,
    actor: User,
    site: Site,
    page_ids: list[uuid.UUID] | None = None,
    message: str = "",
    go_live_at: datetime | None = None,
    replace_schedule: bool = False,
) -> SitePublication:
    """Publish several drafts together: ``page_ids``, or every page with unpublished
    changes. All or nothing (one refusal refuses the lot: 404 for an id not of this
    site, 423 locked, 409 ``schedule_pending``), and, going live now, **one** production
    deployment for all of them. With ``go_live_at`` they are scheduled together and the
    scheduler deploys them in one deployment when due."""
    _ensure_site_active(site)
    pages = Page.objects.select_for_update(of=("self",)).filter(
        organization_id=site.organization_id, site=site
    )
    if page_ids is None:
        pages = pages.filter(has_unpublished_changes=True)
    else:
        pages = pages.filter(id__in=page_ids)
    # Locked in id order: two bulk publications of overlapping pages cannot deadlock.
    locked = list(pages.select_related("scheduled_version").order_by("id"))
    if page_ids is not None and len(locked) != len(set(page_ids)):
        missing = sorted(str(i) for i in set(page_ids) - {page.id for page in locked})
        raise NotFound("No such page in this site.", details={"pages": missing})
    if not locked:
        raise conflict("nothing_to_publish", "No page of this site has unpublished changes.")
    for page in locked:
        _ensure_may_write(page, actor)
    pending = [page for page in locked if page.scheduled_version_id]
    if pending and not replace_schedule:
        raise _schedule_pending(pending)
    now = timezone.now()
    published = []
    for page in locked:
        one = _publish_locked(
            actor=actor, page=page, message=message, go_live_at=go_live_at, expire_at=None, now=now
        )
        published.append((page, one.version))
    state = SCHEDULED if go_live_at is not None and go_live_at > now else LIVE
    deployment = None
    if state == LIVE:
        deployment = deployments.changes_published(
            site=site, actor=actor, reason=f"published {len(published)} page(s)", now=now
        )
    return SitePublication(
        state=state,
        live_at=go_live_at if state == SCHEDULED else now,
        published=published,
        deployment=deployment,
    )


@transaction.atomic
def page_unpublish(*, actor: User, page: Page) -> Page:
    """Take the page down (and cancel a scheduled publication). If it was live, the live
    site follows (:func:`deployments.changes_published`)."""
    page = lock_page(page)
    _ensure_may_write(page, actor)
    was_live = page.live_version_id is not None
    page.live_version = None
    page.scheduled_version = None
    page.go_live_at = None
    page.status = Page.Status.DRAFT
    page.has_unpublished_changes = True
    page.save(
        update_fields=[
            "live_version",
            "scheduled_version",
            "go_live_at",
            "status",
            "has_unpublished_changes",
            "updated_at",
        ]
    )
    audit_record(
        action="page.unpublished", actor=actor, organization_id=page.organization_id, target=page
    )
    if was_live:
        deployments.changes_published(
            site=Site.objects.get(organization_id=page.organization_id, id=page.site_id),
            actor=actor,
            reason=f"unpublished {page.path}",
            now=timezone.now(),
        )
    return page


@transaction.atomic
def page_revert(*, actor: User, page: Page, version: PageVersion) -> Page:
    """Make the draft a copy of ``version`` (embeds back to references); publish to go live."""
    page = lock_page(page)
    _ensure_may_write(page, actor)
    page.title = version.title
    page.content = blocks.uninline(version.content)
    page.seo = version.seo
    page.revision += 1
    page.has_unpublished_changes = True
    page.updated_by = actor
    page.save(
        update_fields=[
            "title",
            "content",
            "seo",
            "revision",
            "has_unpublished_changes",
            "updated_by",
            "updated_at",
        ]
    )
    audit_record(
        action="page.reverted",
        actor=actor,
        organization_id=page.organization_id,
        target=page,
        changes={"version": version.number},
    )
    return page


def _suspended_organizations() -> QuerySet[Organization]:
    return Organization.objects.filter(suspended_at__isnull=False).values("id")


def publish_due(*, now: datetime | None = None, batch: int = 100) -> dict[str, int]:
    """Publish scheduled versions whose time has come; take expired pages down; then
    deploy the sites whose published pages changed (:func:`deployments.deploy_pending`).

    Runs as the system (service context), one short transaction per batch. Rows are
    claimed ``FOR UPDATE SKIP LOCKED``: a concurrent run skips what this one holds,
    and once this one commits the rows no longer qualify — each publication
    happens exactly once. Pages of a suspended organization are not published (a
    suspended organization is read-only); they go live once it is lifted. Expiry still
    takes pages down: content meant to go offline does, suspended or not (a suspended
    organization's live site is not served at all, and it is deployed once lifted).
    A go-live or an expiry marks its site's changes pending, so each site gets one
    production deployment per run, however many of its pages changed.
    """
    now = now or timezone.now()
    done = {"published": 0, "expired": 0}
    while True:
        with service_context(reason="sites: publish scheduled pages"):
            due = list(
                Page.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(scheduled_version__isnull=False, go_live_at__lte=now)
                .exclude(organization_id__in=_suspended_organizations())
                .select_related("scheduled_version")
                .order_by("go_live_at")[:batch]
            )
            for page in due:
                version = page.scheduled_version
                page.save(update_fields=[*_make_live(page, version, now), "updated_at"])
                audit_record(
                    action="page.published",
                    organization_id=page.organization_id,
                    target=page,
                    changes={"version": version.number, "scheduled": True},
                )
            deployments.changes_pending(site_ids={page.site_id for page in due}, now=now)
            done["published"] += len(due)
        if len(due) < batch:
            break
    while True:
        with service_context(reason="sites: take expired pages down"):
            expired = list(
                Page.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(expire_at__lte=now, live_version__isnull=False)
                .order_by("expire_at")[:batch]
            )
            for page in expired:
                page.live_version = None
                page.status = Page.Status.ARCHIVED
                page.save(update_fields=["live_version", "status", "updated_at"])
                audit_record(
                    action="page.expired", organization_id=page.organization_id, target=page
                )
            deployments.changes_pending(site_ids={page.site_id for page in expired}, now=now)
            done["expired"] += len(expired)
        if len(expired) < batch:
            break
    done["deployed"] = deployments.deploy_pending(batch=batch)
    return done
