"""The workspace API: projects, their members and favorites, files with their
revisions, snapshots, and the whole-project document.

Thin views: the base classes resolve the organization and the project and
decide permissions (``scope_map`` + the permission matrix + per-project
roles), services write, selectors read.
"""

from __future__ import annotations

import uuid
from typing import Any

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.filters import FilterSet
from config.api.pagination import CursorPagination
from config.api.params import history_range, history_range_parameters
from config.api.serializers import validated
from organizations.api.base import ListAPIMixin, OrgScopedAPIView
from organizations.permissions import project_role
from projects import selectors
from projects.api.base import ProjectScopedAPIView
from projects.api.workspace_serializers import (
    PROJECT_LIST_COLUMNS,
    FileCreateSerializer,
    FileDetailSerializer,
    FileRestoreSerializer,
    FileSerializer,
    FileUpdateSerializer,
    ProjectCreateSerializer,
    ProjectDocumentSerializer,
    ProjectMemberCreateSerializer,
    ProjectMemberSerializer,
    ProjectMemberUpdateSerializer,
    ProjectSerializer,
    ProjectUpdateSerializer,
    RevisionDetailSerializer,
    RevisionDiffSerializer,
    RevisionSerializer,
    SnapshotCreateSerializer,
    SnapshotDetailSerializer,
    SnapshotRestoreResultSerializer,
    SnapshotSerializer,
    project_list_item,
)
from projects.models import FileRevision, Project, ProjectFile, ProjectMember, Snapshot
from projects.services import files as file_services
from projects.services import projects as project_services
from projects.services import snapshots as snapshot_services


class PathCursorPagination(CursorPagination):
    """Files are listed in path order (a file tree), not newest first."""

    ordering = ("path", "id")


class RevisionCursorPagination(CursorPagination):
    """Revisions newest first, by their number."""

    ordering = ("-number",)


class _WithOrgRole:
    """Serializers of projects need the caller's org role to compute ``my_role``."""

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()  # type: ignore[misc]
        org = getattr(self, "org", None)
        context["org_role"] = org.role if org else None
        return context


# --- projects ---------------------------------------------------------------------------


class ProjectFilter(FilterSet):
    tag = filters.CharFilter(method="filter_tag", help_text="Projects carrying this tag.")
    visibility = filters.ChoiceFilter(choices=Project.Visibility.choices)
    archived = filters.BooleanFilter(
        method="filter_archived", help_text="Archived projects only (default: false)."
    )
    favorite = filters.BooleanFilter(
        method="filter_favorite", help_text="Only projects you starred (or did not)."
    )

    class Meta:
        model = Project
        fields = ["tag", "visibility", "archived", "favorite"]

    @classmethod
    def apply_defaults(cls, queryset: Any) -> Any:
        return queryset.filter(archived_at__isnull=True)

    def filter_queryset(self, queryset: Any) -> Any:
        queryset = super().filter_queryset(queryset)
        if self.form.cleaned_data.get("archived") is None:
            queryset = self.apply_defaults(queryset)
        return queryset

    def filter_tag(self, queryset: Any, name: str, value: str) -> Any:
        return queryset.filter(tags__contains=[value])

    def filter_archived(self, queryset: Any, name: str, value: bool) -> Any:
        return queryset.filter(archived_at__isnull=not value)

    def filter_favorite(self, queryset: Any, name: str, value: bool) -> Any:
        return queryset.filter(is_favorite=value)


