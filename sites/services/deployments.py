"""Deployments: pin the live version of every published page, build, go live, roll back.

:func:`deployment_create` (the single write path that creates a deployment;
billing meters it) pins, in the request's transaction, the exact
``PageVersion`` live on each published page (``DeploymentPage`` rows, append-
only), and queues the build on commit. The build runs in the task worker as the
user who deployed (:func:`run_build`), in short transactions so the API shows
status, progress and a capped log while it runs. A production deployment that
succeeds becomes the site's live deployment in the same transaction as its
``ready`` status. :func:`deployment_rollback` re-points the live deployment to
an earlier ready production deployment: nothing is rebuilt.

At most one deployment per site and environment is in flight: the partial
unique index ``deployment_one_in_flight`` refuses a second (409).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from billing.quotas import usage_consume
from config.errors import DomainError, conflict_on_duplicate
from integrations.models import Integration
from organizations.tenancy import ensure_writable, service_context, tenant_context
from sites.errors import conflict
from sites.models import Deployment, DeploymentPage, Page, PageVersion, Site
from sites.providers import BuildFailed, BuildResult, BuildSpec, PinnedPage, get_provider
from sites.public import render_page_html

logger = logging.getLogger(__name__)

LOST_ACCESS = "The user who started this deployment no longer has access to the site."


def _lock_site(site: Site) -> Site:
    """The site's row, locked for this transaction.

    NOTE: publishing marks the site's changes pending under this lock, and a
    production deployment pins the pages after taking it: so a publication either
    commits before the pin reads the pages (and is pinned) or marks the site pending
    again after it (and is deployed next). None is lost between the two."""
    return Site.objects.select_for_update(of=("self",)).get(
        organization_id=site.organization_id, id=site.id
    )


def _live_pages(site: Site) -> list[dict]:
    return list(
        Page.objects.filter(
            organization_id=site.organization_id, site=site, live_version__isnull=False
        ).values("id", "path", "live_version_id")
    )


@transaction.atomic
def deployment_create(
    *, actor: User, site: Site, environment: str, provider: str = "local"
) -> Deployment:
    """Queue a deployment of what is published now (409 if one is in flight).

    A production deployment pins the published pages, so the site's pending changes
    are cleared: they are on their way (set again if it fails or is canceled)."""
    if site.status == Site.Status.ARCHIVED:
        raise conflict("site_archived", "The site is archived; unarchive it first.")
    if provider == "local" and site.deployment_integration_id:
        provider = _integration_provider(site)
    get_provider(provider)  # unknown providers fail here, not in the worker
    if environment == Deployment.Environment.PRODUCTION:
        site = _lock_site(site)
    live = _live_pages(site)
    if not live:
        raise conflict("nothing_published", "Publish a page before deploying the site.")
    return _create(
        actor=actor,
        site=site,
        environment=environment,
        provider=provider,
        pinned=live,
        trigger=Deployment.Trigger.MANUAL,
    )


def _create(
    *,
    actor: User | None,
    site: Site,
    environment: str,
    provider: str,
    pinned: list[dict],
    trigger: str,
    reason: str = "",
) -> Deployment:
    # Billing: deployments per month (402 over the plan's limit; undone with a rollback).
    usage_consume(organization_id=site.organization_id, metric="deployments", amount=1)
    with conflict_on_duplicate(
        conflict(
            "deployment_in_progress",
            f"A {environment} deployment of this site is already in progress.",
        )
    ):
        deployment = Deployment.objects.create(
            organization_id=site.organization_id,
            site=site,
            environment=environment,
            provider=provider,
            trigger=trigger,
            created_by=actor,
            page_count=len(pinned),
            log=f"{timezone.now():%H:%M:%S} automatic: {reason}\n" if reason else "",
        )
    DeploymentPage.objects.bulk_create(
        DeploymentPage(
            organization_id=site.organization_id,
            deployment=deployment,
            page_id=row["id"],
            version_id=row["live_version_id"],
            path=row["path"],
        )
        for row in pinned
    )
    if environment == Deployment.Environment.PRODUCTION:
        Site.objects.filter(organization_id=site.organization_id, id=site.id).update(
            changes_pending_since=None
        )
    audit_record(
        action="deployment.created",
        actor=actor,
        organization_id=site.organization_id,
        target=deployment,
        changes={
            "site": site.slug,
            "environment": environment,
            "pages": len(pinned),
            "trigger": trigger,
            **({"reason": reason} if reason else {}),
        },
    )
    deployment_id = str(deployment.id)

    def enqueue() -> None:
        from sites.tasks import build_deployment

        build_deployment.enqueue(deployment_id)

    transaction.on_commit(enqueue)
    return deployment


# --- production follows publishing ---------------------------------------------------


def follows_publishing(site: Site) -> bool:
    """Whether publishing deploys this site's production by itself: the built-in
    ``local`` host (an external host deploys when asked), not locked, not archived."""
    return (
        site.deployment_integration_id is None
        and not site.production_locked
        and site.status == Site.Status.ACTIVE
    )


def changes_published(
    *, site: Site, actor: User | None, reason: str, now: datetime
) -> Deployment | None:
    """What the site publishes changed (in the caller's transaction): mark its changes
    pending and, if production follows publishing, deploy it now.

    Answers the production deployment, or ``None`` when production waits: locked,
    another host, a production deployment already in flight, or over the plan's
    deployments (402). The site then stays pending and the scheduler
    (:func:`deploy_pending`) deploys it once it can — never silently dropped."""
    site = _lock_site(site)
    site.changes_pending_since = now
    site.save(update_fields=["changes_pending_since", "updated_at"])
    return _auto_deploy(site=site, actor=actor, reason=reason)


def changes_pending(*, site_ids: set[uuid.UUID], now: datetime) -> None:
    """Mark these sites' changes pending (the scheduler's go-lives and expiries): the
    scheduler deploys them after its publishing pass, one deployment per site."""
    if site_ids:
        Site.objects.filter(id__in=site_ids).update(changes_pending_since=now, updated_at=now)


def _auto_deploy(*, site: Site, actor: User | None, reason: str) -> Deployment | None:
    if not follows_publishing(site):
        return None
    try:
        # A savepoint: a refusal leaves the publication (and the pending mark) standing.
        with transaction.atomic():
            return _create(
                actor=actor,
                site=site,
                environment=Deployment.Environment.PRODUCTION,
                provider="local",
                pinned=_live_pages(site),  # may be none: the last page was taken down
                trigger=Deployment.Trigger.AUTO,
                reason=reason,
            )
    except DomainError as exc:  # deployment_in_progress (409) or quota_exceeded (402)
        logger.info("site %s: production waits (%s)", site.id, exc.code)
        return None


def deploy_pending(*, batch: int = 100) -> int:
    """Deploy production of every site whose changes are pending and that follows
    publishing (the scheduler, as the system; ``publish_scheduled``). Answers how many
    deployments it queued.

    Skipped, and left pending: a site with a production deployment in flight (it is
    deployed after that one finishes), a suspended organization's (deployed once
    lifted), and a site whose last production deployment since the change failed or
    was canceled (no retry loop on a broken build: the next change deploys again).
    Sites are claimed ``FOR UPDATE SKIP LOCKED``, like the pages."""
    from organizations.models import Organization

    production = Deployment.objects.filter(
        organization_id=OuterRef("organization_id"),
        site_id=OuterRef("id"),
        environment=Deployment.Environment.PRODUCTION,
    )
    queued, tried = 0, set()
    while True:
        with service_context(reason="sites: deploy pending changes"):
            sites = list(
                Site.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(
                    changes_pending_since__isnull=False,
                    production_locked=False,
                    status=Site.Status.ACTIVE,
                    deployment_integration__isnull=True,
                )
                .exclude(id__in=tried)
                .exclude(
                    organization_id__in=Organization.objects.filter(
                        suspended_at__isnull=False
                    ).values("id")
                )
                .exclude(Exists(production.filter(status__in=Deployment.IN_FLIGHT)))
                .exclude(
                    Exists(
                        production.filter(
                            status__in=[Deployment.Status.FAILED, Deployment.Status.CANCELED],
                            created_at__gte=OuterRef("changes_pending_since"),
                        )
                    )
                )
                .order_by("changes_pending_since")[:batch]
            )
            for site in sites:
                tried.add(site.id)
                if _auto_deploy(site=site, actor=None, reason="scheduler: published pages changed"):
                    queued += 1
        if len(sites) < batch:
            return queued


def _pending_again(deployment: Deployment, since: datetime) -> None:
    """A production deployment that will not serve (failed, canceled, rolled away from):
    the site's changes are pending again, since they were when it pinned them."""
    if deployment.environment == Deployment.Environment.PRODUCTION:
        Site.objects.filter(
            organization_id=deployment.organization_id, id=deployment.site_id
        ).update(changes_pending_since=Coalesce(F("changes_pending_since"), Value(since)))


