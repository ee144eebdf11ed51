"""Admin building blocks shared by the apps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from config.errors import DomainError


class ReadOnlyTabularInline(admin.TabularInline):
    """Rows shown beside their parent for context; they change through services, not here."""

    extra = 0
    can_delete = False
    show_change_link = True

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return list(self.fields or [])

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def apply_to_each(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    verb: str,
    change: Callable[[Any], None],
) -> None:
    """Run ``change`` on each row in its own savepoint; report what worked and what was refused."""
    done = 0
    for obj in queryset:
        try:
            with transaction.atomic():
                change(obj)
            done += 1
        except DomainError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.message}", messages.ERROR)
    if done:
        modeladmin.message_user(request, f"{verb}: {done}", messages.SUCCESS)
