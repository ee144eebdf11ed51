"""Full-text search over an organization's projects, files, knowledge documents,
sites and site pages: one table of kinds (:data:`KINDS`: type, search function,
queryset with its headline, hit builder).

PostgreSQL full text search: ``websearch_to_tsquery('english', q)`` against
the ``search`` tsvector columns (``Project.search`` and ``Asset.search`` are
generated columns, ``ProjectFile.search`` is kept up to date by the file
services), ranked with ``ts_rank`` and summarised with ``ts_headline``.

Visibility is the database's business: the rows are loaded as the caller
under RLS, so private projects the caller is not on — and their files and
documents — simply are not there (the index-driven id search in
``app.search_*_after()`` applies the same restrictions). Only live files and ``knowledge``
assets are searched. Results come a page at a time, in the order ``rank DESC,
type, id``: the best ``limit`` of each kind after the previous page's last hit
(``after``) are fetched, merged by rank and cut to ``limit``: a fixed number of
queries (two per kind) whatever the size of the organization or the page.

Headlines are HTML-safe: the text is escaped and matches are wrapped in
``<mark>...</mark>``.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.search import SearchHeadline, SearchQuery
from django.db import connection
from django.db.models import QuerySet, TextField, Value
from django.db.models.functions import Concat

from projects.models import Asset, Project, ProjectFile
from sites.models import Page, Site

MAX_QUERY_LENGTH = 200
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_FIRST_ID, _LAST_ID = uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)
_START, _STOP = "\ue000", "\ue001"


@dataclass(frozen=True)
class After:
    """The position of the last hit of a page: the next page starts after it."""

    rank: float
    type: str
    id: uuid.UUID

    def id_for(self, kind: str) -> uuid.UUID:
        """Where ``kind``'s keyset ``(rank DESC, id)`` resumes: hits of a kind sorting
        before the last hit's type must rank strictly lower; hits of a kind after it
        may tie on rank."""
        if kind == self.type:
            return self.id
        return _LAST_ID if kind < self.type else _FIRST_ID


@dataclass(frozen=True)
class Hit:
    type: str
    id: uuid.UUID
    rank: float
    title: str
    headline: str
    project: dict[str, Any] | None = None
    path: str | None = None
    site: dict[str, Any] | None = None


def _headline(expression: Any, query: SearchQuery) -> SearchHeadline:
    return SearchHeadline(
        expression,
        query,
        config="english",
        start_sel=_START,
        stop_sel=_STOP,
        max_words=24,
        min_words=8,
        max_fragments=2,
        fragment_delimiter=" … ",
    )


def _safe(headline: str | None) -> str:
    return (
        html.escape(headline or "", quote=False).replace(_START, "<mark>").replace(_STOP, "</mark>")
    )


def _ranked(
    queryset: QuerySet[Any], kind: str, q: str, limit: int, after: After | None
) -> list[Any]:
    """The best ``limit`` rows of ``queryset`` for ``q``, each with ``rank``.

    Two steps, because under RLS PostgreSQL will not drive a non-LEAKPROOF
    ``@@`` through the GIN index: ``app.search_<kind>()`` finds the ids with the
    index (restricted to the current org and visible projects, see
    ``migrations/0007_search_pages.py``), then the rows are loaded as the
    caller, so RLS checks each one again.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, rank FROM app.search_{kind}_after("
            "websearch_to_tsquery('english', %s), %s, %s::real, %s)",
            [
                q,
                limit,
                after.rank if after else None,
                after.id_for(TYPE_OF_SEARCH[kind]) if after else None,
            ],
        )
        ranks = dict(cursor.fetchall())
    rows = list(queryset.filter(id__in=list(ranks)))
    for row in rows:
        row.rank = ranks[row.id]
    return sorted(rows, key=lambda row: (-row.rank, str(row.id)))


def _project_of(row: Any) -> dict[str, Any]:
    project = row.project
    return {"id": project.id, "slug": project.slug, "name": project.name}


def _site_of(site: Any) -> dict[str, Any]:
    return {"id": site.id, "slug": site.slug, "name": site.name}


def _name_and_description(query: SearchQuery) -> SearchHeadline:
    return _headline(Concat("name", Value(". "), "description", output_field=TextField()), query)