def _integration_provider(site: Site) -> str:
    """The provider of the site's deployment integration (Netlify/Vercel), read under
    the caller's claims."""
    found = (
        Integration.objects.filter(
            organization_id=site.organization_id, id=site.deployment_integration_id
        )
        .values_list("provider", flat=True)
        .first()
    )
    if found is None:
        raise conflict(
            "deployment_integration_missing",
            "The site's deployment integration is gone or not visible to you.",
        )
    return found


@transaction.atomic
def deployment_cancel(*, actor: User, deployment: Deployment) -> Deployment:
    deployment = Deployment.objects.select_for_update().get(
        organization_id=deployment.organization_id, id=deployment.id
    )
    if deployment.status not in Deployment.IN_FLIGHT:
        raise conflict("deployment_final", "This deployment has already finished.")
    deployment.status = Deployment.Status.CANCELED
    deployment.finished_at = timezone.now()
    deployment.save(update_fields=["status", "finished_at", "updated_at"])
    _pending_again(deployment, deployment.created_at)
    audit_record(
        action="deployment.canceled",
        actor=actor,
        organization_id=deployment.organization_id,
        target=deployment,
    )
    return deployment


@transaction.atomic
def deployment_rollback(*, actor: User, site: Site, deployment: Deployment) -> Site:
    """Serve ``deployment`` (an earlier ready production one) again; no rebuild.

    Locks production (as Netlify's rollback does): publishing no longer deploys by
    itself, the site shows its changes pending, and only a manual deployment moves
    production until someone unlocks it (``sites.site_set_production_locked``)."""
    if (
        deployment.status != Deployment.Status.READY
        or deployment.environment != Deployment.Environment.PRODUCTION
    ):
        raise conflict(
            "deployment_not_ready", "Only a ready production deployment can be rolled back to."
        )
    site = Site.objects.select_for_update().get(organization_id=site.organization_id, id=site.id)
    previous = site.live_deployment_id
    site.live_deployment = deployment
    site.production_locked = True
    site.changes_pending_since = site.changes_pending_since or timezone.now()
    site.save(
        update_fields=[
            "live_deployment",
            "production_locked",
            "changes_pending_since",
            "updated_at",
        ]
    )
    audit_record(
        action="deployment.rolled_back",
        actor=actor,
        organization_id=site.organization_id,
        target=deployment,
        changes={
            "site": site.slug,
            "from": str(previous) if previous else None,
            "production_locked": True,
        },
    )
    return site


