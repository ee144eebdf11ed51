"""Reads for projects. Each takes its organization explicitly; RLS applies underneath.

List selectors join or annotate everything their serializers show, so a
page costs the same number of queries whatever its size.
"""

from __future__ import annotations

import difflib
import uuid
from typing import Any

from django.db.models import BooleanField, CharField, Count, Expression, Field, Prefetch, QuerySet

from projects.models import (
    FileRevision,
    Project,
    ProjectFile,
    ProjectMember,
    Snapshot,
    SnapshotEntry,
)


class _OfProjectAndUser(Expression):
    """A correlated subquery on a per-project, per-user table, from a fixed SQL template.

    ``Subquery``/``Exists`` over a queryset build, resolve and compile a whole inner
    query on every request (a tenth of a project list's time, issue 21); the text never
    changes but for the caller's id, which is a parameter here. The outer alias of
    ``projects_project`` is read from the compiling query, so the expression stays
    right when the queryset is nested in another one (its alias is relabelled then).
    The inner rows are matched on the organization as a *constant* (the outer query is
    always one organization's), not on the outer row's column: the same index lookup
    on one node, and on a Citus cluster the difference between a query routed to the
    organization's shard and one sent to every shard (a correlation on the distribution
    column defeats Citus's shard pruning; ``tests/citus/test_routing.py``).
    """

    def __init__(
        self, template: str, organization_id: uuid.UUID, user_id: uuid.UUID, output_field: Field
    ) -> None:
        super().__init__(output_field=output_field)
        self.template, self.params = template, (organization_id, user_id)

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        outer = compiler.quote_name_unless_alias(compiler.query.base_table)
        return self.template.format(p=outer), self.params


_MY_OVERRIDE_SQL = (
    '(SELECT pm_."role" FROM "projects_projectmember" pm_'
    ' WHERE pm_."organization_id" = %s AND pm_."project_id" = {p}."id"'
    ' AND pm_."user_id" = %s LIMIT 1)'
)
_IS_FAVORITE_SQL = (
    'EXISTS(SELECT 1 FROM "projects_favorite" f_'
    ' WHERE f_."organization_id" = %s AND f_."project_id" = {p}."id"'
    ' AND f_."user_id" = %s LIMIT 1)'
)


def _my_override(organization_id: uuid.UUID, user_id: uuid.UUID) -> Expression:
    """The caller's ``ProjectMember`` role on the project, if any."""
    return _OfProjectAndUser(_MY_OVERRIDE_SQL, organization_id, user_id, CharField())


def _is_favorite(organization_id: uuid.UUID, user_id: uuid.UUID) -> Expression:
    """Whether the caller starred the project."""
    return _OfProjectAndUser(_IS_FAVORITE_SQL, organization_id, user_id, BooleanField())


def project_for_user(
    *, organization_id: uuid.UUID, slug: str, user_id: uuid.UUID
) -> Project | None:
    """The project ``slug`` with ``my_override`` (the caller's ``ProjectMember`` role, if
    any), ``is_favorite`` and its creator.

    One query. ``None`` if it does not exist *or* the caller may not see it
    (RLS hides private projects from non-members).
    """
    return (
        Project.objects.filter(organization_id=organization_id, slug=slug)
        .select_related("created_by")
        # The creator's password fingerprint is a function of a coordinator-only table
        # (accounts/passwords.py): never needed here, and on a Citus cluster a join would
        # evaluate it on a worker.
        .defer("search", "created_by__password")
        .annotate(
            my_override=_my_override(organization_id, user_id),
            is_favorite=_is_favorite(organization_id, user_id),
        )
        .first()
    )


def projects_of(*, organization_id: uuid.UUID) -> QuerySet[Project]:
    return Project.objects.filter(organization_id=organization_id)


def projects_for_user(*, organization_id: uuid.UUID, user_id: uuid.UUID) -> QuerySet[Project]:
    """The projects the caller can see, with ``my_override`` and ``is_favorite``.

    Shaped for ``.values()`` (the project list reads ``PROJECT_LIST_COLUMNS``, the
    creator through ``created_by__...``: a join): no ``select_related``/``defer``,
    which ``.values()`` drops after each cost a copy of the query (issue 21). Add
    them back before iterating instances.
    """
    return Project.objects.filter(organization_id=organization_id).annotate(
        my_override=_my_override(organization_id, user_id),
        is_favorite=_is_favorite(organization_id, user_id),
    )


