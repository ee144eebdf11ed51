"""The live site, served by this server (the ``local`` deployment provider).

``GET /p/{org_slug}/{site_slug}/{page path}`` and, on a verified custom domain,
``GET /{page path}``. There is no signed-in user: the page is read through
``app.serve_public_page`` (``migrations/0002_rls.py``), a SECURITY DEFINER
function that answers only the **pinned version** of that path in the site's
**live deployment** — not the latest publish, not drafts, nothing else of the
tenant — and counts the view in the same round trip. One query per page view.

The page's HTML is a pure function of what that call answers (the pinned version's
content, the site's name, settings and navigation), so the rendered page is kept
per process, keyed by that answer as text (:func:`_rendered`): a page view renders
its template once per distinct answer, and any change (a new deployment, a renamed
site) is a different key.

No IP address is stored: a visitor is ``sha256(secret, day, ip, user agent,
path)``, kept only as a cache key for the rest of the day, to tell a new
visitor from a returning one.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_safe

VISITOR_TTL_SECONDS = 24 * 3600
RENDERED_PAGES_KEPT = 512  # per process; a page is a few KB


def render_page_html(
    *,
    site_name: str,
    site_settings: dict[str, Any],
    title: str,
    content: list[Any],
    seo: dict[str, Any],
    nav: list[dict[str, str]],
    base: str,
) -> str:
    return render_to_string(
        "sites/page.html",
        {
            "site_name": site_name,
            "title": title,
            "content": content,
            "seo": seo or {},
            "nav": nav,
            "base": base,
            "accent": (site_settings or {}).get("accent_color"),
            "lang": (site_settings or {}).get("language"),
        },
    )


@functools.lru_cache(maxsize=RENDERED_PAGES_KEPT)
def _rendered(
    site_name: str, site_settings: str, title: str, content: str, seo: str, nav: str, base: str
) -> str:
    """The live page's HTML from the function's answer, its jsonb columns as text."""
    return render_page_html(
        site_name=site_name,
        site_settings=json.loads(site_settings),
        title=title,
        content=json.loads(content),
        seo=json.loads(seo),
        nav=json.loads(nav) or [],
        base=base,
    )


def _new_visitor(request: HttpRequest, key: str) -> bool:
    day = timezone.now().date().isoformat()
    raw = "|".join(
        (
            settings.SECRET_KEY,
            day,
            request.META.get("REMOTE_ADDR", ""),
            request.META.get("HTTP_USER_AGENT", "")[:300],
            key,
        )
    )
    digest = hashlib.sha256(raw.encode()).hexdigest()
    return cache.add(f"sites:visitor:{digest}", 1, VISITOR_TTL_SECONDS)


def serve(request: HttpRequest, *, org_slug: str, site_slug: str, page_path: str, base: str):
    path = "/" + "/".join(s for s in page_path.split("/") if s)
    new_visitor = _new_visitor(request, f"{org_slug}/{site_slug}{path}")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT site_status, site_name, site_settings, page_id, title, content, seo, nav"
            " FROM app.serve_public_page(%s, %s, %s, %s)",
            [org_slug, site_slug, path, new_visitor],
        )
        row = cursor.fetchone()
    if row is None:
        return HttpResponse(render_to_string("sites/not_found.html", {"base": None}), status=404)
    site_status, site_name, site_settings, page_id, title, content, seo, nav = row
    # Django's psycopg setup hands jsonb over as text (JSONField decodes it itself).
    site_settings, content, seo, nav = (
        v if isinstance(v, str) else json.dumps(v) for v in (site_settings, content, seo, nav)
    )
    if site_status != "active":
        return HttpResponse(render_to_string("sites/gone.html"), status=410)
    if page_id is None:
        return HttpResponse(
            render_to_string("sites/not_found.html", {"site_name": site_name, "base": base}),
            status=404,
        )
    response = HttpResponse(_rendered(site_name, site_settings, title, content, seo, nav, base))
    response["Cache-Control"] = "public, max-age=0, must-revalidate"
    return response


@require_safe
def public_page(request: HttpRequest, org_slug: str, site_slug: str, page_path: str = ""):
    """A page of the live deployment of ``site_slug``; 404 page, or 410 once archived."""
    return serve(
        request,
        org_slug=org_slug,
        site_slug=site_slug,
        page_path=page_path,
        base=f"/p/{org_slug}/{site_slug}",
    )


class CustomDomainMiddleware:
    """Serve a site on its verified custom domain.

    A ``Host`` that ``ALLOWED_HOSTS`` admits is this platform: the request goes on.
    Any other ``Host`` is looked up among verified domains
    (``app.public_site_for_host``); a match is served as that site's page for the
    request path, anything else goes on to Django's own ``DisallowedHost`` (400).
    So ``ALLOWED_HOSTS`` stays a closed list, and adding a domain needs no deploy.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            request.get_host()
        except DisallowedHost:
            site = self._site_for(request)
            if site is not None and request.method in ("GET", "HEAD"):
                org_slug, site_slug = site
                return serve(
                    request,
                    org_slug=org_slug,
                    site_slug=site_slug,
                    page_path=request.path,
                    base="",
                )
        return self.get_response(request)

    @staticmethod
    def _site_for(request: HttpRequest) -> tuple[str, str] | None:
        host = request.META.get("HTTP_HOST", "").rsplit(":", 1)[0].strip().lower().rstrip(".")
        if not host or len(host) > 253:
            return None
        with connection.cursor() as cursor:
            cursor.execute("SELECT org_slug, site_slug FROM app.public_site_for_host(%s)", [host])
            return cursor.fetchone()
