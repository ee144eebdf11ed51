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

Every live-site response (page, 404, 410, 405, and whatever a dedicated
sites host answers) carries :func:`live_site_headers`: a strict
Content-Security-Policy (no script at all, styles only by the hash of the
page's own ``<style>`` element, no framing, no ``<base>``, no forms),
``X-Content-Type-Options: nosniff`` and a ``Referrer-Policy``. Tenants write
these pages, so they must never run script on any origin of ours. When
``SITES_PUBLIC_BASE_URL`` names a host of its own (not ``FRONTEND_URL``'s),
:class:`LiveSitesHostMiddleware` serves only ``/p/…`` there (``/admin/``,
``/api/`` and the account pages are 404) and sends ``/p/…`` asked on any
other host there.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_safe

VISITOR_TTL_SECONDS = 24 * 3600
RENDERED_PAGES_KEPT = 512  # per process; a page is a few KB
# An accent colour is put inside the page's <style>: only a hex colour gets there
# (HTML escaping does not stop `red;background:url(…)` in CSS).
_ACCENT = re.compile(r"#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?")
_STYLE_ELEMENT = re.compile(r"<style>(.*?)</style>", re.DOTALL)
# SECURITY: the live site is tenant-written HTML. No script may run there in any
# case (`default-src 'none'` and no script-src); styles only by the hash of the
# page's own <style> elements; images from anywhere on http(s) (image blocks link
# them); no framing (clickjacking), no <base> (relative links), no forms.
_CSP = (
    "default-src 'none'; img-src 'self' http: https:; style-src {styles}; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def live_site_csp(html: str) -> str:
    """The Content-Security-Policy of one live-site HTML document."""
    hashes = [
        f"'sha256-{base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()}'"
        for css in _STYLE_ELEMENT.findall(html)
    ]
    return _CSP.format(styles=" ".join(hashes) or "'none'")


def live_site_headers(response: HttpResponse, csp: str | None = None) -> HttpResponse:
    """Give a live-site response its security headers (see the module docstring)."""
    if csp is None:
        body = (
            response.content.decode()
            if response.get("Content-Type", "").startswith("text/html")
            else ""
        )
        csp = live_site_csp(body)
    response["Content-Security-Policy"] = csp
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "strict-origin-when-cross-origin"
    response["X-Frame-Options"] = "DENY"
    return response


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
            "accent": _accent((site_settings or {}).get("accent_color")),
            "lang": (site_settings or {}).get("language"),
        },
    )


def _accent(value: Any) -> str | None:
    return value if isinstance(value, str) and _ACCENT.fullmatch(value) else None


@functools.lru_cache(maxsize=RENDERED_PAGES_KEPT)
def _rendered(
    site_name: str, site_settings: str, title: str, content: str, seo: str, nav: str, base: str
) -> tuple[str, str]:
    """The live page's HTML from the function's answer, its jsonb columns as text,
    and the Content-Security-Policy that fits it."""
    html = render_page_html(
        site_name=site_name,
        site_settings=json.loads(site_settings),
        title=title,
        content=json.loads(content),
        seo=json.loads(seo),
        nav=json.loads(nav) or [],
        base=base,
    )
    return html, live_site_csp(html)


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
        return not_found(base=None)
    site_status, site_name, site_settings, page_id, title, content, seo, nav = row
    # Django's psycopg setup hands jsonb over as text (JSONField decodes it itself).
    site_settings, content, seo, nav = (
        v if isinstance(v, str) else json.dumps(v) for v in (site_settings, content, seo, nav)
    )
    if site_status != "active":
        return live_site_headers(HttpResponse(render_to_string("sites/gone.html"), status=410))
    if page_id is None:
        return not_found(site_name=site_name, base=base)
    html, csp = _rendered(site_name, site_settings, title, content, seo, nav, base)
    response = live_site_headers(HttpResponse(html), csp)
    response["Cache-Control"] = "public, max-age=0, must-revalidate"
    return response


def not_found(*, base: str | None, site_name: str = "") -> HttpResponse:
    """The live site's 404 page, with the live site's headers."""
    html = render_to_string("sites/not_found.html", {"site_name": site_name, "base": base})
    return live_site_headers(HttpResponse(html, status=404))


@require_safe
def _public_page(request: HttpRequest, org_slug: str, site_slug: str, page_path: str = ""):
    return serve(
        request,
        org_slug=org_slug,
        site_slug=site_slug,
        page_path=page_path,
        base=f"/p/{org_slug}/{site_slug}",
    )


def public_page(request: HttpRequest, org_slug: str, site_slug: str, page_path: str = ""):
    """A page of the live deployment of ``site_slug``; 404 page, or 410 once archived
    (405 to anything but GET/HEAD: all of them with the live site's headers)."""
    response = _public_page(request, org_slug, site_slug, page_path)
    if "Content-Security-Policy" not in response:
        live_site_headers(response)
    return response


@functools.lru_cache(maxsize=8)
def _dedicated_sites_host(sites_base_url: str, frontend_url: str) -> str | None:
    """The live sites' own host, when ``SITES_PUBLIC_BASE_URL`` names one that is not
    the platform's (``FRONTEND_URL``'s); else None (the sites share the platform's host)."""
    host = (urlsplit(sites_base_url).hostname or "").lower()
    platform = (urlsplit(frontend_url).hostname or "").lower()
    return host if host and host != platform else None


class LiveSitesHostMiddleware:
    """Keep the live sites and the platform on separate origins when configured.

    With ``SITES_PUBLIC_BASE_URL=https://sites.example.com`` (a host in
    ``ALLOWED_HOSTS``) and ``FRONTEND_URL=https://app.example.com``:

    * on ``sites.example.com`` only ``/p/{org}/{site}/…`` is served; anything else
      (``/admin/``, ``/api/``, the account pages) is the live site's 404 page;
    * on any other host, ``/p/…`` is a permanent redirect to ``sites.example.com``,
      so tenant pages never render on the admin's origin.

    With both on one host (the default), it does nothing.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        sites_host = _dedicated_sites_host(settings.SITES_PUBLIC_BASE_URL, settings.FRONTEND_URL)
        if sites_host is None:
            return self.get_response(request)
        try:
            host = request.get_host().rsplit(":", 1)[0].lower()
        except DisallowedHost:
            return self.get_response(request)
        is_site_path = request.path.startswith("/p/")
        if host == sites_host:
            if not is_site_path:
                # SECURITY: the platform (admin, API, account pages) is not served on
                # the origin that runs tenant-written pages.
                return not_found(base=None)
            return self.get_response(request)
        if is_site_path:
            base = settings.SITES_PUBLIC_BASE_URL.rstrip("/")
            return live_site_headers(HttpResponsePermanentRedirect(base + request.get_full_path()))
        return self.get_response(request)


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
