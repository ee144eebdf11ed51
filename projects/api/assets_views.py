"""Assets of a project: upload (multipart), list, metadata, download, delete."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponseBase
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.filters import FilterSet
from config.api.serializers import validated
from config.errors import NotFound
from organizations.api.base import ListAPIMixin
from projects.api.activity_serializers import AssetSerializer, AssetUploadSerializer
from projects.api.base import ProjectScopedAPIView
from projects.models import Asset
from projects.services import assets
from projects.storage import staging

logger = logging.getLogger(__name__)


class AssetFilter(FilterSet):
    kind = filters.ChoiceFilter(choices=Asset.Kind.choices)

    class Meta:
        model = Asset
        fields = ["kind"]


class _AssetViewMixin:
    def assets(self) -> QuerySet[Asset]:
        project = self.project  # type: ignore[attr-defined]
        return (
            Asset.objects.filter(organization_id=project.organization_id, project_id=project.pk)
            .select_related("created_by")
            .defer("text", "search")
        )

    def get_asset(self, asset_id: uuid.UUID) -> Asset:
        return self.get_org_object(self.assets(), id=asset_id)  # type: ignore[attr-defined]


class AssetListView(_AssetViewMixin, ListAPIMixin, ProjectScopedAPIView):
    """The project's assets, newest first (``?kind=``); upload one.

    Upload: ``multipart/form-data`` with ``file``, ``kind`` (``upload`` or
    ``knowledge``) and optional ``title``. Over ``ASSET_MAX_BYTES``: 413
    ``payload_too_large``. A type outside ``ASSET_ALLOWED_TYPES``, or content
    that does not match its declared type: 415 ``unsupported_media_type``.
    Knowledge documents must be text (plain, Markdown, CSV, JSON) and become
    searchable.

    This view runs its own transaction inside a file-staging scope (instead of
    the request-wide ``ATOMIC_REQUESTS`` one, which would end after the scope):
    a file written for a row that is then rolled back is deleted before the
    response leaves.
    """

    scope_map = {"GET": "project.view", "POST": "project.assets.write"}
    queryset = Asset.objects.none()
    serializer_class = AssetSerializer
    filterset_class = AssetFilter
    parser_classes = [MultiPartParser]
    ordering_fields = ("created_at", "filename")
    search_fields = ("filename", "title")

    @transaction.non_atomic_requests
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        with staging(), transaction.atomic():
            return super().dispatch(request, *args, **kwargs)

    def scoped_queryset(self) -> QuerySet[Asset]:
        return self.assets()

    @extend_schema(
        request={"multipart/form-data": AssetUploadSerializer}, responses={201: AssetSerializer}
    )
    def post(self, request: Request, org_slug: str, project_slug: str) -> Response:
        request.upload_handlers.insert(0, assets.AssetSizeLimitUploadHandler(request))
        data = validated(AssetUploadSerializer, request)
        asset = assets.asset_upload(
            actor=request.user,
            project=self.project,
            upload=data["file"],
            kind=data["kind"],
            title=data["title"],
        )
        return Response(
            AssetSerializer(self.get_asset(asset.id), context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )


class AssetDetailView(_AssetViewMixin, ProjectScopedAPIView):
    """An asset's metadata; delete it (the file goes once the deletion has committed)."""

    scope_map = {"GET": "project.view", "DELETE": "project.assets.write"}
    serializer_class = AssetSerializer

    def get(
        self, request: Request, org_slug: str, project_slug: str, asset_id: uuid.UUID
    ) -> Response:
        return Response(
            AssetSerializer(self.get_asset(asset_id), context=self.get_serializer_context()).data
        )

    def delete(
        self, request: Request, org_slug: str, project_slug: str, asset_id: uuid.UUID
    ) -> Response:
        assets.asset_delete(actor=request.user, asset=self.get_asset(asset_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AssetDownloadView(_AssetViewMixin, ProjectScopedAPIView):
    """The asset's file, streamed, with its content type, as an attachment."""

    scope_map = {"GET": "project.view"}

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # The file is whatever it is; errors are still JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(responses={(200, "*/*"): OpenApiResponse(OpenApiTypes.BINARY)})
    def get(
        self, request: Request, org_slug: str, project_slug: str, asset_id: uuid.UUID
    ) -> FileResponse:
        asset = self.get_asset(asset_id)
        try:
            handle = default_storage.open(asset.file.name, "rb")
        except FileNotFoundError:
            logger.error("asset %s has no file %s in storage", asset.id, asset.file.name)
            raise NotFound("The file of this asset is missing.") from None
        response = FileResponse(
            handle, as_attachment=True, filename=asset.filename, content_type=asset.content_type
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response
