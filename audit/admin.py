"""The audit log for staff: read-only (the database refuses changes anyway)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "action",
        "actor_type",
        "actor_label",
        "organization",
        "target",
        "sequence",
    ]
    list_filter = ["actor_type", "action", "created_at"]
    list_select_related = ["organization"]
    search_fields = ["action", "actor_label", "target_id", "request_id", "organization__slug"]
    date_hierarchy = "created_at"
    list_per_page = 100
    show_full_result_count = False  # counting a large log on every page is wasteful

    @admin.display(description="target", ordering="target_type")
    def target(self, obj: AuditEvent) -> str:
        """The target's model and the start of its id (the full id in the tooltip and on the
        event's page): two UUID columns pushed the list past a 1400px screen (seen in the
        browser test's screenshots, tests/system/test_admin_browser.py)."""
        if not obj.target_type:
            return "-"
        kind = obj.target_type.rpartition(".")[2]
        short = obj.target_id[:8] + ("…" if len(obj.target_id) > 8 else "")
        return format_html('{} <span title="{}">{}</span>', kind, obj.target_id, short)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