# --- the build (task worker) ------------------------------------------------------


def _append_log(deployment_id: uuid.UUID, line: str) -> None:
    """Append a line, keeping the log's last ``SITES_DEPLOYMENT_LOG_MAX_CHARS``."""
    cap = settings.SITES_DEPLOYMENT_LOG_MAX_CHARS
    stamped = f"{timezone.now():%H:%M:%S} {line}\n"
    deployment = Deployment.objects.get(id=deployment_id)
    log = (deployment.log + stamped)[-cap:]
    Deployment.objects.filter(id=deployment_id).update(log=log, updated_at=timezone.now())


@contextmanager
def _as_deployer(deployment: dict) -> Iterator[None]:
    if deployment["created_by_id"] is None:
        if deployment["trigger"] != Deployment.Trigger.AUTO:
            raise BuildFailed(LOST_ACCESS)
        # The scheduler's own deployment (nobody started it): built as the system, in
        # its organization only. NOTE: it pins only versions already published.
        with service_context(
            reason=f"deployment {deployment['id']}: automatic build",
            organization_id=deployment["organization_id"],
        ):
            # Suspended meanwhile: refused like a person's build (the failure is recorded).
            ensure_writable(organization_id=deployment["organization_id"])
            yield
        return
    with tenant_context(
        user_id=deployment["created_by_id"], org_slug=deployment["organization__slug"]
    ) as org:
        if org is None:
            raise BuildFailed(LOST_ACCESS)
        yield