@dataclass(frozen=True)
class Kind:
    """One searchable kind: its hit ``type``, the ``app.search_<search>_after()``
    function that finds ids and ranks, the rows to load as the caller (with their
    ``headline``), and how a row becomes a :class:`Hit`."""

    type: str
    search: str
    queryset: Callable[[uuid.UUID, SearchQuery], QuerySet[Any]]
    hit: Callable[[Any], Hit]


# The five kinds of the organization's search, in one table. Sites and pages are read
# from the sites app's models (projects sits above sites; sites know nothing of search).
KINDS: tuple[Kind, ...] = (
    Kind(
        type="project",
        search="projects",
        queryset=lambda org_id, query: (
            Project.objects.filter(organization_id=org_id)
            .only("id", "name", "slug")
            .annotate(headline=_name_and_description(query))
        ),
        hit=lambda p: Hit(
            type="project",
            id=p.id,
            rank=p.rank,
            title=p.name,
            headline=_safe(p.headline),
            project={"id": p.id, "slug": p.slug, "name": p.name},
        ),
    ),
    Kind(
        type="file",
        search="files",
        queryset=lambda org_id, query: (
            ProjectFile.objects.filter(organization_id=org_id, deleted_at__isnull=True)
            .select_related("project")
            .only("id", "path", "project__id", "project__slug", "project__name")
            .annotate(headline=_headline("current_revision__content", query))
        ),
        hit=lambda f: Hit(
            type="file",
            id=f.id,
            rank=f.rank,
            title=f.path,
            headline=_safe(f.headline),
            project=_project_of(f),
            path=f.path,
        ),
    ),
    Kind(
        type="knowledge",
        search="knowledge",
        queryset=lambda org_id, query: (
            Asset.objects.filter(organization_id=org_id, kind=Asset.Kind.KNOWLEDGE)
            .select_related("project")
            .only("id", "title", "filename", "project__id", "project__slug", "project__name")
            .annotate(headline=_headline("text", query))
        ),
        hit=lambda a: Hit(
            type="knowledge",
            id=a.id,
            rank=a.rank,
            title=a.title or a.filename,
            headline=_safe(a.headline),
            project=_project_of(a),
        ),
    ),
    Kind(
        type="site",
        search="sites",
        queryset=lambda org_id, query: (
            Site.objects.filter(organization_id=org_id)
            .only("id", "name", "slug")
            .annotate(headline=_name_and_description(query))
        ),
        hit=lambda s: Hit(
            type="site",
            id=s.id,
            rank=s.rank,
            title=s.name,
            headline=_safe(s.headline),
            site=_site_of(s),
        ),
    ),
    Kind(
        type="page",
        search="pages",
        queryset=lambda org_id, query: (
            Page.objects.filter(organization_id=org_id)
            .select_related("site")
            .only("id", "title", "path", "site__id", "site__slug", "site__name")
            .annotate(
                headline=_headline(
                    Concat("title", Value(" "), "path", output_field=TextField()), query
                )
            )
        ),
        hit=lambda p: Hit(
            type="page",
            id=p.id,
            rank=p.rank,
            title=p.title,
            headline=_safe(p.headline),
            path=p.path,
            site=_site_of(p.site),
        ),
    ),
)
TYPES = tuple(kind.type for kind in KINDS)
TYPE_OF_SEARCH = {kind.search: kind.type for kind in KINDS}


def search(
    *,
    organization_id: uuid.UUID,
    q: str,
    types: tuple[str, ...] = TYPES,
    limit: int = DEFAULT_LIMIT,
    after: After | None = None,
) -> list[Hit]:
    """The best ``limit`` matches for ``q`` among ``types`` (after ``after``), best first."""
    query = SearchQuery(q, search_type="websearch", config="english")
    hits: list[Hit] = []
    for kind in KINDS:
        if kind.type in types:
            rows = _ranked(kind.queryset(organization_id, query), kind.search, q, limit, after)
            hits += [kind.hit(row) for row in rows]
    hits.sort(key=lambda hit: (-hit.rank, hit.type, str(hit.id)))
    return hits[:limit]
