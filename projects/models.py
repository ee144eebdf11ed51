"""The code-editor workspace: projects, their files with immutable revisions,
snapshots, AI conversations and generations, background jobs and assets.

Every table is a tenant table (:class:`organizations.models.TenantModel`).
Visibility and per-project roles are enforced by RLS too
(``migrations/0002_rls.py``): a private project and everything in it is
invisible to org members who are not on it, even through raw SQL.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models

from organizations.models import TenantModel, append_only_user_fk, tenant_fk, user_fk

USER = settings.AUTH_USER_MODEL
# How much of a file or document goes into its search vector: PostgreSQL caps a
# tsvector at 1 MB, which varied text can exceed well below the size limits.
SEARCHABLE_TEXT_CHARS = 100_000


class Project(TenantModel):
    class Visibility(models.TextChoices):
        ORG = "org", "Everyone in the organization"
        PRIVATE = "private", "Project members and org admins"

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60)
    description = models.TextField(blank=True, max_length=5000)
    tags = ArrayField(models.CharField(max_length=40), default=list, blank=True, size=20)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.ORG)
    settings = models.JSONField(default=dict, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_by = user_fk()
    updated_at = models.DateTimeField(auto_now=True)
    search = models.GeneratedField(
        expression=SearchVector("name", "slug", "description", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["organization", "slug"], name="project_unique_org_slug"
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "-created_at", "-id"], name="project_org_created_idx"
            ),
            # app.hidden_project_ids() runs in every project-table policy: an index-only
            # scan of the org's private projects instead of visiting every project row.
            models.Index(
                fields=["organization"],
                include=["id"],
                condition=models.Q(visibility="private"),
                name="project_org_private_idx",
            ),
            GinIndex(fields=["search"], name="project_search_idx"),
        ]

    def __str__(self) -> str:
        return self.slug


class ProjectMember(TenantModel):
    """A per-project role that narrows or widens the org role (see permissions)."""

    class Role(models.TextChoices):
        EDITOR = "editor"
        VIEWER = "viewer"

    project = tenant_fk("projects.Project", related_name="members")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=10, choices=Role.choices)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["organization", "project", "user"], name="projectmember_unique"
            ),
        ]
        indexes = [models.Index(fields=["organization", "user"], name="projectmember_org_user_idx")]

    def __str__(self) -> str:
        return f"{self.user.email} on {self.project.slug} as {self.role}"


class Favorite(TenantModel):
    project = tenant_fk("projects.Project")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["organization", "project", "user"], name="favorite_unique"
            ),
        ]
        indexes = [models.Index(fields=["organization", "user"], name="favorite_org_user_idx")]

    def __str__(self) -> str:
        return f"{self.user.email} likes {self.project.slug}"


class ProjectFile(TenantModel):
    """A path in a project; its content is in immutable revisions (head: ``current_revision``)."""

    project = tenant_fk("projects.Project", related_name="files")
    path = models.CharField(max_length=500)
    current_revision = tenant_fk("projects.FileRevision", null=True)
    size = models.PositiveIntegerField(default=0)
    deleted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # path + head content; maintained by the file services when head moves.
    search = SearchVectorField(null=True, editable=False)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["organization", "project", "path"],
                condition=models.Q(deleted_at__isnull=True),
                name="projectfile_unique_live_path",
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "project", "path"], name="projectfile_org_path_idx"
            ),
            GinIndex(fields=["search"], name="projectfile_search_idx"),
        ]

    def __str__(self) -> str:
        return self.path


class FileRevision(TenantModel):
    """One immutable version of a file: numbered 1, 2, 3... per file."""

    append_only = True

    project = tenant_fk("projects.Project")
    file = tenant_fk("projects.ProjectFile", related_name="revisions")
    number = models.PositiveIntegerField()
    content = models.TextField(blank=True)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    author = append_only_user_fk()
    message = models.CharField(max_length=300, blank=True)
    generation = tenant_fk("projects.Generation", null=True, related_name="revisions")

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["organization", "file", "number"], name="filerevision_unique_number"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "file", "-number"], name="filerevision_file_idx")
        ]

    def __str__(self) -> str:
        return f"{self.file.path} r{self.number}"


class Snapshot(TenantModel):
    """A named, immutable set of revisions (one per file) of a project."""

    append_only = True

    project = tenant_fk("projects.Project", related_name="snapshots")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=2000)
    created_by = append_only_user_fk()

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["organization", "project", "name"], name="snapshot_unique_name"
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "project", "-created_at"], name="snapshot_project_idx"
            )
        ]

    def __str__(self) -> str:
        return self.name


class SnapshotEntry(TenantModel):
    append_only = True

    project = tenant_fk("projects.Project")
    snapshot = tenant_fk("projects.Snapshot", related_name="entries")
    file = tenant_fk("projects.ProjectFile")
    revision = tenant_fk("projects.FileRevision")

    class Meta(TenantModel.Meta):
        verbose_name_plural = "snapshot entries"
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["organization", "snapshot", "file"], name="snapshotentry_unique_file"
            ),
        ]
        # NOTE: no (organization, snapshot) index here: the composite foreign key's
        # index ``snapshotentry_snapshot_id_fk_idx`` (0002_rls) is that index.

    def __str__(self) -> str:
        return f"{self.file.path} r{self.revision.number} in {self.snapshot.name}"


class Conversation(TenantModel):
    project = tenant_fk("projects.Project", related_name="conversations")
    title = models.CharField(max_length=200, blank=True)
    created_by = user_fk()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        indexes = [
            models.Index(
                fields=["organization", "project", "-created_at", "-id"],
                name="conversation_project_idx",
            )
        ]

    def __str__(self) -> str:
        return self.title or f"conversation of {self.created_at:%Y-%m-%d %H:%M}"


class Message(TenantModel):
    class Role(models.TextChoices):
        SYSTEM = "system"
        USER = "user"
        ASSISTANT = "assistant"
        TOOL = "tool"

    project = tenant_fk("projects.Project")
    conversation = tenant_fk("projects.Conversation", related_name="messages")
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField(max_length=200_000)
    model = models.CharField(max_length=100, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    author = user_fk()

    class Meta(TenantModel.Meta):
        indexes = [
            models.Index(
                fields=["organization", "conversation", "created_at", "id"],
                name="message_conversation_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:60]}"


class Generation(TenantModel):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELED = "canceled"

    project = tenant_fk("projects.Project", related_name="generations")
    conversation = tenant_fk("projects.Conversation", null=True)
    prompt = models.TextField(max_length=100_000)
    model = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    output = models.TextField(blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = user_fk()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        indexes = [
            models.Index(
                fields=["organization", "project", "-created_at", "-id"],
                name="generation_project_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.model}: {self.prompt[:60]}"


class Job(TenantModel):
    class Status(models.TextChoices):
        QUEUED = "queued"
        PROCESSING = "processing"
        COMPLETED = "completed"
        FAILED = "failed"
        PARTIAL = "partial"
        CANCELED = "canceled"

    FINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.PARTIAL, Status.CANCELED})

    project = tenant_fk("projects.Project", related_name="jobs")
    type = models.CharField(max_length=60)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    parameters = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = user_fk()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.CheckConstraint(
                condition=models.Q(progress__lte=100), name="job_progress_max_100"
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "project", "-created_at", "-id"], name="job_project_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} ({self.status})"


class Asset(TenantModel):
    class Kind(models.TextChoices):
        UPLOAD = "upload"
        OUTPUT = "output"
        KNOWLEDGE = "knowledge"

    project = tenant_fk("projects.Project", related_name="assets")
    job = tenant_fk("projects.Job", null=True, related_name="assets")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    file = models.FileField(max_length=500)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    title = models.CharField(max_length=200, blank=True)
    # Extracted text of knowledge documents (searchable).
    text = models.TextField(blank=True)
    created_by = user_fk()
    search = models.GeneratedField(
        expression=SearchVector("title", "filename", "text", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta(TenantModel.Meta):
        indexes = [
            models.Index(
                fields=["organization", "project", "-created_at", "-id"], name="asset_project_idx"
            ),
            GinIndex(fields=["search"], name="asset_search_idx"),
        ]

    def __str__(self) -> str:
        return self.filename
