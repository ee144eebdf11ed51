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

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.http import urlencode

from config.admin import (
    ActionsOnlyAdmin,
    ReadOnlyTabularInline,
    apply_to_each,
    apply_with_reason,
)
from organizations import services
from organizations.models import Invitation, Membership, Organization
from organizations.operations.archive import organization_erase
from organizations.permissions import Role

SLUG_WARNING = (
    "The slug cannot be changed here: it is part of every API URL, link and client of this "
    "organization. An owner can change it through the API (PATCH /api/v1/orgs/{slug}/), "
    "which breaks those links."
)


class EraseConfirmationForm(forms.Form):
    """Erasing an organization is typed, not clicked: the staff member types its slug."""

    confirmation = forms.CharField(label="Type the organization's slug to confirm", strip=True)

    def __init__(self, *args: Any, slug: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slug = slug

    def clean_confirmation(self) -> str:
        value = self.cleaned_data["confirmation"]
        if value != self.slug:
            raise forms.ValidationError(f"Type {self.slug!r} exactly to erase this organization.")
        return value


class MembershipInline(ReadOnlyTabularInline):
    model = Membership
    fields = ["user", "role", "created_at"]
    related = ("user", "organization")


class InvitationInline(ReadOnlyTabularInline):
    model = Invitation
    fields = ["email", "role", "status", "expires_at", "accepted_at", "revoked_at"]
    related = ("organization",)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "member_count", "suspended_at", "created_at"]
    list_filter = [("suspended_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["name", "slug", "memberships__user__email"]
    fieldsets = [
        (
            None,
            {
                "fields": ["id", "name", "slug", "suspended_at", "created_at", "updated_at"],
                "description": SLUG_WARNING,
            },
        ),
        ("Support", {"fields": ["support_links"]}),
    ]
    # SECURITY/NOTE: the slug is in every API URL, link and client of the organization;
    # staff do not change it (an owner can, through the API, knowing what it breaks).
    readonly_fields = ["id", "slug", "suspended_at", "created_at", "updated_at", "support_links"]
    inlines = [MembershipInline, InvitationInline]
    actions = ["suspend", "unsuspend"]
    ordering = ["slug"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Organization]:
        # distinct: searching by member email joins the memberships a second time, which
        # multiplied the count by the rows of that join (acme's 5 read 25 under ?q=acme).
        return (
            super().get_queryset(request).annotate(member_count=Count("memberships", distinct=True))
        )

    @admin.display(ordering="member_count")
    def member_count(self, obj: Organization) -> int:
        return obj.member_count

    @admin.display(description="Everything of this organization")
    def support_links(self, obj: Organization) -> str:
        """Links to the organization's rows in the other screens (each filtered by it)."""
        if obj.pk is None:
            return "-"
        org = {"org": obj.slug}
        links = [
            ("Members", "admin:organizations_membership_changelist", org),
            ("Invitations", "admin:organizations_invitation_changelist", org),
            ("Projects", "admin:projects_project_changelist", org),
            ("Sites", "admin:sites_site_changelist", org),
            ("Subscription", "admin:billing_subscription_changelist", org),
            ("Audit log", "admin:audit_auditevent_changelist", org),
        ]
        return format_html_join(
            " · ",
            '<a href="{}?{}">{}</a>',
            ((reverse(name), urlencode(query), label) for label, name, query in links),
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # organizations are created by their owner through the API

    def save_model(self, request: HttpRequest, obj: Organization, form: Any, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        fresh = Organization.objects.get(pk=obj.pk)
        services.organization_update(actor=request.user, organization=fresh, **fields)

    # --- deleting = erasing -----------------------------------------------------------
    # The admin's delete runs the same erase as ``manage.py erase_org`` (every tenant row,
    # the stored files after commit, the audit trail kept, ``org.erased`` recorded), one
    # organization at a time, after the staff member types its slug.

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # no bulk erase without a typed confirmation
        return actions

    def delete_model(self, request: HttpRequest, obj: Organization) -> None:
        organization_erase(slug=obj.slug, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Organization]) -> None:
        for org in queryset:
            organization_erase(slug=org.slug, actor=request.user)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_delete_permission(request, obj):
            raise PermissionDenied
        form = EraseConfirmationForm(request.POST or None, slug=obj.slug)
        if request.method == "POST" and form.is_valid():
            result = organization_erase(slug=obj.slug, actor=request.user)
            rows = sum(item.rows for item in result.items if item.action != "keep")
            self.message_user(
                request,
                f"Erased {obj.name} ({obj.slug}): {rows} rows and their stored files; "
                "the audit trail is kept.",
                messages.SUCCESS,
            )
            return HttpResponseRedirect(reverse("admin:organizations_organization_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Erase {obj.name}",
            "opts": self.opts,
            "object": obj,
            "form": form,
            **(extra_context or {}),
        }
        return TemplateResponse(
            request, "admin/organizations/organization/erase_confirmation.html", context
        )

    @admin.action(description="Suspend (read-only), with a reason", permissions=["change"])
    def suspend(self, request: HttpRequest, queryset: QuerySet[Organization]) -> Any:
        return apply_with_reason(
            self,
            request,
            queryset,
            title="Suspend (read-only)",
            verb="Suspended",
            change=lambda org, reason: services.organization_set_suspended(
                actor=request.user, organization=org, suspended=True, reason=reason
            ),
        )

    @admin.action(description="Lift suspension, with a reason", permissions=["change"])
    def unsuspend(self, request: HttpRequest, queryset: QuerySet[Organization]) -> Any:
        return apply_with_reason(
            self,
            request,
            queryset,
            title="Lift suspension",
            verb="Unsuspended",
            change=lambda org, reason: services.organization_set_suspended(
                actor=request.user, organization=org, suspended=False, reason=reason
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
