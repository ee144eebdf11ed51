"""Components, sections and templates: the organization's own and everyone's public ones.

Lists show both (``mine``/``public`` filter them); an item of another
organization is read-only here (writes answer 404: it is not this org's).
``GET /api/v1/templates/`` lists the public templates for any signed-in user.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.filters import FilterSet
from config.api.serializers import validated
from organizations.api.base import ListAPIMixin, OrgScopedAPIView, UserScopedAPIView
from sites import selectors
from sites.api import serializers as s
from sites.models import Component, Section, Template
from sites.services import library


class LibraryFilter(FilterSet):
    mine = filters.BooleanFilter(method="filter_mine", help_text="Only your organization's.")
    public = filters.BooleanFilter(field_name="is_public")
    q = filters.CharFilter(field_name="name", lookup_expr="icontains")

    def filter_mine(self, queryset: Any, name: str, value: bool) -> Any:
        org = self.request.parser_context["view"].organization_id
        return (
            queryset.filter(organization_id=org) if value else queryset.exclude(organization_id=org)
        )


class ComponentFilter(LibraryFilter):
    class Meta:
        model = Component
        fields = ["mine", "public", "q"]


class SectionFilter(LibraryFilter):
    class Meta:
        model = Section
        fields = ["mine", "public", "q"]


class TemplateFilter(LibraryFilter):
    class Meta:
        model = Template
        fields = ["mine", "public", "q"]


class _LibraryView(OrgScopedAPIView):
    model: ClassVar[type]
    create_serializer: ClassVar[type]
    update_serializer: ClassVar[type]
    detail_serializer: ClassVar[type]

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        org = getattr(self, "org", None)
        context["organization_id"] = org.organization_id if org else None
        return context

    def scoped_queryset(self) -> Any:
        return selectors.library_of(model=self.model, organization_id=self.organization_id)

    def render(self, item: Any, *, code: int = 200) -> Response:
        return Response(
            self.detail_serializer(item, context=self.get_serializer_context()).data, status=code
        )


class _LibraryListView(ListAPIMixin, _LibraryView):
    scope_map = {"GET": "site.view", "POST": "library.write"}
    ordering_fields = ("created_at", "updated_at", "name")
    search_fields = ("name",)

    def post(self, request: Request, **kwargs: Any) -> Response:
        data = validated(self.create_serializer, request)
        item = library.library_item_create(
            actor=request.user,
            org_role=self.org.role,
            organization_id=self.organization_id,
            model=self.model,
            **data,
        )
        return self.render(item, code=status.HTTP_201_CREATED)


class _LibraryDetailView(_LibraryView):
    """Read your own or a public item; change or delete your own (``is_public``: admins)."""

    scope_map = {"GET": "site.view", "PATCH": "library.write", "DELETE": "library.write"}
    url_kwarg: ClassVar[str]

    def get_item(self, *, own: bool) -> Any:
        queryset = self.scoped_queryset()
        if own:
            queryset = queryset.filter(organization_id=self.organization_id)
        item = queryset.filter(id=self.kwargs[self.url_kwarg]).first()
        if item is None:
            raise exceptions.NotFound()
        return item

    def get(self, request: Request, **kwargs: Any) -> Response:
        return self.render(self.get_item(own=False))

    def patch(self, request: Request, **kwargs: Any) -> Response:
        data = validated(self.update_serializer, request)
        item = library.library_item_update(
            actor=request.user, org_role=self.org.role, item=self.get_item(own=True), **data
        )
        return self.render(item)

    def delete(self, request: Request, **kwargs: Any) -> Response:
        library.library_item_delete(actor=request.user, item=self.get_item(own=True))
        return Response(status=status.HTTP_204_NO_CONTENT)


class _Components:
    model = Component
    queryset = Component.objects.none()
    serializer_class = s.ComponentSerializer
    detail_serializer = s.ComponentSerializer
    create_serializer = s.BlockItemCreateSerializer
    update_serializer = s.BlockItemUpdateSerializer
    filterset_class = ComponentFilter


class _Sections:
    model = Section
    queryset = Section.objects.none()
    serializer_class = s.SectionSerializer
    detail_serializer = s.SectionSerializer
    create_serializer = s.BlockItemCreateSerializer
    update_serializer = s.BlockItemUpdateSerializer
    filterset_class = SectionFilter


class _Templates:
    model = Template
    queryset = Template.objects.none()
    serializer_class = s.TemplateSerializer
    detail_serializer = s.TemplateDetailSerializer
    create_serializer = s.TemplateCreateSerializer
    update_serializer = s.TemplateUpdateSerializer
    filterset_class = TemplateFilter


@extend_schema(request=s.BlockItemCreateSerializer, responses=s.ComponentSerializer)
class ComponentListView(_Components, _LibraryListView):
    """Components (your organization's and public ones); create one."""


@extend_schema(request=s.BlockItemUpdateSerializer, responses=s.ComponentSerializer)
class ComponentDetailView(_Components, _LibraryDetailView):
    url_kwarg = "component_id"


@extend_schema(request=s.BlockItemCreateSerializer, responses=s.SectionSerializer)
class SectionListView(_Sections, _LibraryListView):
    """Sections (your organization's and public ones); create one."""


@extend_schema(request=s.BlockItemUpdateSerializer, responses=s.SectionSerializer)
class SectionDetailView(_Sections, _LibraryDetailView):
    url_kwarg = "section_id"


@extend_schema(request=s.TemplateCreateSerializer, responses=s.TemplateDetailSerializer)
class TemplateListView(_Templates, _LibraryListView):
    """Site templates (your organization's and public ones); create one."""


@extend_schema(request=s.TemplateUpdateSerializer, responses=s.TemplateDetailSerializer)
class TemplateDetailView(_Templates, _LibraryDetailView):
    url_kwarg = "template_id"


class PublicTemplateListView(ListAPIMixin, UserScopedAPIView):
    """Every public site template, for any signed-in user (create a site from one)."""

    queryset = Template.objects.none()
    serializer_class = s.TemplateSerializer
    ordering_fields = ("created_at", "name")
    search_fields = ("name",)

    def scoped_queryset(self) -> Any:
        return selectors.public_templates()
