"""Running one job: claim it, run its type, record how it ended.

The task worker runs outside any request, with no claims, so RLS shows it
nothing. The job therefore **acts as the user who started it**: every unit of
work enters the job's organization as that user (``tenant_context``), so the
database applies exactly the rules it applied to the request that created the
job. The only elevation is the look-up of who that user is (the job row is
invisible until then), and the recording of the outcome if that user has
since lost access to the project.

Each unit is a short transaction of its own: claiming the job, every progress
report, every cancellation check, every output, the job type's own writes
(:meth:`JobContext.atomic`) and the final status. So the API sees progress
while the job runs, and a failure loses only the unit it happened in.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.core.files.base import File
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from organizations.models import Organization
from organizations.tenancy import (
    OrganizationSuspended,
    OrgContext,
    UserInactive,
    enter_org,
    service_context,
    tenant_context,
)
from projects.jobs import registry
from projects.models import Asset, Job, Project
from projects.storage import staging

logger = logging.getLogger(__name__)

LOST_ACCESS = "The user who started this job no longer has access to its project."
ORG_SUSPENDED = "The organization is suspended: the job was stopped and wrote nothing more."
STARTER_INACTIVE = "The account that started this job is deactivated: the job was stopped."
MAX_ERROR_LENGTH = 2000
MAX_SKIPPED_LISTED = 1000  # the result lists this many skipped items, and counts them all


class JobFailed(Exception):
    """Raised by a job type for an expected failure; the message is shown to the user."""


class JobCanceled(Exception):
    """Raised by :meth:`JobContext.check_canceled` to stop at a cancellation request."""


class StarterLostAccess(Exception):
    """The job's starter can no longer see or write the job (left the org, lost the role),
    or may not write any more (the organization was suspended, the account deactivated).
    The message is the job's error."""

    def __init__(self, message: str = LOST_ACCESS) -> None:
        super().__init__(message)


@dataclass
class Starter:
    """Who the job acts as, found by :func:`find_starter`."""

    job_id: uuid.UUID
    organization_id: uuid.UUID
    org_slug: str
    user_id: uuid.UUID | None


def find_starter(job_id: str | uuid.UUID) -> Starter | None:
    """Who started the job and in which organization (``None``: no such job).

    The one read that needs the service role: without claims the job row is
    invisible, and the claims are what we are looking for.
    """
    with service_context(reason=f"job {job_id}: look up who started it"):
        row = (
            Job.objects.filter(id=job_id)
            .values("organization_id", "organization__slug", "created_by_id")
            .first()
        )
    if row is None:
        return None
    return Starter(
        job_id=uuid.UUID(str(job_id)),
        organization_id=row["organization_id"],
        org_slug=row["organization__slug"],
        user_id=row["created_by_id"],
    )


