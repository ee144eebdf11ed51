"""The audit log for staff: read-only (the database refuses changes anyway)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "action",
        "actor_type",
        "actor_label",
        "organization",
        "target_type",
        "target_id",
        "sequence",
    ]
    list_filter = ["actor_type", "action", "created_at"]
    list_select_related = ["organization"]
    search_fields = ["action", "actor_label", "target_id", "request_id", "organization__slug"]
    date_hierarchy = "created_at"
    list_per_page = 100
    show_full_result_count = False  # counting a large log on every page is wasteful

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
