"""Staff screens for the code-editor workspace.

File history is immutable, so revisions, snapshots and messages are read-only
here (the database refuses changes to revisions and snapshots anyway). Staff
changes (archive, cancel a job) go through the same services as the API.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from config.admin import ActionsOnlyAdmin, ReadOnlyTabularInline, apply_to_each
from projects.models import (
    Asset,
    Conversation,
    FileRevision,
    Generation,
    Job,
    Message,
    Project,
    ProjectFile,
    ProjectMember,
    Snapshot,
)
from projects.services.jobs import job_cancel
from projects.services.projects import project_archive, project_unarchive


class ReadOnlyAdmin(ActionsOnlyAdmin):
    """A screen to look, not to touch (staff changes are actions calling services)."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]


class ProjectMemberInline(ReadOnlyTabularInline):
    model = ProjectMember
    fields = ["user", "role", "created_at"]
    related = ("user", "project")


@admin.register(Project)
class ProjectAdmin(ReadOnlyAdmin):
    list_display = ["name", "slug", "organization", "visibility", "archived_at", "created_at"]
    list_filter = ["visibility", ("archived_at", admin.EmptyFieldListFilter), "created_at"]
    list_select_related = ["organization"]
    search_fields = ["name", "slug", "description", "organization__slug"]
    exclude = ["search"]
    inlines = [ProjectMemberInline]
    actions = ["archive", "unarchive"]

    @admin.action(description="Archive (read-only)", permissions=["change"])
    def archive(self, request: HttpRequest, queryset: QuerySet[Project]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            "Archived",
            lambda p: project_archive(actor=request.user, project=p),
        )

    @admin.action(description="Unarchive", permissions=["change"])
    def unarchive(self, request: HttpRequest, queryset: QuerySet[Project]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            "Unarchived",
            lambda p: project_unarchive(actor=request.user, project=p),
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in Project._meta.fields if f.name != "search"]


class RevisionInline(ReadOnlyTabularInline):
    model = FileRevision
    fk_name = "file"
    fields = ["number", "size", "sha256", "author", "message", "created_at"]
    ordering = ["-number"]
    related = ("file", "author")


@admin.register(ProjectFile)
class ProjectFileAdmin(ReadOnlyAdmin):
    list_display = ["path", "project", "size", "deleted_at", "updated_at"]
    list_filter = [("deleted_at", admin.EmptyFieldListFilter)]
    list_select_related = ["project"]
    search_fields = ["path", "project__slug"]
    exclude = ["search"]
    inlines = [RevisionInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in ProjectFile._meta.fields if f.name != "search"]


@admin.register(FileRevision)
class FileRevisionAdmin(ReadOnlyAdmin):
    list_display = ["file", "number", "size", "author", "created_at"]
    list_select_related = ["file", "author"]
    search_fields = ["file__path", "sha256", "message"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Snapshot)
class SnapshotAdmin(ReadOnlyAdmin):
    list_display = ["name", "project", "created_by", "created_at"]
    list_select_related = ["project", "created_by"]
    search_fields = ["name", "project__slug"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MessageInline(ReadOnlyTabularInline):
    model = Message
    fields = ["role", "content", "model", "prompt_tokens", "completion_tokens", "created_at"]
    ordering = ["created_at"]


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdmin):
    list_display = ["title", "project", "created_by", "created_at"]
    list_select_related = ["project", "created_by"]
    search_fields = ["title", "project__slug"]
    inlines = [MessageInline]


@admin.register(Generation)
class GenerationAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "project",
        "model",
        "status",
        "tokens_in",
        "tokens_out",
        "created_at",
    ]
    list_filter = ["status", "model"]
    list_select_related = ["project"]
    search_fields = ["prompt", "project__slug"]


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ["type", "project", "status", "progress", "created_at", "finished_at"]
    list_filter = ["status", "type"]
    list_select_related = ["project"]
    search_fields = ["type", "project__slug", "error"]
    actions = ["cancel"]

    @admin.action(description="Cancel", permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        apply_to_each(
            self, request, queryset, "Canceled", lambda job: job_cancel(actor=request.user, job=job)
        )


@admin.register(Asset)
class AssetAdmin(ReadOnlyAdmin):
    list_display = ["filename", "project", "kind", "content_type", "size", "created_at"]
    list_filter = ["kind", "content_type"]
    list_select_related = ["project"]
    search_fields = ["filename", "title", "sha256", "project__slug"]
    exclude = ["search", "text"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in Asset._meta.fields if f.name not in ("search", "text")]
