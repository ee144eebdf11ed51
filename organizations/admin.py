"""Staff screens for organizations, memberships and invitations.

Every change staff make here goes through the same services as the API (and
is audited with ``actor_type=staff``). Admin requests run in the service
context (see ``StaffAdminServiceContextMiddleware``), so staff see all tenants.
Memberships and invitations change through admin *actions*, which call the
services one row at a time and report refusals (such as "last owner").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from config.admin import ActionsOnlyAdmin, ReadOnlyTabularInline, apply_to_each
from organizations import services
from organizations.models import Invitation, Membership, Organization
from organizations.permissions import Role


class MembershipInline(ReadOnlyTabularInline):
    model = Membership
    fields = ["user", "role", "created_at"]


class InvitationInline(ReadOnlyTabularInline):
    model = Invitation
    fields = ["email", "role", "status", "expires_at", "accepted_at", "revoked_at"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "member_count", "suspended_at", "created_at"]
    list_filter = [("suspended_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["name", "slug", "memberships__user__email"]
    fields = ["id", "name", "slug", "suspended_at", "created_at", "updated_at"]
    readonly_fields = ["id", "suspended_at", "created_at", "updated_at"]
    inlines = [MembershipInline, InvitationInline]
    actions = ["suspend", "unsuspend"]
    ordering = ["slug"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Organization]:
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    @admin.display(ordering="member_count")
    def member_count(self, obj: Organization) -> int:
        return obj.member_count

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # organizations are created by their owner through the API

    def save_model(self, request: HttpRequest, obj: Organization, form: Any, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        fresh = Organization.objects.get(pk=obj.pk)
        services.organization_update(actor=request.user, organization=fresh, **fields)

    def delete_model(self, request: HttpRequest, obj: Organization) -> None:
        services.organization_delete(actor=request.user, organization=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Organization]) -> None:
        for org in queryset:
            services.organization_delete(actor=request.user, organization=org)

    @admin.action(description="Suspend (read-only)", permissions=["change"])
    def suspend(self, request: HttpRequest, queryset: QuerySet[Organization]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            "Suspended",
            lambda org: services.organization_set_suspended(
                actor=request.user, organization=org, suspended=True
            ),
        )

    @admin.action(description="Lift suspension", permissions=["change"])
    def unsuspend(self, request: HttpRequest, queryset: QuerySet[Organization]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            "Unsuspended",
            lambda org: services.organization_set_suspended(
                actor=request.user, organization=org, suspended=False
            ),
        )


def _role_action(role: str) -> Callable[..., None]:
    def action(modeladmin: MembershipAdmin, request: HttpRequest, queryset: QuerySet) -> None:
        apply_to_each(
            modeladmin,
            request,
            queryset,
            f"Made {role}",
            lambda m: services.member_change_role(
                actor=request.user, actor_role=Role.OWNER, membership=m, role=role
            ),
        )

    action.__name__ = f"make_{role}"
    return admin.action(description=f"Change role to {role}", permissions=["change"])(action)


@admin.register(Membership)
class MembershipAdmin(ActionsOnlyAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role"]
    list_select_related = ["user", "organization"]
    search_fields = ["user__email", "user__name", "organization__slug", "organization__name"]
    readonly_fields = ["id", "organization", "user", "role", "created_at", "updated_at"]
    actions = [*(_role_action(role) for role in Role.values), "remove"]
    # No generic delete: "Remove from organization" keeps the last-owner rule.

    def has_remove_permission(self, request: HttpRequest) -> bool:
        """Ending a membership is a deletion: it needs ``delete_membership``, though the
        generic delete stays off (it would skip the last-owner rule)."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.delete_{opts.model_name}")

    @admin.action(description="Remove from organization", permissions=["remove"])
    def remove(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            "Removed",
            lambda m: services.member_remove(
                actor=request.user, actor_role=Role.OWNER, membership=m
            ),
        )

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(Invitation)
class InvitationAdmin(ActionsOnlyAdmin):
    list_display = [
        "email",
        "organization",
        "role",
        "status",
        "expires_at",
        "send_count",
        "created_at",
    ]
    list_filter = [
        "role",
        ("accepted_at", admin.EmptyFieldListFilter),
        ("revoked_at", admin.EmptyFieldListFilter),
    ]
    list_select_related = ["organization"]
    search_fields = ["email", "organization__slug"]
    exclude = ["token_hash"]
    readonly_fields = [
        "id",
        "organization",
        "email",
        "role",
        "invited_by",
        "expires_at",
        "sent_at",
        "send_count",
        "accepted_at",
        "accepted_by",
        "revoked_at",
        "created_at",
        "updated_at",
    ]
    actions = ["resend", "revoke"]

    @admin.action(description="Resend (new link, new expiry)", permissions=["change"])
    def resend(self, request: HttpRequest, queryset: QuerySet[Invitation]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            "Resent",
            lambda i: services.invitation_resend(actor=request.user, invitation=i),
        )

    @admin.action(description="Revoke", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[Invitation]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            "Revoked",
            lambda i: services.invitation_revoke(actor=request.user, invitation=i),
        )
