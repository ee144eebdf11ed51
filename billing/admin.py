"""Staff screens for billing.

Plans and quota overrides are staff's to change (through the services, audited).
Subscriptions, invoices, the subscription audit and the Stripe inbox are read-only
here: Stripe is their source of truth (change them in Stripe; webhooks or the
"sync from Stripe" action bring the change back). Cost estimates are insert-only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from billing import services
from billing.models import (
    CostEstimate,
    Invoice,
    Plan,
    QuotaOverride,
    StripeEvent,
    Subscription,
    SubscriptionEvent,
)
from billing.sync import billing_sync
from config.admin import ReadOnlyActionsAdmin, apply_to_each


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "monthly_price_cents", "projects", "members", "api_calls"]
    readonly_fields = ["id", "code", "created_at", "updated_at"]
    ordering = ["sort_order"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the catalog's codes are fixed (they name Stripe prices)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # subscriptions refer to plans by code

    def save_model(self, request: HttpRequest, obj: Plan, form: Any, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        services.plan_update(actor=request.user, plan=Plan.objects.get(pk=obj.pk), fields=fields)


@admin.register(QuotaOverride)
class QuotaOverrideAdmin(admin.ModelAdmin):
    list_display = ["organization", "metric", "limit", "expires_at", "reason", "granted_by"]
    list_filter = ["metric"]
    search_fields = ["organization__slug", "reason"]
    fields = ["organization", "metric", "limit", "reason", "expires_at", "granted_by"]
    readonly_fields = ["granted_by"]
    raw_id_fields = ["organization"]
    actions = ["remove_overrides"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["granted_by", "organization", "metric"] if obj else ["granted_by"]

    def save_model(self, request: HttpRequest, obj: QuotaOverride, form: Any, change: bool) -> None:
        saved = services.quota_override_set(
            actor=request.user,
            organization_id=obj.organization_id,
            metric=obj.metric,
            limit=obj.limit,
            reason=obj.reason,
            expires_at=obj.expires_at,
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: QuotaOverride) -> None:
        services.quota_override_delete(actor=request.user, override=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[QuotaOverride]) -> None:
        for override in queryset:
            services.quota_override_delete(actor=request.user, override=override)

    @admin.action(description="Remove the selected overrides", permissions=["delete"])
    def remove_overrides(self, request: HttpRequest, queryset: QuerySet[QuotaOverride]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            "Removed",
            lambda o: services.quota_override_delete(actor=request.user, override=o),
        )


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyActionsAdmin):
    list_select_related = ["organization"]
    list_display = [
        "organization",
        "plan_code",
        "status",
        "current_period_end",
        "cancel_at_period_end",
        "stripe_customer_id",
    ]
    list_filter = ["plan_code", "status", "cancel_at_period_end"]
    search_fields = ["organization__slug", "stripe_customer_id", "stripe_subscription_id"]
    actions = ["sync_from_stripe"]

    @admin.action(description="Sync from Stripe", permissions=["change"])
    def sync_from_stripe(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
        apply_to_each(
            self,
            request,
            queryset.select_related("organization"),
            "Synced",
            lambda sub: billing_sync(org_slug=sub.organization.slug),
        )


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyActionsAdmin):
    list_display = ["number", "organization", "status", "total", "currency", "stripe_created"]
    list_filter = ["status", "currency"]
    search_fields = ["number", "stripe_invoice_id", "organization__slug"]


@admin.register(SubscriptionEvent)
class SubscriptionEventAdmin(ReadOnlyActionsAdmin):
    list_display = ["created_at", "organization", "action", "stripe_event_id"]
    list_filter = ["action"]
    search_fields = ["stripe_event_id", "organization__slug"]


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyActionsAdmin):
    list_display = ["received_at", "event_id", "type", "status", "attempts"]
    list_filter = ["status", "type"]
    search_fields = ["event_id"]


@admin.register(CostEstimate)
class CostEstimateAdmin(ReadOnlyActionsAdmin):
    list_display = ["created_at", "organization", "title", "total", "currency", "author"]
    search_fields = ["title", "organization__slug"]
