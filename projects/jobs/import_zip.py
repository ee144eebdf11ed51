"""``project.import_zip``: every file in an uploaded zip becomes a revision of a project file.

Parameters: ``asset_id`` (a zip asset of the project), optional ``message``
(the revisions' message).

Two passes. The first reads every entry (bounded by ``PROJECT_MAX_FILE_BYTES``)
and decides what to import, so a corrupt archive — not a zip, or an entry
whose data fails its CRC — fails the job before anything is written. Entries
that cannot be files are skipped with a reason and the job ends ``partial``:
over the size limit, not UTF-8 text, a path the project does not accept,
encrypted, a duplicate path, beyond the project's file limit. The second pass
saves each file through the workspace's file services (a new file, or a new
revision of the live file at that path; unchanged content makes no revision),
one short transaction per file, as the user who started the job, reporting
progress and checking for cancellation between files.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
import zipfile
import zlib
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import DataError

from config.errors import Conflict, DomainError, Invalid
from projects.jobs.registry import register
from projects.jobs.runner import JobContext, JobFailed
from projects.models import Asset, Project, ProjectFile
from projects.services.files import file_create, file_update, normalize_path

SPOOL_BYTES = 16 * 1024 * 1024
ZIP_TYPES = frozenset({"application/zip"})


def _invalid(field: str, message: str) -> Invalid:
    return Invalid("The job's parameters are invalid.", details={"parameters": {field: [message]}})


def validate(parameters: dict[str, Any], project: Project) -> dict[str, Any]:
    unknown = sorted(set(parameters) - {"asset_id", "message"})
    if unknown:
        raise Invalid(
            "Unknown parameters.",
            details={"parameters": {name: ["Unknown parameter."] for name in unknown}},
        )
    try:
        asset_id = uuid.UUID(str(parameters.get("asset_id", "")))
    except ValueError:
        raise _invalid("asset_id", "The id of an uploaded zip asset is required.") from None
    asset = (
        Asset.objects.filter(
            organization_id=project.organization_id, project_id=project.pk, id=asset_id
        )
        .only("content_type", "filename")
        .first()
    )
    if asset is None:
        raise _invalid("asset_id", "No such asset in this project.")
    if asset.content_type not in ZIP_TYPES:
        raise _invalid("asset_id", "The asset is not a zip archive.")
    message = parameters.get("message", f"Import from {asset.filename}")
    if not isinstance(message, str) or len(message) > 300:
        raise _invalid("message", "At most 300 characters of text.")
    return {"asset_id": str(asset_id), "message": message}


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of an entry; reading a whole entry checks its CRC."""
    with archive.open(info) as entry:
        return entry.read(limit + 1)


def _plan(context: JobContext, archive: zipfile.ZipFile) -> list[tuple[str, zipfile.ZipInfo]]:
    limit = settings.PROJECT_MAX_FILE_BYTES
    plan: list[tuple[str, zipfile.ZipInfo]] = []
    seen: set[str] = set()
    for info in archive.infolist():
        if info.is_dir():
            continue
        name = info.filename
        try:
            path = normalize_path(name)
        except Invalid as exc:
            reason = "; ".join(str(m) for m in exc.details.get("path", [])) or exc.message
            context.skip(name, f"invalid path: {reason}")
            continue
        if path in seen:
            context.skip(name, "duplicate path in the archive")
            continue
        if info.flag_bits & 0x1:
            context.skip(name, "encrypted")
            continue
        if info.file_size > limit:
            context.skip(name, f"larger than {limit} bytes")
            continue
        try:
            data = _read(archive, info, limit)
        except NotImplementedError:
            context.skip(name, "unsupported compression method")
            continue
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise JobFailed(f"The archive is corrupt ({name}: {exc}).") from exc
        if len(data) > limit:
            context.skip(name, f"larger than {limit} bytes")
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            context.skip(name, "not UTF-8 text")
            continue
        if "\x00" in text:
            context.skip(name, "binary content")
            continue
        if len(plan) >= settings.PROJECT_MAX_FILES:
            context.skip(name, "over the project's file limit")
            continue
        seen.add(path)
        plan.append((path, info))
    return plan


def _save(
    context: JobContext, project: Project, path: str, content: str, message: str
) -> str | None:
    """Save one file as the job's starter; the outcome, or ``None`` if it was skipped."""
    with context.atomic():
        for _attempt in range(2):
            existing = (
                ProjectFile.objects.filter(
                    organization_id=project.organization_id,
                    project_id=project.pk,
                    path=path,
                    deleted_at__isnull=True,
                )
                .only("id", "organization_id", "project_id", "path")
                .first()
            )
            try:
                if existing is not None:
                    _, revision = file_update(
                        actor=context.user, file=existing, content=content, message=message
                    )
                    return "updated" if revision else "unchanged"
                file_create(
                    actor=context.user, project=project, path=path, content=content, message=message
                )
                return "created"
            except Conflict as exc:
                if exc.code in ("path_taken", "file_deleted"):
                    continue  # created or deleted concurrently: look again
                context.skip(path, exc.message)
                return None
            except DomainError as exc:
                context.skip(path, exc.message)
                return None
            except DataError as exc:  # e.g. content the search index cannot hold
                context.skip(path, f"could not be saved: {exc}".strip())
                return None
    context.skip(path, "the file kept changing; try again")
    return None


@register(
    "project.import_zip",
    validate=validate,
    description="Import the files of an uploaded zip as new revisions.",
)
def import_zip(context: JobContext) -> dict[str, Any]:
    project = context.project()
    if project.archived_at is not None:
        raise JobFailed("The project was archived; nothing was imported.")
    message = context.parameters.get("message", "")
    with context.atomic():
        asset = (
            Asset.objects.filter(
                organization_id=context.organization_id,
                project_id=project.pk,
                id=context.parameters["asset_id"],
            )
            .only("file")
            .first()
        )
    if asset is None:
        raise JobFailed("The zip asset to import no longer exists.")
    outcome: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": []}
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as buffer:
        with default_storage.open(asset.file.name, "rb") as source:
            shutil.copyfileobj(source, buffer)
        buffer.seek(0)
        try:
            archive = zipfile.ZipFile(buffer)
        except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as exc:
            raise JobFailed(f"The file is not a valid zip archive: {exc}.") from exc
        with archive:
            plan = _plan(context, archive)
            limit = settings.PROJECT_MAX_FILE_BYTES
            for done, (path, info) in enumerate(plan, start=1):
                if context.should_cancel():
                    break
                content = _read(archive, info, limit).decode("utf-8")
                result = _save(context, project, path, content, message)
                if result is not None:
                    outcome[result].append(path)
                context.report(done * 100 / len(plan))
    return outcome
