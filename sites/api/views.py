"""The sites API: sites, pages, versions, comments, deployments, domains, analytics.

Thin views: :class:`SiteScopedAPIView` resolves the site named in the URL after
the organization (404 if it is not there), ``scope_map`` + the permission
matrix decide, services write, selectors read. Page writes carry the page's
``ETag``; ``PATCH`` needs it back in ``If-Match`` (412 when stale).
"""

from __future__ import annotations

import uuid
from typing import Any

from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.filters import FilterSet
from config.api.pagination import CursorPagination
from config.api.params import history_range, history_range_parameters
from config.api.serializers import validated
from organizations.api.base import ListAPIMixin, OrgScopedAPIView
from organizations.permissions import allows
from sites import selectors
from sites.api import serializers as s
from sites.errors import ERROR_CODES
from sites.models import (
    Deployment,
    Domain,
    Page,
    PageAnalyticsDaily,
    PageComment,
    PageVersion,
    Site,
)
from sites.public import render_page_html
from sites.services import comments as comment_services
from sites.services import deployments as deployment_services
from sites.services import domains as domain_services
from sites.services import pages as page_services
from sites.services import sites as site_services

assert ERROR_CODES  # the codes these views answer are documented there


class SiteScopedAPIView(OrgScopedAPIView):
    """Everything under ``/api/v1/orgs/{org_slug}/sites/{site_slug}/``."""

    site: Site
    # Views that answer the site document (it shows the creator) load the creator with
    # the site; the others do not read that row (issue 21).
    site_with_creator = False

    def authorize(self, request: Request, action: str, url_kwargs: dict[str, Any]) -> None:
        site = selectors.site_by_slug(
            organization_id=self.organization_id,
            slug=url_kwargs["site_slug"],
            with_creator=self.site_with_creator,
        )
        if site is None:
            raise exceptions.NotFound()
        super().authorize(request, action, url_kwargs)
        self.site = site

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        context["org_slug"] = self.kwargs.get("org_slug")
        return context


# --- sites ---------------------------------------------------------------------------


class SiteFilter(FilterSet):
    status = filters.ChoiceFilter(choices=Site.Status.choices)
    q = filters.CharFilter(field_name="name", lookup_expr="icontains", help_text="Name contains.")

    class Meta:
        model = Site
        fields = ["status", "q"]


