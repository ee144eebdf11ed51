"""Full-text search across the organization's projects, files and knowledge documents."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import asdict
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from config.api.filters import refuse_unknown_query_params
from config.api.pagination import CursorPagination
from organizations.api.base import OrgScopedAPIView
from projects.api.activity_serializers import SearchPageSerializer, SearchQuerySerializer
from projects.services import search
from projects.services.search import DEFAULT_LIMIT, TYPES, After


class SearchPagination(CursorPagination):
    """Forward-only keyset pages over ``(rank DESC, type, id)``: the cursor is the last
    hit's position, opaque to the client (a forged one is a 404, as in every list)."""

    page_size = DEFAULT_LIMIT

    def encode(self, hit: search.Hit) -> str:
        raw = json.dumps([hit.rank, hit.type, str(hit.id)], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def decode(self, request: Request) -> After | None:
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            rank, kind, hit_id = json.loads(raw)
            if kind not in TYPES or not isinstance(rank, int | float):
                raise ValueError(kind)
            return After(rank=float(rank), type=kind, id=uuid.UUID(hit_id))
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
            raise exceptions.NotFound(self.invalid_cursor_message) from None


class SearchView(OrgScopedAPIView):
    """Search what you can see: ``?q=`` (web-search syntax: words, ``"phrases"``,
    ``or``, ``-not``), ``types=project,file,knowledge`` (default all). Ranked best
    first, cursor-paginated like every list (``cursor``, ``page_size`` 1-100, default
    20); ``previous`` is always null."""

    scope_map = {"GET": "project.list"}
    serializer_class = SearchPageSerializer
    pagination_class = SearchPagination
    extra_query_params = frozenset({"q", "types"})

    @extend_schema(
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, required=True),
            OpenApiParameter("types", OpenApiTypes.STR, description="e.g. project,file"),
            OpenApiParameter("cursor", OpenApiTypes.STR, description="The `next` link's cursor."),
            OpenApiParameter("page_size", OpenApiTypes.INT, description="1-100, default 20."),
        ],
        responses=SearchPageSerializer,
    )
    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        refuse_unknown_query_params(self, request)

    def get(self, request: Request, org_slug: str) -> Response:
        paginator: SearchPagination = self.paginator
        params = _query(request, paginator)
        page_size = paginator.get_page_size(request)
        hits = search.search(
            organization_id=self.organization_id,
            q=params["q"],
            types=params["types"],
            limit=page_size + 1,
            after=paginator.decode(request),
        )
        page, more = hits[:page_size], len(hits) > page_size
        next_url = (
            replace_query_param(
                request.build_absolute_uri(),
                paginator.cursor_query_param,
                paginator.encode(page[-1]),
            )
            if more
            else None
        )
        return Response(
            SearchPageSerializer(
                {"next": next_url, "previous": None, "results": [asdict(hit) for hit in page]}
            ).data
        )


def _query(request: Request, paginator: SearchPagination) -> dict[str, Any]:
    """``q`` and ``types``, validated (the base view has refused unknown parameters)."""
    pagination = {paginator.cursor_query_param, paginator.page_size_query_param}
    data = {k: v for k, v in request.query_params.dict().items() if k not in pagination}
    serializer = SearchQuerySerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