def project_members_of(*, project: Project) -> QuerySet[ProjectMember]:
    return ProjectMember.objects.filter(
        organization_id=project.organization_id, project_id=project.pk
    ).select_related("user")


def files_of(*, project: Project) -> QuerySet[ProjectFile]:
    """Every file of the project, deleted ones included, with its head revision's
    metadata (not its content)."""
    return (
        ProjectFile.objects.filter(organization_id=project.organization_id, project_id=project.pk)
        .select_related("current_revision")
        .defer("search", "current_revision__content")
    )


def file_of(*, project: Project, file_id: uuid.UUID) -> ProjectFile | None:
    """One file of the project with its head revision (content included) and its author."""
    return (
        ProjectFile.objects.filter(
            organization_id=project.organization_id, project_id=project.pk, pk=file_id
        )
        .select_related("current_revision", "current_revision__author")
        .defer("search")
        .first()
    )


def file_ref(*, project: Project, file_id: uuid.UUID) -> ProjectFile | None:
    """One file of the project without its head revision or search vector: enough to
    address its history or hand it to a service (which locks and re-reads it)."""
    return (
        ProjectFile.objects.filter(
            organization_id=project.organization_id, project_id=project.pk, pk=file_id
        )
        .only("id", "organization_id", "project_id", "path", "current_revision_id", "deleted_at")
        .first()
    )


def revisions_of(*, file: ProjectFile) -> QuerySet[FileRevision]:
    """A file's revisions without their content."""
    return (
        FileRevision.objects.filter(organization_id=file.organization_id, file_id=file.pk)
        .select_related("author")
        .defer("content")
    )


def revision_of(*, file: ProjectFile, number: int) -> FileRevision | None:
    return (
        FileRevision.objects.filter(
            organization_id=file.organization_id, file_id=file.pk, number=number
        )
        .select_related("author")
        .first()
    )


def revision_diff(*, file: ProjectFile, from_number: int, to_number: int) -> str | None:
    """Unified diff from revision ``from_number`` to ``to_number``; ``None`` if one is missing."""
    contents = dict(
        FileRevision.objects.filter(
            organization_id=file.organization_id,
            file_id=file.pk,
            number__in={from_number, to_number},
        ).values_list("number", "content")
    )
    if from_number not in contents or to_number not in contents:
        return None
    return "".join(
        difflib.unified_diff(
            contents[from_number].splitlines(keepends=True),
            contents[to_number].splitlines(keepends=True),
            fromfile=f"a/{file.path}@{from_number}",
            tofile=f"b/{file.path}@{to_number}",
        )
    )


def snapshots_of(*, project: Project) -> QuerySet[Snapshot]:
    return (
        Snapshot.objects.filter(organization_id=project.organization_id, project_id=project.pk)
        .select_related("created_by")
        .annotate(file_count=Count("entries"))
    )


def snapshot_of(*, project: Project, snapshot_id: uuid.UUID) -> Snapshot | None:
    """One snapshot with its entries (file path and revision number; no content)."""
    entries = (
        SnapshotEntry.objects.select_related("file", "revision")
        .defer("file__search", "revision__content")
        .order_by("file__path", "id")
    )
    return (
        Snapshot.objects.filter(
            organization_id=project.organization_id, project_id=project.pk, pk=snapshot_id
        )
        .select_related("created_by")
        .annotate(file_count=Count("entries"))
        .prefetch_related(Prefetch("entries", queryset=entries, to_attr="entry_list"))
        .first()
    )


def project_document(*, project: Project) -> Project:
    """``project`` with ``document_members`` and ``document_files`` (every live file with
    its head revision, content included), for the whole-project document.

    Two queries, whatever the number of files or members (the project itself
    was loaded by the view).
    """
    project.document_members = list(
        project_members_of(project=project).order_by("created_at", "id")
    )
    project.document_files = list(
        ProjectFile.objects.filter(
            organization_id=project.organization_id,
            project_id=project.pk,
            deleted_at__isnull=True,
        )
        .select_related("current_revision")
        .defer("search")
        .order_by("path")
    )
    return project
