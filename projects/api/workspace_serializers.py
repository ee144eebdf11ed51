"""Input and output serializers of the workspace API (projects, members, files, snapshots)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api.serializers import InputSerializer
from organizations.permissions import project_role
from projects.models import FileRevision, Project, ProjectFile, ProjectMember, Snapshot

# --- output -------------------------------------------------------------------------------


class WorkspaceUserSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    name = serializers.CharField()


class ProjectSerializer(serializers.ModelSerializer):
    """A project as the caller sees it: ``my_role`` is their effective role in it
    (needs ``org_role`` in the serializer context), ``favorite`` whether they starred it."""

    created_by = WorkspaceUserSerializer(allow_null=True, read_only=True)
    archived = serializers.SerializerMethodField()
    favorite = serializers.SerializerMethodField()
    my_role = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "tags",
            "visibility",
            "settings",
            "archived",
            "archived_at",
            "favorite",
            "my_role",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_archived(self, project: Project) -> bool:
        return project.archived_at is not None

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_favorite(self, project: Project) -> bool:
        return bool(getattr(project, "is_favorite", False))

    @extend_schema_field(
        serializers.ChoiceField(choices=["manager", "editor", "viewer"], allow_null=True)
    )
    def get_my_role(self, project: Project) -> str | None:
        return project_role(
            self.context["org_role"],
            getattr(project, "my_override", None),
            private=project.visibility == Project.Visibility.PRIVATE,
        )


# The project list is the hottest read of the API: it reads ``.values()`` of these
# columns and shapes each row with ``project_list_item`` instead of instantiating
# models and serializers (2x the throughput; see docs/performance.md). A test holds
# the two paths to the same output.
PROJECT_LIST_COLUMNS = (
    "id", "name", "slug", "description", "tags", "visibility", "settings", "archived_at",
    "my_override", "is_favorite", "created_by__id", "created_by__email", "created_by__name",
    "created_at", "updated_at",
)  # fmt: skip


def project_list_item(row: dict[str, Any], org_role: str) -> dict[str, Any]:
    """``ProjectSerializer``'s document from one row of ``PROJECT_LIST_COLUMNS``."""
    creator = row["created_by__id"]
    return {
        "id": row["id"],
        "name": row["name"],
        "slug": row["slug"],
        "description": row["description"],
        "tags": row["tags"],
        "visibility": row["visibility"],
        "settings": row["settings"],
        "archived": row["archived_at"] is not None,
        "archived_at": row["archived_at"],
        "favorite": bool(row["is_favorite"]),
        "my_role": project_role(
            org_role, row["my_override"], private=row["visibility"] == Project.Visibility.PRIVATE
        ),
        "created_by": (
            {"id": creator, "email": row["created_by__email"], "name": row["created_by__name"]}
            if creator
            else None
        ),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


class ProjectMemberSerializer(serializers.ModelSerializer):
    user = WorkspaceUserSerializer(read_only=True)
    role = serializers.ChoiceField(choices=ProjectMember.Role.choices, read_only=True)

    class Meta:
        model = ProjectMember
        fields = ["id", "user", "role", "created_at"]
        read_only_fields = fields


class RevisionSerializer(serializers.ModelSerializer):
    """A revision without its content."""

    author = WorkspaceUserSerializer(allow_null=True, read_only=True)
    generation = serializers.UUIDField(source="generation_id", allow_null=True, read_only=True)

    class Meta:
        model = FileRevision
        fields = ["id", "number", "sha256", "size", "author", "message", "generation", "created_at"]
        read_only_fields = fields


class RevisionDetailSerializer(RevisionSerializer):
    class Meta(RevisionSerializer.Meta):
        fields = [*RevisionSerializer.Meta.fields, "content"]
        read_only_fields = fields


class FileSerializer(serializers.ModelSerializer):
    """A file in a list: head revision number and hash, no content."""

    revision = serializers.IntegerField(source="current_revision.number", default=None)
    sha256 = serializers.CharField(source="current_revision.sha256", default=None)
    deleted = serializers.SerializerMethodField()

    class Meta:
        model = ProjectFile
        fields = [
            "id",
            "path",
            "size",
            "revision",
            "sha256",
            "deleted",
            "deleted_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_deleted(self, file: ProjectFile) -> bool:
        return file.deleted_at is not None


class FileDetailSerializer(FileSerializer):
    """A file with its head content and the head revision's details."""

    content = serializers.CharField(source="current_revision.content", default="")
    head = RevisionSerializer(source="current_revision", allow_null=True, read_only=True)

    class Meta(FileSerializer.Meta):
        fields = [*FileSerializer.Meta.fields, "content", "head"]
        read_only_fields = fields


class DocumentFileSerializer(serializers.ModelSerializer):
    revision = serializers.IntegerField(source="current_revision.number", default=None)
    sha256 = serializers.CharField(source="current_revision.sha256", default=None)
    content = serializers.CharField(source="current_revision.content", default="")

    class Meta:
        model = ProjectFile
        fields = ["id", "path", "revision", "sha256", "size", "content", "updated_at"]
        read_only_fields = fields


class ProjectDocumentSerializer(ProjectSerializer):
    """The whole project: its fields and settings, its members, every live file at head."""

    members = ProjectMemberSerializer(many=True, read_only=True, source="document_members")
    files = DocumentFileSerializer(many=True, read_only=True, source="document_files")

    class Meta(ProjectSerializer.Meta):
        fields = [*ProjectSerializer.Meta.fields, "members", "files"]
        read_only_fields = fields


class SnapshotSerializer(serializers.ModelSerializer):
    created_by = WorkspaceUserSerializer(allow_null=True, read_only=True)
    file_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Snapshot
        fields = ["id", "name", "description", "file_count", "created_by", "created_at"]
        read_only_fields = fields


class SnapshotEntrySerializer(serializers.Serializer):
    file = serializers.UUIDField(source="file_id")
    path = serializers.CharField(source="file.path")
    file_deleted = serializers.SerializerMethodField()
    revision = serializers.IntegerField(source="revision.number")
    sha256 = serializers.CharField(source="revision.sha256")
    size = serializers.IntegerField(source="revision.size")

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_file_deleted(self, entry: Any) -> bool:
        return entry.file.deleted_at is not None


class SnapshotDetailSerializer(SnapshotSerializer):
    entries = SnapshotEntrySerializer(many=True, read_only=True, source="entry_list")

    class Meta(SnapshotSerializer.Meta):
        fields = [*SnapshotSerializer.Meta.fields, "entries"]
        read_only_fields = fields


class SnapshotRestoreResultSerializer(serializers.Serializer):
    restored = serializers.IntegerField(help_text="Files that got a new revision.")
    undeleted = serializers.IntegerField(help_text="Deleted files brought back.")
    deleted = serializers.IntegerField(help_text="Files created since the snapshot, now deleted.")
    unchanged = serializers.IntegerField(help_text="Files already as in the snapshot.")


# ``from`` is a Python keyword, so this one is built from a dict of fields.
RevisionDiffSerializer = type(
    "RevisionDiffSerializer",
    (serializers.Serializer,),
    {
        "from": serializers.IntegerField(),
        "to": serializers.IntegerField(),
        "diff": serializers.CharField(help_text="Unified diff (empty when identical)."),
    },
)


# --- input ----------------------------------------------------------------------------------


class ProjectCreateSerializer(InputSerializer):
    name = serializers.CharField(max_length=120)
    slug = serializers.SlugField(max_length=60, required=False)
    description = serializers.CharField(max_length=5000, allow_blank=True, required=False)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=40), max_length=20, required=False
    )
    visibility = serializers.ChoiceField(choices=Project.Visibility.choices, required=False)
    settings = serializers.DictField(required=False)