def run_build(deployment_id: str) -> str:
    """Build one deployment to a final status; answers that status.

    Only the look-up of who deployed uses the service role; everything else
    acts as that user, so RLS applies as it did to their request. The
    scheduler's deployments (nobody started them) build as the system; their log
    and progress are kept in memory and written with the result, so the build
    enters the service context (audited each time) twice, not once per page."""
    with service_context(reason=f"deployment {deployment_id}: look up who started it"):
        row = (
            Deployment.objects.filter(id=deployment_id)
            .values(
                "id",
                "organization_id",
                "organization__slug",
                "created_by_id",
                "status",
                "provider",
                "environment",
                "site_id",
                "trigger",
            )
            .first()
        )
    if row is None or row["status"] != Deployment.Status.QUEUED:
        return row["status"] if row else "missing"
    system = row["created_by_id"] is None
    buffered: list[str] = []
    try:
        with _as_deployer(row):
            claimed = Deployment.objects.filter(
                id=deployment_id, status=Deployment.Status.QUEUED
            ).update(
                status=Deployment.Status.BUILDING,
                started_at=timezone.now(),
                progress=1,
                updated_at=timezone.now(),
            )
            if not claimed:
                return "canceled"
            _append_log(row["id"], f"building with the {row['provider']} provider")
            spec = _spec(row)
        provider = get_provider(row["provider"])

        def log(line: str) -> None:
            if system:
                buffered.append(f"{timezone.now():%H:%M:%S} {line}\n")
                return
            with _as_deployer(row):
                _append_log(row["id"], line)

        def progress(value: int) -> None:
            if system:
                return
            with _as_deployer(row):
                Deployment.objects.filter(id=row["id"]).update(
                    progress=max(1, min(99, value)), updated_at=timezone.now()
                )

        result = provider.build(spec, log=log, progress=progress)
        if isinstance(result, BuildResult):
            url, external_id = result.url, result.external_id
        else:
            url, external_id = result, ""
        with _as_deployer(row):
            return _finish_ready(row, url, external_id, "".join(buffered))
    except (BuildFailed, DomainError) as exc:
        # DomainError: the organization was suspended or the deployer deactivated
        # meanwhile (tenant_context refuses the write); the reason is the message.
        _finish_failed(row, str(exc))
        return Deployment.Status.FAILED
    except Exception as exc:
        logger.exception("deployment %s failed", deployment_id)
        _finish_failed(row, f"internal error: {type(exc).__name__}")
        return Deployment.Status.FAILED


def _spec(row: dict) -> BuildSpec:
    site = Site.objects.get(id=row["site_id"])
    pinned = (
        DeploymentPage.objects.filter(deployment_id=row["id"])
        .order_by("path")
        .values_list("path", "version_id")
    )
    versions = {v.id: v for v in PageVersion.objects.filter(id__in=[vid for _, vid in pinned])}
    return BuildSpec(
        deployment_id=row["id"],
        organization_id=row["organization_id"],
        org_slug=row["organization__slug"],
        site_slug=site.slug,
        site_name=site.name,
        site_settings=site.settings,
        environment=row["environment"],
        integration_id=site.deployment_integration_id,
        created_by_id=row["created_by_id"],
        render_page_html=render_page_html,
        pages=[
            PinnedPage(
                path=path,
                title=versions[vid].title,
                version_number=versions[vid].number,
                content=versions[vid].content,
                seo=versions[vid].seo,
            )
            for path, vid in pinned
        ],
    )


def _finish_ready(row: dict, url: str, external_id: str = "", log: str = "") -> str:
    """Ready, and — for production — live, in one transaction.

    An automatic deployment does not go live on a site whose production was locked
    meanwhile (a rollback while it built): the lock wins, the changes stay pending."""
    deployment = Deployment.objects.select_for_update().get(id=row["id"])
    if deployment.status != Deployment.Status.BUILDING:
        return deployment.status  # canceled meanwhile
    now = timezone.now()
    deployment.status = Deployment.Status.READY
    deployment.progress = 100
    deployment.url = url
    deployment.external_id = external_id
    deployment.finished_at = now
    deployment.log = (deployment.log + log + f"{now:%H:%M:%S} ready: {url}\n")[
        -settings.SITES_DEPLOYMENT_LOG_MAX_CHARS :
    ]
    deployment.save(
        update_fields=[
            "status",
            "progress",
            "url",
            "external_id",
            "finished_at",
            "log",
            "updated_at",
        ]
    )
    live = False
    if deployment.environment == Deployment.Environment.PRODUCTION:
        sites = Site.objects.filter(id=deployment.site_id)
        if deployment.trigger == Deployment.Trigger.AUTO:
            sites = sites.filter(production_locked=False)
        live = bool(sites.update(live_deployment=deployment, updated_at=now))
        if not live:
            _pending_again(deployment, deployment.created_at)
    audit_record(
        action="deployment.ready",
        actor=deployment.created_by,
        organization_id=deployment.organization_id,
        target=deployment,
        changes={"live": live},
    )
    return deployment.status


def _finish_failed(row: dict, error: str) -> None:
    with service_context(
        reason=f"deployment {row['id']}: record failure", organization_id=row["organization_id"]
    ):
        failed = Deployment.objects.filter(id=row["id"], status__in=Deployment.IN_FLIGHT).update(
            status=Deployment.Status.FAILED,
            error=error[:2000],
            finished_at=timezone.now(),
            log=F("log"),
            updated_at=timezone.now(),
        )
        if failed:
            deployment = Deployment.objects.get(id=row["id"])
            _pending_again(deployment, deployment.created_at)
        audit_record(
            action="deployment.failed",
            organization_id=row["organization_id"],
            target_type="sites.deployment",
            target_id=str(row["id"]),
            changes={"error": error[:500]},
        )
