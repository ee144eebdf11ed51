"""Sites and pages in the organization's full-text search (``/orgs/{slug}/search/``).

Same two steps as the projects' search (``projects/services/search.py``): the
index-driven ``app.search_sites_after()``/``app.search_pages_after()`` (``0002_rls``) find
ids and ranks in the current organization, then the rows are loaded as the
caller under RLS. Two queries per kind, whatever the organization's size.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.postgres.search import SearchQuery
from django.db.models import TextField, Value
from django.db.models.functions import Concat

from sites.models import Page, Site


def site_hits(
    *, organization_id: uuid.UUID, q: str, types: tuple[str, ...], limit: int, after: Any = None
) -> list:
    """The best ``limit`` sites and pages for ``q`` after the cursor position ``after``."""
    from projects.services.search import Hit, _headline, _ranked, _safe

    query = SearchQuery(q, search_type="websearch", config="english")
    hits: list[Any] = []
    if "site" in types:
        sites = _ranked(
            Site.objects.filter(organization_id=organization_id)
            .only("id", "name", "slug")
            .annotate(
                headline=_headline(
                    Concat("name", Value(". "), "description", output_field=TextField()), query
                )
            ),
            "sites",
            q,
            limit,
            after,
        )
        hits += [
            Hit(
                type="site",
                id=s.id,
                rank=s.rank,
                title=s.name,
                headline=_safe(s.headline),
                site={"id": s.id, "slug": s.slug, "name": s.name},
            )
            for s in sites
        ]
    if "page" in types:
        pages = _ranked(
            Page.objects.filter(organization_id=organization_id)
            .select_related("site")
            .only("id", "title", "path", "site__id", "site__slug", "site__name")
            .annotate(
                headline=_headline(
                    Concat("title", Value(" "), "path", output_field=TextField()), query
                )
            ),
            "pages",
            q,
            limit,
            after,
        )
        hits += [
            Hit(
                type="page",
                id=p.id,
                rank=p.rank,
                title=p.title,
                headline=_safe(p.headline),
                path=p.path,
                site={"id": p.site.id, "slug": p.site.slug, "name": p.site.name},
            )
            for p in pages
        ]
    return hits
