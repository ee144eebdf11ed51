"""Every write to project files and their revisions.

A file's content lives only in its revisions, which are immutable and
numbered 1, 2, 3... per file. A new number is taken while the file's row is
locked (``SELECT ... FOR NO KEY UPDATE``), so two concurrent saves of one file
queue up and get consecutive numbers instead of colliding; the second one
sees the first one's head. Saving content identical to the head makes no
revision. Restoring an old revision appends a new revision with its content:
history is never rewritten (the runtime roles cannot UPDATE or DELETE
revisions at all).

Audit: deleting and restoring files are audited (``file.deleted``,
``file.restored``); ordinary saves and creations are **not** — every save is
already recorded, with author and message, as a revision in the file's
history.

Locks are always taken project first, then files, so the services cannot
deadlock each other (creating a file and undeleting one lock the project row
to hold the per-project file limit).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid

from django.conf import settings
from django.contrib.postgres.search import SearchVector
from django.db import transaction
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Left
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from config.errors import Conflict, DomainError, Invalid, NotFound, conflict_on_duplicate
from projects.models import SEARCHABLE_TEXT_CHARS, FileRevision, Project, ProjectFile

MAX_PATH_LENGTH = 500


class FileTooLarge(DomainError):
    """A file's content is over ``settings.PROJECT_MAX_FILE_BYTES`` (413 ``file_too_large``)."""

    status_code = 413
    code = "file_too_large"


# --- rules ------------------------------------------------------------------------------


def _bad_path(message: str) -> Invalid:
    return Invalid("The path is not allowed.", code="validation_error", details={"path": [message]})


def normalize_path(path: str) -> str:
    """The canonical form of a project path, or a 400.

    Surrounding whitespace is dropped and Unicode is NFC-normalised; anything
    else that is not canonical is refused rather than silently rewritten:
    a leading ``/``, ``.`` or ``..`` segments, empty segments (``a//b``, a
    trailing ``/``), backslashes, control characters, more than 500 characters.
    """
    path = unicodedata.normalize("NFC", path.strip())
    if not path:
        raise _bad_path("A path is required.")
    if len(path) > MAX_PATH_LENGTH:
        raise _bad_path(f"At most {MAX_PATH_LENGTH} characters.")
    if path.startswith("/"):
        raise _bad_path("Paths are relative to the project: no leading slash.")
    if "\\" in path:
        raise _bad_path("Use / to separate folders.")
    if any(ord(char) < 32 or ord(char) == 127 for char in path):
        raise _bad_path("Control characters are not allowed.")
    segments = path.split("/")
    if any(segment == "" for segment in segments):
        raise _bad_path("Empty segments (// or a trailing /) are not allowed.")
    if any(segment in (".", "..") for segment in segments):
        raise _bad_path("'.' and '..' segments are not allowed.")
    return path


def encoded_size(content: str) -> int:
    return len(content.encode("utf-8"))


def _check_size(content: str) -> int:
    size = encoded_size(content)
    if size > settings.PROJECT_MAX_FILE_BYTES:
        raise FileTooLarge(
            f"A file may hold at most {settings.PROJECT_MAX_FILE_BYTES} bytes.",
            details={"content": [f"{size} bytes; the limit is {settings.PROJECT_MAX_FILE_BYTES}."]},
        )
    return size


def _path_taken(path: str) -> Conflict:
    return Conflict(
        "Another file already has this path.",
        code="path_taken",
        details={"path": [f"{path!r} is taken."]},
    )


# --- locks ---------------------------------------------------------------------------------


def lock_project(project: Project) -> None:
    """Lock the project row for this transaction (``FOR NO KEY UPDATE``: inserts of
    rows that reference the project are not blocked, other lockers wait).

    RLS applies the project's UPDATE policy to the lock, so only someone who may
    write the project gets it; anyone else gets a 404.
    """
    locked = (
        Project.objects.select_for_update(no_key=True)
        .filter(organization_id=project.organization_id, pk=project.pk)
        .values_list("pk", flat=True)
        .first()
    )
    if locked is None:
        raise NotFound("This project does not exist.")


