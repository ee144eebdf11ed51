"""Full-text search across the organization's projects, files and knowledge documents."""

from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from organizations.api.base import OrgScopedAPIView
from projects.api.activity_serializers import SearchQuerySerializer, SearchResultSerializer
from projects.services import search


class SearchView(OrgScopedAPIView):
    """Search what you can see: ``?q=`` (web-search syntax: words, ``"phrases"``,
    ``or``, ``-not``), ``types=project,file,knowledge`` (default all),
    ``limit`` (1-50, default 20). Ranked best first; not paginated."""

    scope_map = {"GET": "project.list"}
    serializer_class = SearchResultSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, required=True),
            OpenApiParameter("types", OpenApiTypes.STR, description="e.g. project,file"),
            OpenApiParameter("limit", OpenApiTypes.INT),
        ],
        responses=SearchResultSerializer,
    )
    def get(self, request: Request, org_slug: str) -> Response:
        serializer = SearchQuerySerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        params = serializer.validated_data
        hits = search.search(
            organization_id=self.organization_id,
            q=params["q"],
            types=params["types"],
            limit=params["limit"],
        )
        return Response(
            SearchResultSerializer(
                {"query": params["q"], "results": [asdict(hit) for hit in hits]}
            ).data
        )
