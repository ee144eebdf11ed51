"""Starting and canceling jobs. Running them is :mod:`projects.jobs.runner`'s part.

A job is queued here and handed to the task worker once the request's
transaction commits (``run_job`` is enqueued ``on_commit``: a rolled-back
request queues nothing, and the worker never looks for a job that is not
there yet).

Cancel: a queued job is canceled at once (the worker will skip it); a
processing job gets ``cancel_requested_at`` and stops at its next check.
Canceling a canceled job, or asking twice, changes nothing; a job that has
finished otherwise cannot be canceled (409 ``job_finished``).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from config.errors import Conflict, Invalid, NotFound
from projects.jobs import registry
from projects.models import Job, Project


@transaction.atomic
def job_create(*, actor: User, project: Project, type: str, parameters: dict[str, Any]) -> Job:
    job_type = registry.get(type)
    if job_type is None:
        raise Invalid(
            "Unknown job type.",
            details={"type": [f"Unknown job type; one of: {', '.join(registry.names())}."]},
        )
    cleaned = job_type.validate(dict(parameters), project)
    job = Job.objects.create(
        organization_id=project.organization_id,
        project_id=project.pk,
        type=type,
        parameters=cleaned,
        created_by=actor,
    )
    audit_record(
        action="job.created",
        actor=actor,
        organization_id=project.organization_id,
        target=job,
        changes={"project": str(project.pk), "type": type, "parameters": cleaned},
    )
    _enqueue_on_commit(job)
    return job


def _enqueue_on_commit(job: Job) -> None:
    from projects.tasks import run_job

    job_id = str(job.id)
    transaction.on_commit(lambda: run_job.enqueue(job_id))


@transaction.atomic
def job_cancel(*, actor: User, job: Job) -> Job:
    locked = (
        Job.objects.select_for_update()
        .filter(organization_id=job.organization_id, id=job.id)
        .first()
    )
    if locked is None:
        raise NotFound("This job does not exist.")
    now = timezone.now()
    if locked.status == Job.Status.QUEUED:
        locked.status = Job.Status.CANCELED
        locked.cancel_requested_at = locked.finished_at = now
        locked.save(update_fields=["status", "cancel_requested_at", "finished_at", "updated_at"])
    elif locked.status == Job.Status.PROCESSING:
        if locked.cancel_requested_at is not None:
            return locked
        locked.cancel_requested_at = now
        locked.save(update_fields=["cancel_requested_at", "updated_at"])
    elif locked.status == Job.Status.CANCELED:
        return locked
    else:
        raise Conflict(f"This job has already finished ({locked.status}).", code="job_finished")
    audit_record(
        action="job.canceled",
        actor=actor,
        organization_id=locked.organization_id,
        target=locked,
        changes={
            "project": str(locked.project_id),
            "type": locked.type,
            "status": locked.status,
            "requested_while": "processing" if locked.status == Job.Status.PROCESSING else "queued",
        },
    )
    return locked