class ProjectUpdateSerializer(ProjectCreateSerializer):
    name = serializers.CharField(max_length=120, required=False)


class ProjectMemberCreateSerializer(InputSerializer):
    user = serializers.CharField(max_length=254, help_text="User id or email of an org member.")
    role = serializers.ChoiceField(choices=ProjectMember.Role.choices)


class ProjectMemberUpdateSerializer(InputSerializer):
    role = serializers.ChoiceField(choices=ProjectMember.Role.choices)


def _content(**kwargs: Any) -> serializers.CharField:
    # Content is kept byte for byte: no trimming.
    return serializers.CharField(allow_blank=True, trim_whitespace=False, **kwargs)


class FileCreateSerializer(InputSerializer):
    path = serializers.CharField(max_length=1000)
    content = _content(required=False, default="")
    message = serializers.CharField(max_length=300, allow_blank=True, required=False, default="")


class FileUpdateSerializer(InputSerializer):
    path = serializers.CharField(max_length=1000, required=False)
    content = _content(required=False)
    message = serializers.CharField(max_length=300, allow_blank=True, required=False, default="")


class FileRestoreSerializer(InputSerializer):
    revision = serializers.IntegerField(min_value=1)
    message = serializers.CharField(max_length=300, allow_blank=True, required=False, default="")


class SnapshotCreateSerializer(InputSerializer):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(
        max_length=2000, allow_blank=True, required=False, default=""
    )
