"""Staff screens for the website builder.

Sites, pages (with their versions, read-only: the database refuses changes to
them anyway), deployments with their build logs, and domains. Every staff
change is an action that calls the same service as the API, declares
``allowed_permissions``, and is audited as a staff action.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from config.admin import ReadOnlyActionsAdmin, ReadOnlyTabularInline, apply_to_each
from sites.models import Deployment, DeploymentPage, Domain, Page, PageVersion, Site
from sites.services.deployments import deployment_cancel
from sites.services.domains import domain_verify
from sites.services.pages import page_unlock, page_unpublish
from sites.services.sites import site_set_archived


class PageInline(ReadOnlyTabularInline):
    model = Page
    fields = ["path", "title", "status", "has_unpublished_changes", "updated_at"]
    ordering = ["path"]


class DomainInline(ReadOnlyTabularInline):
    model = Domain
    fields = ["hostname", "status", "is_primary", "verified_at"]


@admin.register(Site)
class SiteAdmin(ReadOnlyActionsAdmin):
    list_display = ["name", "slug", "organization", "status", "live_deployment", "created_at"]
    list_filter = ["status", "created_at"]
    list_select_related = ["organization"]
    search_fields = ["name", "slug", "organization__slug"]
    inlines = [PageInline, DomainInline]
    actions = ["archive", "unarchive"]
    hidden_fields = ("search",)  # the generated full-text vector

    @admin.action(description="Archive (the public site is gone)", permissions=["change"])
    def archive(self, request: HttpRequest, queryset: QuerySet[Site]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            "Archived",
            lambda site: site_set_archived(actor=request.user, site=site, archived=True),
        )

    @admin.action(description="Unarchive", permissions=["change"])
    def unarchive(self, request: HttpRequest, queryset: QuerySet[Site]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            "Unarchived",
            lambda site: site_set_archived(actor=request.user, site=site, archived=False),
        )


class VersionInline(ReadOnlyTabularInline):
    model = PageVersion
    fk_name = "page"
    fields = ["number", "title", "sha256", "author", "message", "created_at"]
    ordering = ["-number"]


@admin.register(Page)
class PageAdmin(ReadOnlyActionsAdmin):
    list_display = ["path", "title", "site", "status", "has_unpublished_changes", "updated_at"]
    list_filter = ["status", "has_unpublished_changes"]
    list_select_related = ["site"]
    search_fields = ["path", "title", "site__slug"]
    inlines = [VersionInline]
    actions = ["unpublish", "unlock"]
    hidden_fields = ("search",)  # the generated full-text vector

    @admin.action(description="Unpublish", permissions=["change"])
    def unpublish(self, request: HttpRequest, queryset: QuerySet[Page]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            "Unpublished",
            lambda page: page_unpublish(actor=request.user, page=page),
        )

    @admin.action(description="Release the edit lock", permissions=["change"])
    def unlock(self, request: HttpRequest, queryset: QuerySet[Page]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            "Unlocked",
            lambda page: page_unlock(actor=request.user, org_role="owner", page=page),
        )


@admin.register(PageVersion)
class PageVersionAdmin(ReadOnlyActionsAdmin):
    list_display = ["page", "number", "title", "author", "created_at"]
    list_select_related = ["page", "author"]
    search_fields = ["page__path", "sha256", "message"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PinnedPageInline(ReadOnlyTabularInline):
    model = DeploymentPage
    fields = ["path", "page", "version"]
    ordering = ["path"]


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyActionsAdmin):
    list_display = ["id", "site", "environment", "status", "progress", "created_at", "finished_at"]
    list_filter = ["status", "environment", "provider"]
    list_select_related = ["site"]
    search_fields = ["site__slug", "error"]
    inlines = [PinnedPageInline]
    actions = ["cancel"]

    @admin.action(description="Cancel", permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Deployment]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            "Canceled",
            lambda deployment: deployment_cancel(actor=request.user, deployment=deployment),
        )


@admin.register(Domain)
class DomainAdmin(ReadOnlyActionsAdmin):
    list_display = ["hostname", "site", "status", "is_primary", "verified_at", "last_checked_at"]
    list_filter = ["status"]
    list_select_related = ["site"]
    search_fields = ["hostname", "site__slug"]
    actions = ["verify"]
    hidden_fields = ("verification_token",)

    @admin.action(description="Verify now (DNS TXT look-up)", permissions=["change"])
    def verify(self, request: HttpRequest, queryset: QuerySet[Domain]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            "Checked",
            lambda domain: domain_verify(actor=request.user, domain=domain),
        )