@dataclass
class JobContext:
    """What a job type's ``run`` gets: the job's facts and the ways to talk back."""

    starter: Starter
    project_id: uuid.UUID
    type: str
    parameters: dict[str, Any]
    user: User | None
    skipped: list[dict[str, str]] = field(default_factory=list)
    skipped_count: int = 0
    outputs: list[Asset] = field(default_factory=list)
    cancel_seen: bool = False
    _reported: int = -1

    @property
    def job_id(self) -> uuid.UUID:
        return self.starter.job_id

    @property
    def organization_id(self) -> uuid.UUID:
        return self.starter.organization_id

    @contextmanager
    def atomic(self) -> Iterator[OrgContext]:
        """A transaction acting as the job's starter in the job's organization."""
        if self.starter.user_id is None:
            raise StarterLostAccess(LOST_ACCESS)
        with acting_as(self.starter) as org:
            yield org

    def project(self) -> Project:
        with self.atomic():
            project = (
                Project.objects.filter(organization_id=self.organization_id, id=self.project_id)
                .defer("search")
                .first()
            )
        if project is None:
            raise StarterLostAccess(LOST_ACCESS)
        return project

    def report(self, progress: float) -> None:
        """Record progress (0-100), committed at once so the API shows it."""
        value = max(0, min(100, int(progress)))
        if value == self._reported:
            return
        with self.atomic():
            updated = Job.objects.filter(
                organization_id=self.organization_id, id=self.job_id, status=Job.Status.PROCESSING
            ).update(progress=value, updated_at=timezone.now())
            if updated and value // 10 > max(self._reported, 0) // 10:
                # Each tenth of the work is an event (the live feed shows progress);
                # finer steps only update the row.
                audit_record(
                    action="job.progress",
                    actor=self.user,
                    organization_id=self.organization_id,
                    target_type="projects.job",
                    target_id=str(self.job_id),
                    changes={"project": str(self.project_id), "progress": value},
                )
        if not updated:
            raise StarterLostAccess(LOST_ACCESS)
        self._reported = value

    def should_cancel(self) -> bool:
        """Whether someone asked to cancel the job. A job type that sees ``True``
        should stop and return; the job then ends ``canceled``."""
        with self.atomic():
            requested = (
                Job.objects.filter(organization_id=self.organization_id, id=self.job_id)
                .values_list("cancel_requested_at", flat=True)
                .first()
            )
        if requested is not None:
            self.cancel_seen = True
        return self.cancel_seen

    def check_canceled(self) -> None:
        """Raise :class:`JobCanceled` if cancellation was requested."""
        if self.should_cancel():
            raise JobCanceled()

    def skip(self, item: str, reason: str) -> None:
        """Record an item the job left out; the job then ends ``partial``."""
        self.skipped_count += 1
        if len(self.skipped) < MAX_SKIPPED_LISTED:
            self.skipped.append({"item": item, "reason": reason})

    def add_output(
        self, *, filename: str, content: File | bytes, content_type: str, title: str = ""
    ) -> Asset:
        """Store a produced file as an output ``Asset`` of the job (row and file together)."""
        from projects.services.assets import asset_create_output

        with self.atomic():
            asset = asset_create_output(
                actor=self.user,
                organization_id=self.organization_id,
                project_id=self.project_id,
                job_id=self.job_id,
                filename=filename,
                content=content,
                content_type=content_type,
                title=title,
            )
        self.outputs.append(asset)
        return asset


@contextmanager
def acting_as(starter: Starter) -> Iterator[OrgContext]:
    """``tenant_context`` as the starter, following a rename of the organization."""
    if starter.user_id is None:
        raise StarterLostAccess(LOST_ACCESS)
    try:
        with tenant_context(user_id=starter.user_id, org_slug=starter.org_slug) as org:
            yield _same_organization(starter, org)
    except OrganizationSuspended as exc:
        # tenant_context refuses every unit of work (claim, progress, output, status)
        # once the organization is suspended or the starter deactivated.
        raise StarterLostAccess(ORG_SUSPENDED) from exc
    except UserInactive as exc:
        raise StarterLostAccess(STARTER_INACTIVE) from exc


def _same_organization(starter: Starter, org: OrgContext | None) -> OrgContext:
    """The job's organization, entered again under its new slug if it was renamed."""
    if org is not None and org.organization_id == starter.organization_id:
        return org
    # Renamed since (the user claim is set, so their organizations are readable).
    slug = (
        Organization.objects.filter(id=starter.organization_id)
        .values_list("slug", flat=True)
        .first()
    )
    org = enter_org(starter.user_id, slug) if slug else None
    if org is None or org.organization_id != starter.organization_id:
        raise StarterLostAccess(LOST_ACCESS)
    starter.org_slug = slug
    if org.suspended:
        raise OrganizationSuspended()
    return org


@dataclass
class Outcome:
    status: str
    result: dict[str, Any] = field(default_factory=dict)
    error: str = ""


def run(job_id: str | uuid.UUID) -> str:
    """Run the job ``job_id`` to a final status; return that status (or why nothing ran)."""
    starter = find_starter(job_id)
    if starter is None:
        return "missing"
    with staging():
        try:
            context = _claim(starter)
        except StarterLostAccess as exc:
            _finish(starter, Outcome(Job.Status.FAILED, error=str(exc)), context=None)
            return Job.Status.FAILED
        if context is None:
            return "skipped"
        outcome = _execute(context)
        _finish(starter, outcome, context=context)
        return outcome.status


