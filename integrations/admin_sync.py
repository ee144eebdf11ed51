"""Staff screens for mappings, sync jobs and synced records: read-only. The one action
(cancel a job) calls the same service as the API and declares ``allowed_permissions``."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from config.admin import apply_to_each
from integrations import sync
from integrations.admin_base import RedactedReadOnlyAdmin
from integrations.models import DataMapping, IntegrationJob, IntegrationRecord


@admin.register(DataMapping)
class DataMappingAdmin(RedactedReadOnlyAdmin):
    list_display = ["integration", "order", "source_field", "target_field", "transform", "required"]
    list_select_related = ["integration"]
    list_filter = ["transform", "required"]
    search_fields = ["source_field", "target_field", "organization__slug"]


@admin.register(IntegrationJob)
class IntegrationJobAdmin(RedactedReadOnlyAdmin):
    list_display = [
        "id",
        "organization",
        "integration",
        "kind",
        "status",
        "progress",
        "records_read",
        "records_written",
        "records_failed",
        "created_at",
    ]
    list_select_related = ["organization", "integration"]
    list_filter = ["kind", "status"]
    search_fields = ["organization__slug"]
    actions = ["cancel"]

    @admin.action(description="Cancel", permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[IntegrationJob]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            "Canceled",
            lambda job: sync.integration_job_cancel(actor=request.user, job=job),
        )


@admin.register(IntegrationRecord)
class IntegrationRecordAdmin(RedactedReadOnlyAdmin):
    list_display = ["external_id", "organization", "integration", "updated_at"]
    list_select_related = ["organization", "integration"]
    search_fields = ["external_id", "organization__slug"]
