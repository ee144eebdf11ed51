"""A measured proposal, not product code: W1/W2 with the changes docs/performance.md
recommends.

``bench/run.py --proposal`` serves this next to the platform (settings module
``bench.proposal_settings``: production settings, only ``ROOT_URLCONF``
differs) so the effect of the change recommended in ``docs/performance.md``
is measured in the same run, against the same baselines. The view keeps
everything that matters for isolation and the API contract: the same base
class (authentication, throttles, ``app.enter_org``, the permission matrix),
the same selector (RLS + org filter), filters, cursor pagination and JSON
shape. Only reading and rendering change:

* authentication reads the session and the user's few needed columns with one
  hand-written statement (same conditions as ``SessionTokenAuthentication``)
  instead of compiling an ORM query and building two full model instances;
* the list reads ``.values()`` of exactly the serialized columns (no model
  instances, no ``accounts_user.password`` & co. fetched for ``created_by``),
  one plain function builds each item (no per-field serializer machinery),
  and orjson renders the page;
* the FilterSet (a Django form per request) runs only when a filter is asked for.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.urls import include, path
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from config.urls import handler400, handler403, handler404, handler500  # noqa: F401
from organizations.permissions import project_role
from projects.api.workspace_views import ProjectListView

FILTER_PARAMS = frozenset({"tag", "visibility", "archived", "favorite"})

COLUMNS = (
    "id", "name", "slug", "description", "tags", "visibility", "settings", "archived_at",
    "created_at", "updated_at", "my_override", "is_favorite",
    "created_by__id", "created_by__email", "created_by__name",
)  # fmt: skip


class ORJSONRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        if data is None:
            return b""
        return orjson.dumps(data, option=orjson.OPT_UTC_Z)


def project_item(row: dict[str, Any], org_role: str) -> dict[str, Any]:
    """The ``ProjectSerializer`` shape from one ``.values()`` row."""
    creator = row["created_by__id"]
    return {
        "id": row["id"],
        "name": row["name"],
        "slug": row["slug"],
        "description": row["description"],
        "tags": row["tags"],
        "visibility": row["visibility"],
        "settings": row["settings"],
        "archived": row["archived_at"] is not None,
        "archived_at": row["archived_at"],
        "favorite": bool(row["is_favorite"]),
        "my_role": project_role(
            org_role, row["my_override"], private=row["visibility"] == "private"
        ),
        "created_by": (
            {"id": creator, "email": row["created_by__email"], "name": row["created_by__name"]}
            if creator
            else None
        ),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


class FastProjectListView(ProjectListView):
    renderer_classes = [ORJSONRenderer]

    def filter_queryset(self, queryset: Any) -> Any:
        if FILTER_PARAMS.isdisjoint(self.request.query_params):
            return queryset.filter(archived_at__isnull=True)  # ProjectFilter's default
        return super().filter_queryset(queryset)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset()).values(*COLUMNS)
        page = self.paginate_queryset(queryset)
        assert page is not None
        role = self.org.role
        return self.get_paginated_response([project_item(row, role) for row in page])


urlpatterns = [
    path(
        "api/v1/orgs/<slug:org_slug>/projects/",
        FastProjectListView.as_view(),
        name="proposal-project-list",
    ),
    path("", include("config.urls")),
]