class ProjectListView(_WithOrgRole, ListAPIMixin, OrgScopedAPIView):
    """Projects you can see (private ones only if you are on them or an org admin);
    create one."""

    scope_map = {"GET": "project.list", "POST": "project.create"}
    declared_errors = {"POST": (409,)}  # slug_taken
    queryset = Project.objects.none()
    serializer_class = ProjectSerializer
    filterset_class = ProjectFilter
    ordering_fields = ("created_at", "updated_at", "name", "slug")  # in PROJECT_LIST_COLUMNS
    search_fields = ("name", "slug", "description")

    def scoped_queryset(self) -> Any:
        return selectors.projects_for_user(
            organization_id=self.organization_id, user_id=self.request.user.id
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rows = self.filter_queryset(self.get_queryset()).values(*PROJECT_LIST_COLUMNS)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response([project_list_item(row, self.org.role) for row in page])

    @extend_schema(request=ProjectCreateSerializer, responses={201: ProjectSerializer})
    def post(self, request: Request, org_slug: str) -> Response:
        """Create a project. Only org owners and admins may create a private one."""
        data = validated(ProjectCreateSerializer, request)
        project = project_services.project_create(
            actor=request.user,
            organization_id=self.organization_id,
            actor_project_role=project_role(self.org.role, None, private=False),
            **data,
        )
        return Response(
            ProjectSerializer(project, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )


class _ProjectView(_WithOrgRole, ProjectScopedAPIView):
    queryset = Project.objects.none()

    def project_data(self, project: Project | None = None) -> dict[str, Any]:
        return ProjectSerializer(
            project or self.project, context=self.get_serializer_context()
        ).data


class ProjectDetailView(_ProjectView):
    scope_map = {"GET": "project.view", "PATCH": "project.update", "DELETE": "project.delete"}
    serializer_class = ProjectSerializer

    def get(self, request: Request, **kwargs: Any) -> Response:
        return Response(self.project_data())

    @extend_schema(request=ProjectUpdateSerializer, responses=ProjectSerializer)
    def patch(self, request: Request, **kwargs: Any) -> Response:
        """Change name, slug, description, tags, settings (replaced whole) or visibility
        (visibility needs an org owner or admin)."""
        data = validated(ProjectUpdateSerializer, request)
        project = project_services.project_update(
            actor=request.user,
            actor_project_role=self.my_project_role,
            project=self.project,
            **data,
        )
        return Response(self.project_data(project))

    def delete(self, request: Request, **kwargs: Any) -> Response:
        """Delete the project with all its files, history, snapshots and activity."""
        project_services.project_delete(actor=request.user, project=self.project)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectArchiveView(_ProjectView):
    """``POST`` archives (read-only from then on), ``DELETE`` unarchives. Both idempotent."""

    scope_map = {"POST": "project.archive", "DELETE": "project.archive"}
    serializer_class = ProjectSerializer

    @extend_schema(request=None, responses=ProjectSerializer)
    def post(self, request: Request, **kwargs: Any) -> Response:
        project = project_services.project_archive(actor=request.user, project=self.project)
        return Response(self.project_data(project))

    @extend_schema(request=None, responses=ProjectSerializer)
    def delete(self, request: Request, **kwargs: Any) -> Response:
        project = project_services.project_unarchive(actor=request.user, project=self.project)
        return Response(self.project_data(project))


class ProjectFavoriteView(_ProjectView):
    """``PUT`` stars the project for you, ``DELETE`` unstars it. Both idempotent."""

    scope_map = {"PUT": "project.favorite", "DELETE": "project.favorite"}
    serializer_class = None

    @extend_schema(request=None, responses={204: None})
    def put(self, request: Request, **kwargs: Any) -> Response:
        project_services.favorite_add(user=request.user, project=self.project)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, **kwargs: Any) -> Response:
        project_services.favorite_remove(user=request.user, project=self.project)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectDocumentView(_ProjectView):
    """The whole project as one JSON document: its fields and settings, its members,
    and every live file at head with content. A fixed number of queries."""

    scope_map = {"GET": "project.view"}
    serializer_class = ProjectDocumentSerializer

    def get(self, request: Request, **kwargs: Any) -> Response:
        document = selectors.project_document(project=self.project)
        return Response(
            ProjectDocumentSerializer(document, context=self.get_serializer_context()).data
        )


# --- project members ----------------------------------------------------------------------


class ProjectMemberListView(ListAPIMixin, ProjectScopedAPIView):
    """People with a per-project role (which widens or narrows their org role here)."""

    scope_map = {"GET": "project.view", "POST": "project.members"}
    queryset = ProjectMember.objects.none()
    serializer_class = ProjectMemberSerializer
    ordering_fields = ("created_at",)

    def scoped_queryset(self) -> Any:
        return selectors.project_members_of(project=self.project)

    @extend_schema(request=ProjectMemberCreateSerializer, responses={201: ProjectMemberSerializer})
    def post(self, request: Request, **kwargs: Any) -> Response:
        """Add an org member (by user id or email) as ``editor`` or ``viewer``."""
        data = validated(ProjectMemberCreateSerializer, request)
        member = project_services.project_member_add(
            actor=request.user, project=self.project, user_ref=data["user"], role=data["role"]
        )
        return Response(ProjectMemberSerializer(member).data, status=status.HTTP_201_CREATED)


class ProjectMemberDetailView(ProjectScopedAPIView):
    scope_map = {"PATCH": "project.members", "DELETE": "project.members"}
    queryset = ProjectMember.objects.none()
    serializer_class = ProjectMemberSerializer

    def get_member(self, project_member_id: uuid.UUID) -> ProjectMember:
        return self.get_org_object(
            selectors.project_members_of(project=self.project), pk=project_member_id
        )

    @extend_schema(request=ProjectMemberUpdateSerializer, responses=ProjectMemberSerializer)
    def patch(self, request: Request, project_member_id: uuid.UUID, **kwargs: Any) -> Response:
        data = validated(ProjectMemberUpdateSerializer, request)
        member = project_services.project_member_change_role(
            actor=request.user, member=self.get_member(project_member_id), role=data["role"]
        )
        return Response(ProjectMemberSerializer(member).data)

    def delete(self, request: Request, project_member_id: uuid.UUID, **kwargs: Any) -> Response:
        project_services.project_member_remove(
            actor=request.user, member=self.get_member(project_member_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- files ------------------------------------------------------------------------------------


class FileFilter(FilterSet):
    path_prefix = filters.CharFilter(
        field_name="path", lookup_expr="startswith", help_text="Files whose path starts so."
    )
    include_deleted = filters.BooleanFilter(
        method="filter_include_deleted", help_text="Also list soft-deleted files."
    )

    class Meta:
        model = ProjectFile
        fields = ["path_prefix", "include_deleted"]

    @classmethod
    def apply_defaults(cls, queryset: Any) -> Any:
        return queryset.filter(deleted_at__isnull=True)

    def filter_queryset(self, queryset: Any) -> Any:
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("include_deleted"):
            queryset = self.apply_defaults(queryset)
        return queryset

    def filter_include_deleted(self, queryset: Any, name: str, value: bool) -> Any:
        return queryset  # applied in filter_queryset (the default excludes deleted files)


class _FileView(ProjectScopedAPIView):
    def get_file(self, file_id: uuid.UUID, *, with_head: bool = False) -> ProjectFile:
        """The file (404 if not in this project); ``with_head``: with its head revision,
        content included, for a response."""
        lookup = selectors.file_of if with_head else selectors.file_ref
        file = lookup(project=self.project, file_id=file_id)
        if file is None:
            raise exceptions.NotFound()
        return file

    def file_data(self, file_id: uuid.UUID) -> dict[str, Any]:
        return FileDetailSerializer(self.get_file(file_id, with_head=True)).data


class FileListView(ListAPIMixin, ProjectScopedAPIView):
    """Files in path order, without content (``include_deleted``, ``path_prefix``); create one."""

    scope_map = {"GET": "project.view", "POST": "project.files.write"}
    queryset = ProjectFile.objects.none()
    serializer_class = FileSerializer
    filterset_class = FileFilter
    pagination_class = PathCursorPagination
    ordering_fields = ("path", "created_at", "updated_at", "size")
    search_fields = ("path",)

    def scoped_queryset(self) -> Any:
        return selectors.files_of(project=self.project)

    @extend_schema(request=FileCreateSerializer, responses={201: FileDetailSerializer})
    def post(self, request: Request, **kwargs: Any) -> Response:
        """Create a file with revision 1. 409 ``path_taken``, 409 ``file_limit``,
        413 ``file_too_large``."""
        data = validated(FileCreateSerializer, request)
        file = file_services.file_create(actor=request.user, project=self.project, **data)
        return Response(FileDetailSerializer(file).data, status=status.HTTP_201_CREATED)


class FileDetailView(_FileView):
    scope_map = {
        "GET": "project.view",
        "PATCH": "project.files.write",
        "DELETE": "project.files.write",
    }
    queryset = ProjectFile.objects.none()
    serializer_class = FileDetailSerializer

    def get(self, request: Request, file_id: uuid.UUID, **kwargs: Any) -> Response:
        """The file with its head content and the head revision's details."""
        return Response(self.file_data(file_id))

    @extend_schema(request=FileUpdateSerializer, responses=FileDetailSerializer)
    def patch(self, request: Request, file_id: uuid.UUID, **kwargs: Any) -> Response:
        """Save content (a new revision unless unchanged) and/or rename (history stays)."""
        data = validated(FileUpdateSerializer, request)
        file_services.file_update(actor=request.user, file=self.get_file(file_id), **data)
        return Response(self.file_data(file_id))

    def delete(self, request: Request, file_id: uuid.UUID, **kwargs: Any) -> Response:
        """Soft-delete: the file leaves the tree; its history stays and it can be restored."""
        file_services.file_delete(actor=request.user, file=self.get_file(file_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class RevisionListView(ListAPIMixin, _FileView):
    """A file's revisions, newest first, without content."""

    scope_map = {"GET": "project.view"}
    queryset = FileRevision.objects.none()
    serializer_class = RevisionSerializer
    pagination_class = RevisionCursorPagination
    ordering_fields = ("number",)

    def scoped_queryset(self) -> Any:
        return selectors.revisions_of(file=self.get_file(self.kwargs["file_id"]))


class RevisionDetailView(_FileView):
    scope_map = {"GET": "project.view"}
    queryset = FileRevision.objects.none()
    serializer_class = RevisionDetailSerializer

    def get(self, request: Request, file_id: uuid.UUID, number: int, **kwargs: Any) -> Response:
        revision = selectors.revision_of(file=self.get_file(file_id), number=number)
        if revision is None:
            raise exceptions.NotFound()
        return Response(RevisionDetailSerializer(revision).data)


class FileRestoreView(_FileView):
    """Make an old revision's content the head again — as a new revision. Restoring
    content identical to the head changes nothing; a deleted file comes back."""

    scope_map = {"POST": "project.files.write"}
    queryset = ProjectFile.objects.none()
    serializer_class = FileDetailSerializer

    @extend_schema(request=FileRestoreSerializer, responses=FileDetailSerializer)
    def post(self, request: Request, file_id: uuid.UUID, **kwargs: Any) -> Response:
        data = validated(FileRestoreSerializer, request)
        file_services.file_restore(
            actor=request.user,
            project=self.project,
            file=self.get_file(file_id),
            number=data["revision"],
            message=data["message"],
        )
        return Response(self.file_data(file_id))


class FileDiffView(_FileView):
    scope_map = {"GET": "project.view"}
    queryset = ProjectFile.objects.none()
    serializer_class = RevisionDiffSerializer

    @extend_schema(parameters=history_range_parameters("revision"))
    def get(self, request: Request, file_id: uuid.UUID, **kwargs: Any) -> Response:
        """Unified diff between two revisions (400 for bad numbers, 404 for missing ones)."""
        from_number, to_number = history_range(request, "revision")
        diff = selectors.revision_diff(
            file=self.get_file(file_id), from_number=from_number, to_number=to_number
        )
        if diff is None:
            raise exceptions.NotFound("No such revision.")
        return Response({"from": from_number, "to": to_number, "diff": diff})


# --- snapshots -------------------------------------------------------------------------------


class SnapshotListView(ListAPIMixin, ProjectScopedAPIView):
    scope_map = {"GET": "project.view", "POST": "project.files.write"}
    queryset = Snapshot.objects.none()
    serializer_class = SnapshotSerializer
    ordering_fields = ("created_at", "name")
    search_fields = ("name",)

    def scoped_queryset(self) -> Any:
        return selectors.snapshots_of(project=self.project)

    @extend_schema(request=SnapshotCreateSerializer, responses={201: SnapshotSerializer})
    def post(self, request: Request, **kwargs: Any) -> Response:
        """Record the head of every live file under a name (409 ``snapshot_name_taken``)."""
        data = validated(SnapshotCreateSerializer, request)
        snapshot = snapshot_services.snapshot_create(
            actor=request.user, project=self.project, **data
        )
        return Response(SnapshotSerializer(snapshot).data, status=status.HTTP_201_CREATED)


class _SnapshotView(ProjectScopedAPIView):
    queryset = Snapshot.objects.none()

    def get_snapshot(self, snapshot_id: uuid.UUID) -> Snapshot:
        snapshot = selectors.snapshot_of(project=self.project, snapshot_id=snapshot_id)
        if snapshot is None:
            raise exceptions.NotFound()
        return snapshot


class SnapshotDetailView(_SnapshotView):
    scope_map = {"GET": "project.view"}
    serializer_class = SnapshotDetailSerializer

    def get(self, request: Request, snapshot_id: uuid.UUID, **kwargs: Any) -> Response:
        """The snapshot with its entries: each file's path and revision number."""
        return Response(SnapshotDetailSerializer(self.get_snapshot(snapshot_id)).data)


class SnapshotRestoreView(_SnapshotView):
    """Bring every file back to the snapshot, as new revisions, in one transaction."""

    scope_map = {"POST": "project.files.write"}
    serializer_class = SnapshotRestoreResultSerializer

    @extend_schema(request=None, responses=SnapshotRestoreResultSerializer)
    def post(self, request: Request, snapshot_id: uuid.UUID, **kwargs: Any) -> Response:
        snapshot = selectors.snapshots_of(project=self.project).filter(pk=snapshot_id).first()
        if snapshot is None:
            raise exceptions.NotFound()
        counts = snapshot_services.snapshot_restore(
            actor=request.user, project=self.project, snapshot=snapshot
        )
        return Response(SnapshotRestoreResultSerializer(counts).data)