def lock_files(**lookup: object) -> list[ProjectFile]:
    """Lock and return files, ordered by id, each with its head revision (without content).

    The heads are read *after* the lock is granted, in a second statement: had
    they been joined into the locking statement, a save that committed while we
    waited would leave us with the old head (PostgreSQL re-checks only the
    locked row), and two saves would take the same number.
    """
    files = list(
        ProjectFile.objects.select_for_update(no_key=True)
        .filter(**lookup)
        .defer("search")
        .order_by("id")
    )
    head_ids = [file.current_revision_id for file in files if file.current_revision_id]
    heads = FileRevision.objects.defer("content").in_bulk(head_ids) if head_ids else {}
    for file in files:
        file.current_revision = heads.get(file.current_revision_id)
    return files


def _lock_file(file: ProjectFile) -> ProjectFile:
    found = lock_files(organization_id=file.organization_id, pk=file.pk)
    if not found:
        raise NotFound("This file does not exist.")
    return found[0]


def _check_file_limit(project: Project) -> None:
    """Call with the project locked."""
    live = ProjectFile.objects.filter(
        organization_id=project.organization_id, project_id=project.pk, deleted_at__isnull=True
    ).count()
    if live >= settings.PROJECT_MAX_FILES:
        raise Conflict(
            f"A project may hold at most {settings.PROJECT_MAX_FILES} files.", code="file_limit"
        )


# --- revisions -------------------------------------------------------------------------------


def _search_vector(path: str, content: str | None = None) -> SearchVector:
    """``path`` + head content; ``content=None``: the head content already in the database.

    The path is indexed as written (PostgreSQL's parser reads ``src/app.py`` as one
    file-path token) and split into words (``src app py``), so both match.
    """
    text = (
        Value(content[:SEARCHABLE_TEXT_CHARS])
        if content is not None
        else Subquery(
            FileRevision.objects.filter(
                organization_id=OuterRef("organization_id"), pk=OuterRef("current_revision_id")
            ).values(start=Left("content", SEARCHABLE_TEXT_CHARS))[:1]
        )
    )
    words = re.sub(r"[/._\-]+", " ", path)
    return SearchVector(Value(path), Value(words), text, config="english")


def append_revision(
    *,
    file: ProjectFile,
    content: str,
    actor: User | None,
    message: str = "",
    generation_id: uuid.UUID | None = None,
) -> FileRevision | None:
    """Append a revision to a **locked** file (see :func:`lock_files`) and make it head.

    Returns ``None`` and writes nothing when ``content`` equals the head's.
    Updates the file's ``current_revision``, ``size`` and search vector.
    """
    size = _check_size(content)
    sha256 = hashlib.sha256(content.encode("utf-8")).hexdigest()
    head = file.current_revision
    if head is not None and head.sha256 == sha256 and head.size == size:
        return None
    revision = FileRevision.objects.create(
        organization_id=file.organization_id,
        project_id=file.project_id,
        file_id=file.pk,
        number=head.number + 1 if head else 1,
        content=content,
        sha256=sha256,
        size=size,
        author=actor,
        message=message,
        generation_id=generation_id,
    )
    now = timezone.now()
    ProjectFile.objects.filter(organization_id=file.organization_id, pk=file.pk).update(
        current_revision_id=revision.pk,
        size=size,
        search=_search_vector(file.path, content),
        updated_at=now,
    )
    file.current_revision, file.size, file.updated_at = revision, size, now
    return revision


# --- files ------------------------------------------------------------------------------------