class SiteListView(ListAPIMixin, OrgScopedAPIView):
    """Sites of the organization (``status``, ``q``); create one (``template``: own or public)."""

    scope_map = {"GET": "site.view", "POST": "site.create"}
    queryset = Site.objects.none()
    serializer_class = s.SiteSerializer
    filterset_class = SiteFilter
    ordering_fields = ("created_at", "updated_at", "name", "slug")
    search_fields = ("name", "slug")

    def scoped_queryset(self) -> Any:
        return selectors.sites_of(organization_id=self.organization_id)

    def get_serializer_context(self) -> dict[str, Any]:
        return super().get_serializer_context() | {"org_slug": self.kwargs.get("org_slug")}

    @extend_schema(request=s.SiteCreateSerializer, responses={201: s.SiteSerializer})
    def post(self, request: Request, org_slug: str) -> Response:
        data = validated(s.SiteCreateSerializer, request)
        site = site_services.site_create(
            actor=request.user,
            organization_id=self.organization_id,
            template_id=data.pop("template", None),
            **data,
        )
        return Response(
            s.SiteSerializer(site, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )


class SiteDetailView(SiteScopedAPIView):
    scope_map = {"GET": "site.view", "PATCH": "site.update", "DELETE": "site.delete"}
    site_with_creator = True
    queryset = Site.objects.none()
    serializer_class = s.SiteSerializer

    def get(self, request: Request, **kwargs: Any) -> Response:
        return Response(s.SiteSerializer(self.site, context=self.get_serializer_context()).data)

    @extend_schema(request=s.SiteUpdateSerializer, responses=s.SiteSerializer)
    def patch(self, request: Request, **kwargs: Any) -> Response:
        """Rename, describe, change settings; ``production_locked`` (owners and admins, as
        deploying to production) locks or unlocks production's following of publishing."""
        data = validated(s.SiteUpdateSerializer, request)
        locked = data.pop("production_locked", None)
        if locked is not None and not allows(self.org.role, "deployment.production"):
            raise exceptions.PermissionDenied(
                "Only org owners and admins lock or unlock production."
            )
        site = site_services.site_update(actor=request.user, site=self.site, **data)
        if locked is not None:
            site = site_services.site_set_production_locked(
                actor=request.user, site=site, locked=locked
            )
        return Response(s.SiteSerializer(site, context=self.get_serializer_context()).data)

    def delete(self, request: Request, **kwargs: Any) -> Response:
        site_services.site_delete(actor=request.user, site=self.site)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SitePublishView(SiteScopedAPIView):
    """Publish several drafts together (``pages``, default: every page with unpublished
    changes): all or nothing, and one production deployment for all of them."""

    scope_map = {"POST": "page.publish"}
    queryset = Site.objects.none()
    serializer_class = s.SitePublicationSerializer

    @extend_schema(request=s.SitePublishSerializer, responses={201: s.SitePublicationSerializer})
    def post(self, request: Request, **kwargs: Any) -> Response:
        data = validated(s.SitePublishSerializer, request)
        publication = page_services.site_publish(
            actor=request.user,
            site=self.site,
            page_ids=data.pop("pages", None),
            **data,
        )
        return Response(s.SitePublicationSerializer.of(publication), status=status.HTTP_201_CREATED)


class SiteArchiveView(SiteScopedAPIView):
    """``POST`` archives the site (its public pages answer 410), ``DELETE`` unarchives."""

    site_with_creator = True
    scope_map = {"POST": "site.archive", "DELETE": "site.archive"}
    queryset = Site.objects.none()
    serializer_class = s.SiteSerializer

    @extend_schema(request=None, responses=s.SiteSerializer)
    def post(self, request: Request, **kwargs: Any) -> Response:
        site = site_services.site_set_archived(actor=request.user, site=self.site, archived=True)
        return Response(s.SiteSerializer(site, context=self.get_serializer_context()).data)

    @extend_schema(request=None, responses=s.SiteSerializer)
    def delete(self, request: Request, **kwargs: Any) -> Response:
        site = site_services.site_set_archived(actor=request.user, site=self.site, archived=False)
        return Response(s.SiteSerializer(site, context=self.get_serializer_context()).data)


# --- pages ---------------------------------------------------------------------------


class PathPagination(CursorPagination):
    ordering = ("path", "id")


class PageFilter(FilterSet):
    status = filters.ChoiceFilter(choices=Page.Status.choices)
    path_prefix = filters.CharFilter(field_name="path", lookup_expr="startswith")
    has_unpublished_changes = filters.BooleanFilter()

    class Meta:
        model = Page
        fields = ["status", "path_prefix", "has_unpublished_changes"]


class _PageView(SiteScopedAPIView):
    """Under ``pages/{page_id}/`` the page is resolved with the site, before the body is
    read: a page of another site or org is a 404, never a validation error."""

    queryset = Page.objects.none()
    page: Page | None = None

    def authorize(self, request: Request, action: str, url_kwargs: dict[str, Any]) -> None:
        super().authorize(request, action, url_kwargs)
        if "page_id" in url_kwargs:
            self.page = self.get_page(url_kwargs["page_id"])

    def get_page(self, page_id: uuid.UUID) -> Page:
        page = selectors.page_of(site=self.site, page_id=page_id)
        if page is None:
            raise exceptions.NotFound()
        return page

    def page_response(self, page_id: uuid.UUID, *, code: int = 200) -> Response:
        page = self.get_page(page_id)
        response = Response(s.PageDetailSerializer(page).data, status=code)
        response["ETag"] = page.etag
        return response


class PageListView(ListAPIMixin, _PageView):
    """Pages in path order, without content (``status``, ``path_prefix``,
    ``has_unpublished_changes``); create one (answers its ``ETag``)."""

    scope_map = {"GET": "site.view", "POST": "page.write"}
    serializer_class = s.PageSerializer
    filterset_class = PageFilter
    pagination_class = PathPagination
    ordering_fields = ("path", "title", "created_at", "updated_at")  # in PAGE_LIST_COLUMNS
    search_fields = ("path", "title")

    def scoped_queryset(self) -> Any:
        return selectors.pages_of(site=self.site)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rows = self.filter_queryset(self.get_queryset()).values(*s.PAGE_LIST_COLUMNS)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response([s.page_list_item(row) for row in page])

    @extend_schema(request=s.PageCreateSerializer, responses={201: s.PageDetailSerializer})
    def post(self, request: Request, **kwargs: Any) -> Response:
        data = validated(s.PageCreateSerializer, request)
        page = page_services.page_create(actor=request.user, site=self.site, **data)
        return self.page_response(page.id, code=status.HTTP_201_CREATED)


class PageDetailView(_PageView):
    """The draft with its ``ETag``; ``PATCH`` it with ``If-Match`` (412 stale, 428 missing,
    423 locked by someone else)."""

    scope_map = {"GET": "site.view", "PATCH": "page.write", "DELETE": "page.write"}
    serializer_class = s.PageDetailSerializer

    def get(self, request: Request, page_id: uuid.UUID, **kwargs: Any) -> Response:
        return self.page_response(page_id)

    @extend_schema(
        request=s.PageUpdateSerializer,
        responses=s.PageDetailSerializer,
        parameters=[OpenApiParameter("If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER)],
    )
    def patch(self, request: Request, page_id: uuid.UUID, **kwargs: Any) -> Response:
        data = validated(s.PageUpdateSerializer, request)
        page_services.page_update(
            actor=request.user,
            site=self.site,
            page=self.get_page(page_id),
            if_match=request.headers.get("If-Match"),
            **data,
        )
        return self.page_response(page_id)

    def delete(self, request: Request, page_id: uuid.UUID, **kwargs: Any) -> Response:
        page_services.page_delete(actor=request.user, page=self.get_page(page_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PagePublishView(_PageView):
    """Publish the draft as the next version: live now, or at ``go_live_at``; optional
    ``expire_at`` takes it down later. ``If-Match`` is checked when sent. A pending
    schedule is replaced only with ``replace_schedule`` (409 ``schedule_pending``).
    The answer says ``live`` or ``scheduled``, when, and the production deployment
    publishing started (the built-in host follows publishing unless locked)."""

    scope_map = {"POST": "page.publish"}
    serializer_class = s.PublicationSerializer

    @extend_schema(request=s.PublishSerializer, responses={201: s.PublicationSerializer})
    def post(self, request: Request, page_id: uuid.UUID, **kwargs: Any) -> Response:
        data = validated(s.PublishSerializer, request)
        publication = page_services.page_publish(
            actor=request.user,
            site=self.site,
            page=self.get_page(page_id),
            if_match=request.headers.get("If-Match"),
            **data,
        )
        return Response(s.PublicationSerializer.of(publication), status=status.HTTP_201_CREATED)


class PageUnpublishView(_PageView):
    scope_map = {"POST": "page.publish"}
    serializer_class = s.PageDetailSerializer

    @extend_schema(request=None, responses=s.PageDetailSerializer)
    def post(self, request: Request, page_id: uuid.UUID, **kwargs: Any) -> Response:
        page_services.page_unpublish(actor=request.user, page=self.get_page(page_id))
        return self.page_response(page_id)


class PageLockView(_PageView):
    """``POST`` takes (or renews) the edit lock; ``DELETE`` releases it (holder or admin)."""

    scope_map = {"POST": "page.write", "DELETE": "page.write"}
    serializer_class = s.PageDetailSerializer

    @extend_schema(request=None, responses=s.PageDetailSerializer)
    def post(self, request: Request, page_id: uuid.UUID, **kwargs: Any) -> Response:
        page_services.page_lock(actor=request.user, page=self.get_page(page_id))
        return self.page_response(page_id)

    @extend_schema(request=None, responses=s.PageDetailSerializer)
    def delete(self, request: Request, page_id: uuid.UUID, **kwargs: Any) -> Response:
        page_services.page_unlock(
            actor=request.user, org_role=self.org.role, page=self.get_page(page_id)
        )
        return self.page_response(page_id)


# --- versions --------------------------------------------------------------------------


class VersionPagination(CursorPagination):
    ordering = ("-number",)


class VersionListView(ListAPIMixin, _PageView):
    """Published versions, newest first, without content."""

    scope_map = {"GET": "site.view"}
    queryset = PageVersion.objects.none()
    serializer_class = s.VersionSerializer
    pagination_class = VersionPagination
    ordering_fields = ("number",)

    def scoped_queryset(self) -> Any:
        return selectors.versions_of(page=self.get_page(self.kwargs["page_id"]))


class VersionDetailView(_PageView):
    scope_map = {"GET": "site.view"}
    serializer_class = s.VersionDetailSerializer

    def get(
        self, request: Request, page_id: uuid.UUID, version_number: int, **kwargs: Any
    ) -> Response:
        version = selectors.version_of(page=self.get_page(page_id), number=version_number)
        if version is None:
            raise exceptions.NotFound("No such version.")
        return Response(s.VersionDetailSerializer(version).data)


class VersionRevertView(_PageView):
    """Make the draft a copy of this version (publish it to make it live)."""

    scope_map = {"POST": "page.write"}
    serializer_class = s.PageDetailSerializer

    @extend_schema(request=None, responses=s.PageDetailSerializer)
    def post(
        self, request: Request, page_id: uuid.UUID, version_number: int, **kwargs: Any
    ) -> Response:
        page = self.get_page(page_id)
        version = selectors.version_of(page=page, number=version_number)
        if version is None:
            raise exceptions.NotFound("No such version.")
        page_services.page_revert(actor=request.user, page=page, version=version)
        return self.page_response(page_id)


class VersionDiffView(_PageView):
    scope_map = {"GET": "site.view"}
    serializer_class = s.VersionDiffSerializer

    @extend_schema(parameters=history_range_parameters("version"))
    def get(self, request: Request, page_id: uuid.UUID, **kwargs: Any) -> Response:
        """Unified diff between two versions, and the block ids added, removed, changed."""
        page = self.get_page(page_id)  # 404 before 400: another org's page is not there
        from_number, to_number = history_range(request, "version")
        diff = selectors.version_diff(page=page, from_number=from_number, to_number=to_number)
        if diff is None:
            raise exceptions.NotFound("No such version.")
        return Response(diff)


# --- comments ---------------------------------------------------------------------------


class CommentFilter(FilterSet):
    resolved = filters.BooleanFilter(field_name="resolved_at", lookup_expr="isnull", exclude=True)
    block_id = filters.CharFilter()
    parent = filters.UUIDFilter()

    class Meta:
        model = PageComment
        fields = ["resolved", "block_id", "parent"]


class CommentListView(ListAPIMixin, _PageView):
    """Comments on the page, newest first (``resolved``, ``block_id``, ``parent``)."""

    scope_map = {"GET": "site.view", "POST": "page.comment"}
    queryset = PageComment.objects.none()
    serializer_class = s.CommentSerializer
    filterset_class = CommentFilter
    ordering_fields = ("created_at", "updated_at")

    def scoped_queryset(self) -> Any:
        return selectors.comments_of(page=self.get_page(self.kwargs["page_id"]))

    @extend_schema(request=s.CommentCreateSerializer, responses={201: s.CommentSerializer})
    def post(self, request: Request, page_id: uuid.UUID, **kwargs: Any) -> Response:
        data = validated(s.CommentCreateSerializer, request)
        page = self.get_page(page_id)
        comment = comment_services.comment_create(
            actor=request.user,
            page=page,
            body=data["body"],
            block_id=data["block_id"],
            version_number=data["version"],
            parent_id=data["parent"],
        )
        comment = selectors.comments_of(page=page).get(id=comment.id)
        return Response(s.CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class CommentDetailView(_PageView):
    """``PATCH`` edits the body (author) or resolves (``resolved``); ``DELETE``: author or admin."""

    scope_map = {"PATCH": "page.comment", "DELETE": "page.comment"}
    queryset = PageComment.objects.none()
    serializer_class = s.CommentSerializer

    def authorize(self, request: Request, action: str, url_kwargs: dict[str, Any]) -> None:
        super().authorize(request, action, url_kwargs)
        self.get_comment(url_kwargs["page_id"], url_kwargs["comment_id"])

    def get_comment(self, page_id: uuid.UUID, comment_id: uuid.UUID) -> PageComment:
        comment = selectors.comments_of(page=self.get_page(page_id)).filter(id=comment_id).first()
        if comment is None:
            raise exceptions.NotFound()
        return comment

    @extend_schema(request=s.CommentUpdateSerializer, responses=s.CommentSerializer)
    def patch(
        self, request: Request, page_id: uuid.UUID, comment_id: uuid.UUID, **kwargs: Any
    ) -> Response:
        data = validated(s.CommentUpdateSerializer, request)
        comment_services.comment_update(
            actor=request.user,
            org_role=self.org.role,
            comment=self.get_comment(page_id, comment_id),
            **data,
        )
        return Response(s.CommentSerializer(self.get_comment(page_id, comment_id)).data)

    def delete(
        self, request: Request, page_id: uuid.UUID, comment_id: uuid.UUID, **kwargs: Any
    ) -> Response:
        comment_services.comment_delete(
            actor=request.user,
            org_role=self.org.role,
            comment=self.get_comment(page_id, comment_id),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- deployments ---------------------------------------------------------------------------


class DeploymentFilter(FilterSet):
    environment = filters.ChoiceFilter(choices=Deployment.Environment.choices)
    status = filters.ChoiceFilter(choices=Deployment.Status.choices)

    class Meta:
        model = Deployment
        fields = ["environment", "status"]


class _DeploymentView(SiteScopedAPIView):
    queryset = Deployment.objects.none()

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        site = getattr(self, "site", None)
        context["live_deployment_id"] = site.live_deployment_id if site else None
        return context

    def authorize(self, request: Request, action: str, url_kwargs: dict[str, Any]) -> None:
        super().authorize(request, action, url_kwargs)
        if "deployment_id" in url_kwargs:
            self.get_deployment(url_kwargs["deployment_id"])  # 404 before anything else

    def get_deployment(self, deployment_id: uuid.UUID) -> Deployment:
        deployment = selectors.deployment_of(site=self.site, deployment_id=deployment_id)
        if deployment is None:
            raise exceptions.NotFound()
        return deployment


class DeploymentListView(ListAPIMixin, _DeploymentView):
    """Deployments, newest first (``environment``, ``status``); deploy the published pages
    (``preview``: members; ``production``: admins). Answers ``{id, status}`` at once;
    the build runs in the background."""

    scope_map = {"GET": "site.view", "POST": "deployment.create"}
    serializer_class = s.DeploymentSerializer
    filterset_class = DeploymentFilter
    ordering_fields = ("created_at", "updated_at")

    def scoped_queryset(self) -> Any:
        return selectors.deployments_of(site=self.site)

    @extend_schema(request=s.DeploymentCreateSerializer, responses={202: s.DeploymentSerializer})
    def post(self, request: Request, **kwargs: Any) -> Response:
        data = validated(s.DeploymentCreateSerializer, request)
        if data["environment"] == Deployment.Environment.PRODUCTION and not allows(
            self.org.role, "deployment.production"
        ):
            raise exceptions.PermissionDenied("Only org owners and admins deploy to production.")
        deployment = deployment_services.deployment_create(
            actor=request.user, site=self.site, environment=data["environment"]
        )
        return Response(
            s.DeploymentSerializer(deployment, context=self.get_serializer_context()).data,
            status=status.HTTP_202_ACCEPTED,
        )


class DeploymentDetailView(_DeploymentView):
    """Status, progress (0-100), the capped build log and the pinned page versions."""

    scope_map = {"GET": "site.view"}
    serializer_class = s.DeploymentDetailSerializer

    def get(self, request: Request, deployment_id: uuid.UUID, **kwargs: Any) -> Response:
        return Response(
            s.DeploymentDetailSerializer(
                self.get_deployment(deployment_id), context=self.get_serializer_context()
            ).data
        )


class DeploymentRollbackView(_DeploymentView):
    """Serve this earlier ready production deployment again, without rebuilding."""

    scope_map = {"POST": "deployment.rollback"}
    serializer_class = s.DeploymentSerializer

    @extend_schema(request=None, responses=s.DeploymentSerializer)
    def post(self, request: Request, deployment_id: uuid.UUID, **kwargs: Any) -> Response:
        deployment = self.get_deployment(deployment_id)
        self.site = deployment_services.deployment_rollback(
            actor=request.user, site=self.site, deployment=deployment
        )
        return Response(
            s.DeploymentSerializer(deployment, context=self.get_serializer_context()).data
        )


class DeploymentCancelView(_DeploymentView):
    scope_map = {"POST": "deployment.cancel"}
    serializer_class = s.DeploymentSerializer

    @extend_schema(request=None, responses=s.DeploymentSerializer)
    def post(self, request: Request, deployment_id: uuid.UUID, **kwargs: Any) -> Response:
        deployment = deployment_services.deployment_cancel(
            actor=request.user, deployment=self.get_deployment(deployment_id)
        )
        return Response(
            s.DeploymentSerializer(deployment, context=self.get_serializer_context()).data
        )


class DeploymentRenderView(_DeploymentView):
    """A page of this deployment rendered as the live site would (``?path=/``): how
    previews are looked at. JSON ``{path, title, version, html}``, like every API answer."""

    scope_map = {"GET": "site.view"}
    serializer_class = None

    @extend_schema(
        parameters=[OpenApiParameter("path", OpenApiTypes.STR)],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, deployment_id: uuid.UUID, **kwargs: Any) -> Response:
        deployment = self.get_deployment(deployment_id)
        path = "/" + "/".join(p for p in request.query_params.get("path", "/").split("/") if p)
        pinned = {p.path: p for p in deployment.pinned_pages.all()}
        if deployment.status != Deployment.Status.READY or path not in pinned:
            raise exceptions.NotFound("No such page in this deployment.")
        version = PageVersion.objects.get(
            organization_id=self.organization_id, id=pinned[path].version_id
        )
        titles = dict(
            PageVersion.objects.filter(
                organization_id=self.organization_id,
                id__in=[p.version_id for p in pinned.values()],
            ).values_list("path", "title")
        )
        html = render_page_html(
            site_name=self.site.name,
            site_settings=self.site.settings,
            title=version.title,
            content=version.content,
            seo=version.seo,
            nav=[{"path": p, "title": titles.get(p, p)} for p in sorted(pinned)],
            base="",
        )
        return Response(
            {"path": path, "title": version.title, "version": version.number, "html": html}
        )


# --- domains ---------------------------------------------------------------------------------


class _DomainView(SiteScopedAPIView):
    queryset = Domain.objects.none()
    serializer_class = s.DomainSerializer

    def authorize(self, request: Request, action: str, url_kwargs: dict[str, Any]) -> None:
        super().authorize(request, action, url_kwargs)
        if "domain_id" in url_kwargs:
            self.get_domain(url_kwargs["domain_id"])  # 404 before the body is read

    def get_domain(self, domain_id: uuid.UUID) -> Domain:
        domain = selectors.domains_of(site=self.site).filter(id=domain_id).first()
        if domain is None:
            raise exceptions.NotFound()
        return domain


class DomainListView(ListAPIMixin, _DomainView):
    """Custom domains of the site; add one (then create its TXT record and verify)."""

    scope_map = {"GET": "site.view", "POST": "domain.manage"}
    ordering_fields = ("created_at", "hostname")

    def scoped_queryset(self) -> Any:
        return selectors.domains_of(site=self.site)

    @extend_schema(request=s.DomainCreateSerializer, responses={201: s.DomainSerializer})
    def post(self, request: Request, **kwargs: Any) -> Response:
        data = validated(s.DomainCreateSerializer, request)
        domain = domain_services.domain_create(
            actor=request.user, site=self.site, hostname=data["hostname"]
        )
        return Response(s.DomainSerializer(domain).data, status=status.HTTP_201_CREATED)


class DomainDetailView(_DomainView):
    scope_map = {"GET": "site.view", "PATCH": "domain.manage", "DELETE": "domain.manage"}

    def get(self, request: Request, domain_id: uuid.UUID, **kwargs: Any) -> Response:
        return Response(s.DomainSerializer(self.get_domain(domain_id)).data)

    @extend_schema(request=s.DomainUpdateSerializer, responses=s.DomainSerializer)
    def patch(self, request: Request, domain_id: uuid.UUID, **kwargs: Any) -> Response:
        """Make the domain the site's primary one (``{"is_primary": true}``)."""
        data = validated(s.DomainUpdateSerializer, request)
        domain = self.get_domain(domain_id)
        if data["is_primary"]:
            domain = domain_services.domain_set_primary(actor=request.user, domain=domain)
        return Response(s.DomainSerializer(domain).data)

    def delete(self, request: Request, domain_id: uuid.UUID, **kwargs: Any) -> Response:
        domain_services.domain_delete(actor=request.user, domain=self.get_domain(domain_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DomainVerifyView(_DomainView):
    """Look up ``_saas-verify.<hostname>`` now: ``verified`` or ``failed`` (409
    ``hostname_taken`` if another site already has it verified)."""

    scope_map = {"POST": "domain.manage"}

    @extend_schema(request=None, responses=s.DomainSerializer)
    def post(self, request: Request, domain_id: uuid.UUID, **kwargs: Any) -> Response:
        domain = domain_services.domain_verify(
            actor=request.user, domain=self.get_domain(domain_id)
        )
        return Response(s.DomainSerializer(domain).data)


# --- analytics -------------------------------------------------------------------------------


class AnalyticsPagination(CursorPagination):
    ordering = ("-day", "-id")


class AnalyticsFilter(FilterSet):
    page = filters.UUIDFilter()
    since = filters.DateFilter(field_name="day", lookup_expr="gte")
    until = filters.DateFilter(field_name="day", lookup_expr="lte")

    class Meta:
        model = PageAnalyticsDaily
        fields = ["page", "since", "until"]


class AnalyticsListView(ListAPIMixin, SiteScopedAPIView):
    """Views and visitors per page and day, newest first (``page``, ``since``, ``until``)."""

    scope_map = {"GET": "site.view"}
    queryset = PageAnalyticsDaily.objects.none()
    serializer_class = s.AnalyticsSerializer
    filterset_class = AnalyticsFilter
    pagination_class = AnalyticsPagination
    ordering_fields = ("day", "views", "visitors")

    def scoped_queryset(self) -> Any:
        return selectors.analytics_of(site=self.site)
