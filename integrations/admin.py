"""Staff screens for integrations: read-only, secrets never shown.

Encrypted columns and key hashes are excluded from every screen (only hints are
shown); platform secrets show their name only. Staff changes go through the same
services as the API (revoke a key, disable or enable a webhook endpoint, replay a
delivery), each action declaring ``allowed_permissions``.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from config.admin import ReadOnlyTabularInline, apply_to_each
from integrations import (
    admin_sync,  # noqa: F401 - registers the mappings, sync jobs and records screens
    services,
)
from integrations.admin_base import RedactedReadOnlyAdmin
from integrations.models import (
    ApiKey,
    Integration,
    PlatformSecret,
    UserIntegration,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)


@admin.register(ApiKey)
class ApiKeyAdmin(RedactedReadOnlyAdmin):
    list_display = ["name", "organization", "role", "hint", "last_used_at", "revoked_at"]
    list_select_related = ["organization"]
    list_filter = ["role", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "organization__slug", "last_four"]
    actions = ["revoke"]

    @admin.action(description="Revoke", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            "Revoked",
            lambda k: services.api_key_revoke(actor=request.user, api_key=k),
        )


@admin.register(Integration)
class IntegrationAdmin(RedactedReadOnlyAdmin):
    list_display = ["name", "organization", "provider", "credentials_hint", "status"]
    list_select_related = ["organization"]
    list_filter = ["provider", "status"]
    search_fields = ["name", "organization__slug"]


@admin.register(UserIntegration)
class UserIntegrationAdmin(RedactedReadOnlyAdmin):
    list_display = ["name", "organization", "user", "provider", "credentials_hint"]
    list_select_related = ["organization", "user"]
    search_fields = ["name", "organization__slug", "user__email"]


@admin.register(PlatformSecret)
class PlatformSecretAdmin(RedactedReadOnlyAdmin):
    """Names only: values are set with ``manage.py secret_set`` and never shown."""

    list_display = ["name", "updated_at"]


class WebhookAttemptInline(ReadOnlyTabularInline):
    model = WebhookAttempt
    fields = ["number", "status_code", "error", "response_snippet", "duration_ms", "created_at"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(RedactedReadOnlyAdmin):
    list_display = ["url", "organization", "status", "failing_since", "created_at"]
    list_select_related = ["organization"]
    list_filter = ["status"]
    search_fields = ["url", "organization__slug"]
    actions = ["disable", "enable"]

    def _set_status(self, request: HttpRequest, queryset: QuerySet, status: str, verb: str) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            verb,
            lambda e: services.webhook_endpoint_update(
                actor=request.user, endpoint=e, status=status
            ),
        )

    @admin.action(description="Disable", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        self._set_status(request, queryset, WebhookEndpoint.Status.DISABLED, "Disabled")

    @admin.action(description="Enable", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        self._set_status(request, queryset, WebhookEndpoint.Status.ENABLED, "Enabled")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(RedactedReadOnlyAdmin):
    list_display = ["id", "organization", "endpoint", "status", "attempt_count", "next_attempt_at"]
    list_select_related = ["organization", "endpoint"]
    list_filter = ["status"]
    inlines = [WebhookAttemptInline]
    actions = ["replay"]

    @admin.action(description="Replay", permissions=["change"])
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            "Replayed",
            lambda d: services.webhook_delivery_replay(actor=request.user, delivery=d),
        )
