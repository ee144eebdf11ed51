"""``project.export``: every live file of the project at head, in one zip output asset.

The list of files and their head revisions is read once, in one transaction,
so the archive is a consistent picture of the project at that moment (the
revisions themselves are immutable). Contents are then read in batches;
progress is reported per file and cancellation checked between batches.
"""

from __future__ import annotations

import datetime
import tempfile
import zipfile
from typing import Any

from django.core.files.base import File
from django.utils import timezone

from projects.jobs.registry import register
from projects.jobs.runner import JobContext
from projects.models import FileRevision, ProjectFile

BATCH = 50
SPOOL_BYTES = 8 * 1024 * 1024


@register("project.export", description="Zip every live file of the project at head.")
def export(context: JobContext) -> dict[str, Any]:
    project = context.project()
    with context.atomic():
        heads = list(
            ProjectFile.objects.filter(
                organization_id=context.organization_id,
                project_id=project.pk,
                deleted_at__isnull=True,
                current_revision__isnull=False,
            )
            .order_by("path")
            .values_list("path", "current_revision_id")
        )
    total = len(heads)
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as buffer:
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for start in range(0, total, BATCH):
                if context.should_cancel():
                    return {"files": start}
                batch = heads[start : start + BATCH]
                with context.atomic():
                    revisions = {
                        rev_id: (content, created_at)
                        for rev_id, content, created_at in FileRevision.objects.filter(
                            organization_id=context.organization_id,
                            id__in=[rev_id for _, rev_id in batch],
                        ).values_list("id", "content", "created_at")
                    }
                for offset, (path, rev_id) in enumerate(batch, start=1):
                    content, created_at = revisions[rev_id]
                    entry = zipfile.ZipInfo(path, date_time=_zip_time(created_at))
                    entry.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(entry, content.encode("utf-8"))
                    context.report((start + offset) * 100 / total)
        buffer.seek(0)
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        asset = context.add_output(
            filename=f"{project.slug}-{stamp}.zip",
            content=File(buffer, name=f"{project.slug}.zip"),
            content_type="application/zip",
            title=f"Export of {project.name}",
        )
    return {"files": total, "asset_id": str(asset.id), "size": asset.size}


def _zip_time(moment: Any) -> tuple[int, int, int, int, int, int]:
    moment = timezone.localtime(moment, datetime.UTC) if moment else timezone.now()
    year = max(moment.year, 1980)
    return (year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