def _claim(starter: Starter) -> JobContext | None:
    """Move a queued job to ``processing``; ``None`` if it is not queued any more."""
    if starter.user_id is None:
        raise StarterLostAccess(LOST_ACCESS)
    with acting_as(starter):
        job = (
            Job.objects.select_for_update()
            .filter(organization_id=starter.organization_id, id=starter.job_id)
            .first()
        )
        if job is None:
            raise StarterLostAccess(LOST_ACCESS)
        if job.status != Job.Status.QUEUED:
            return None
        job.status = Job.Status.PROCESSING
        job.started_at = timezone.now()
        job.progress = 0
        job.save(update_fields=["status", "started_at", "progress", "updated_at"])
    return JobContext(
        starter=starter,
        project_id=job.project_id,
        type=job.type,
        parameters=dict(job.parameters),
        user=User.objects.filter(id=starter.user_id).first(),
    )


def _execute(context: JobContext) -> Outcome:
    job_type = registry.get(context.type)
    try:
        if job_type is None:
            raise JobFailed(f"Unknown job type {context.type!r}.")
        result = job_type.run(context) or {}
    except JobCanceled:
        return Outcome(Job.Status.CANCELED)
    except StarterLostAccess as exc:
        return Outcome(Job.Status.FAILED, error=str(exc))
    except JobFailed as exc:  # an expected failure, explained in its message
        logger.warning("job %s (%s) failed: %s", context.job_id, context.type, exc)
        return Outcome(Job.Status.FAILED, error=str(exc)[:MAX_ERROR_LENGTH])
    except Exception as exc:
        logger.exception("job %s (%s) failed", context.job_id, context.type)
        message = str(exc) or type(exc).__name__
        return Outcome(Job.Status.FAILED, error=message[:MAX_ERROR_LENGTH])
    if context.cancel_seen:
        return Outcome(Job.Status.CANCELED, result=result)
    if context.skipped_count:
        return Outcome(Job.Status.PARTIAL, result=result)
    return Outcome(Job.Status.COMPLETED, result=result)


def _finish(starter: Starter, outcome: Outcome, *, context: JobContext | None) -> None:
    """Record the final status as the starter; if they lost access, in the service context."""
    if context is not None:
        outcome.result = {**outcome.result}
        if context.skipped_count:
            outcome.result["skipped"] = context.skipped
            outcome.result["skipped_count"] = context.skipped_count
    try:
        if starter.user_id is None:
            raise StarterLostAccess(LOST_ACCESS)
        with acting_as(starter):
            _record(starter, outcome, context=context, actor=context.user if context else None)
    except StarterLostAccess as exc:
        if outcome.status != Job.Status.FAILED:
            outcome = Outcome(Job.Status.FAILED, result=outcome.result, error=str(exc))
        with service_context(
            reason=f"job {starter.job_id}: record its outcome (starter lost access)",
            organization_id=starter.organization_id,
        ):
            _record(starter, outcome, context=context, actor=None, missing_ok=True)


def _record(
    starter: Starter,
    outcome: Outcome,
    *,
    context: JobContext | None,
    actor: User | None,
    missing_ok: bool = False,
) -> None:
    job = (
        Job.objects.select_for_update()
        .filter(organization_id=starter.organization_id, id=starter.job_id)
        .first()
    )
    if job is None:
        if missing_ok:  # deleted with its project meanwhile
            return
        raise StarterLostAccess(LOST_ACCESS)
    if job.status in Job.FINAL:
        return
    job.status = outcome.status
    job.finished_at = timezone.now()
    job.result = outcome.result
    job.error = outcome.error
    if outcome.status in (Job.Status.COMPLETED, Job.Status.PARTIAL):
        job.progress = 100
    job.save(update_fields=["status", "finished_at", "result", "error", "progress", "updated_at"])
    outputs = [str(asset.id) for asset in context.outputs] if context else []
    audit_record(
        action="job.finished",
        actor=actor,
        organization_id=starter.organization_id,
        target=job,
        changes={"type": job.type, "status": job.status, "outputs": outputs, "error": job.error},
    )
