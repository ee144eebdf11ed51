"""Snapshots: a named, immutable set of revisions — one per live file — of a project.

Taking a snapshot copies no content: each entry points at the head revision
of a file. Restoring one never rewrites history: every file whose head
differs gets a *new* revision with the snapshot's content, soft-deleted files
of the snapshot come back, and files created since are soft-deleted — all in
one transaction, with the project and every file of it locked.

An entry records a file and a revision, not a path: a file renamed since the
snapshot keeps its new path when the snapshot is restored.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from config.errors import Conflict, conflict_on_duplicate
from projects.models import FileRevision, Project, ProjectFile, Snapshot, SnapshotEntry
from projects.services.files import append_revision, lock_files, lock_project, undelete


@transaction.atomic
def snapshot_create(*, actor: User, project: Project, name: str, description: str = "") -> Snapshot:
    """Record the head revision of every live file under ``name`` (unique per project)."""
    with conflict_on_duplicate(
        Conflict(
            "This project already has a snapshot with this name.",
            code="snapshot_name_taken",
            details={"name": ["This name is taken."]},
        )
    ):
        snapshot = Snapshot.objects.create(
            organization_id=project.organization_id,
            project_id=project.pk,
            name=name,
            description=description,
            created_by=actor,
        )
    # One statement, so one consistent view of every head even while others save.
    heads = ProjectFile.objects.filter(
        organization_id=project.organization_id,
        project_id=project.pk,
        deleted_at__isnull=True,
        current_revision__isnull=False,
    ).values_list("pk", "current_revision_id")
    entries = SnapshotEntry.objects.bulk_create(
        SnapshotEntry(
            organization_id=project.organization_id,
            project_id=project.pk,
            snapshot_id=snapshot.pk,
            file_id=file_id,
            revision_id=revision_id,
        )
        for file_id, revision_id in heads
    )
    snapshot.file_count = len(entries)
    audit_record(
        action="snapshot.created",
        actor=actor,
        organization_id=project.organization_id,
        target=snapshot,
        changes={"project": str(project.pk), "name": name, "files": len(entries)},
    )
    return snapshot


@transaction.atomic
def snapshot_restore(*, actor: User, project: Project, snapshot: Snapshot) -> dict[str, int]:
    """Bring the project's files back to the snapshot; return what was done:

    ``restored`` (new revision written), ``undeleted``, ``deleted`` (created
    after the snapshot, or brought back by nothing), ``unchanged``.
    409 ``path_taken`` if a file to bring back has a path another file of the
    snapshot now holds (nothing is written then).
    """
    lock_project(project)
    files = {
        file.pk: file
        for file in lock_files(organization_id=project.organization_id, project_id=project.pk)
    }
    entries = list(
        SnapshotEntry.objects.filter(organization_id=snapshot.organization_id, snapshot=snapshot)
        .select_related("revision")
        .defer("revision__content")
        .order_by("id")
    )
    in_snapshot = {entry.file_id for entry in entries}
    counts = {"restored": 0, "undeleted": 0, "deleted": 0, "unchanged": 0}

    now = timezone.now()
    extra = [pk for pk, f in files.items() if pk not in in_snapshot and f.deleted_at is None]
    if extra:
        counts["deleted"] = ProjectFile.objects.filter(
            organization_id=project.organization_id, pk__in=extra
        ).update(deleted_at=now, updated_at=now)

    def differs(entry: SnapshotEntry) -> bool:
        head = files[entry.file_id].current_revision
        return head is None or (head.sha256, head.size) != (
            entry.revision.sha256,
            entry.revision.size,
        )

    # Only the content that has to be written again is read.
    contents = dict(
        FileRevision.objects.filter(
            organization_id=snapshot.organization_id,
            pk__in=[entry.revision_id for entry in entries if differs(entry)],
        ).values_list("pk", "content")
    )
    message = f"Restore snapshot {snapshot.name!r}"[:300]
    for entry in entries:
        file = files[entry.file_id]
        undeleted = file.deleted_at is not None
        if undeleted:
            undelete(file)
            counts["undeleted"] += 1
        if entry.revision_id in contents:
            append_revision(
                file=file, content=contents[entry.revision_id], actor=actor, message=message
            )
            counts["restored"] += 1
        elif not undeleted:
            counts["unchanged"] += 1

    audit_record(
        action="snapshot.restored",
        actor=actor,
        organization_id=project.organization_id,
        target=snapshot,
        changes={"project": str(project.pk), "name": snapshot.name, **counts},
    )
    return counts