@transaction.atomic
def file_create(
    *,
    actor: User | None,
    project: Project,
    path: str,
    content: str = "",
    message: str = "",
    generation_id: uuid.UUID | None = None,
) -> ProjectFile:
    """Create a file with revision 1. Not audited (the revision is the record)."""
    path = normalize_path(path)
    _check_size(content)
    lock_project(project)
    _check_file_limit(project)
    with conflict_on_duplicate(_path_taken(path)):
        file = ProjectFile.objects.create(
            organization_id=project.organization_id, project_id=project.pk, path=path
        )
    append_revision(
        file=file, content=content, actor=actor, message=message, generation_id=generation_id
    )
    return file


@transaction.atomic
def file_update(
    *,
    actor: User | None,
    file: ProjectFile,
    content: str | None = None,
    path: str | None = None,
    message: str = "",
    generation_id: uuid.UUID | None = None,
) -> tuple[ProjectFile, FileRevision | None]:
    """Save new content and/or rename. Returns the file and the new revision, if any.

    Unchanged content makes no revision. A rename keeps the file and its whole
    history (revisions belong to the file, not to the path). Not audited.
    """
    if path is not None:
        path = normalize_path(path)
    if content is not None:
        _check_size(content)
    locked = _lock_file(file)
    if locked.deleted_at is not None:
        raise Conflict("This file is deleted; restore it first.", code="file_deleted")
    if path is not None and path != locked.path:
        with conflict_on_duplicate(_path_taken(path)):
            ProjectFile.objects.filter(organization_id=locked.organization_id, pk=locked.pk).update(
                path=path, search=_search_vector(path), updated_at=timezone.now()
            )
        locked.path = path
    revision = None
    if content is not None:
        revision = append_revision(
            file=locked,
            content=content,
            actor=actor,
            message=message,
            generation_id=generation_id,
        )
    return locked, revision


@transaction.atomic
def file_delete(*, actor: User, file: ProjectFile) -> None:
    """Soft-delete: the file leaves the tree, its history stays. Idempotent."""
    locked = _lock_file(file)
    if locked.deleted_at is not None:
        return
    ProjectFile.objects.filter(organization_id=locked.organization_id, pk=locked.pk).update(
        deleted_at=timezone.now(), updated_at=timezone.now()
    )
    audit_record(
        action="file.deleted",
        actor=actor,
        organization_id=locked.organization_id,
        target=locked,
        changes={"project": str(locked.project_id), "path": locked.path},
    )


def undelete(file: ProjectFile) -> None:
    """Bring a soft-deleted, **locked** file back (project locked too). 409 if its path is taken."""
    with conflict_on_duplicate(_path_taken(file.path)):
        ProjectFile.objects.filter(organization_id=file.organization_id, pk=file.pk).update(
            deleted_at=None, updated_at=timezone.now()
        )
    file.deleted_at = None


@transaction.atomic
def file_restore(
    *, actor: User, project: Project, file: ProjectFile, number: int, message: str = ""
) -> FileRevision | None:
    """Make the content of revision ``number`` the head again, as a **new** revision.

    Restoring content identical to the head is a no-op (``None``, no audit
    event). A deleted file is brought back (subject to the file limit and its
    path being free).
    """
    lock_project(project)
    locked = _lock_file(file)
    source = FileRevision.objects.filter(
        organization_id=locked.organization_id, file_id=locked.pk, number=number
    ).first()
    if source is None:
        raise NotFound(f"This file has no revision {number}.")
    undeleted = locked.deleted_at is not None
    if undeleted:
        _check_file_limit(project)
        undelete(locked)
    revision = append_revision(
        file=locked,
        content=source.content,
        actor=actor,
        message=message or f"Restore revision {number}",
    )
    if revision is None and not undeleted:
        return None
    audit_record(
        action="file.restored",
        actor=actor,
        organization_id=locked.organization_id,
        target=locked,
        changes={
            "project": str(locked.project_id),
            "path": locked.path,
            "from_revision": number,
            "revision": revision.number if revision else None,
            "undeleted": undeleted,
        },
    )
    return revision
