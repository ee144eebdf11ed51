"""Every API route, found in the URL configuration (not listed by hand).

Used by ``docs/permissions.md`` and by the cross-tenant route-matrix test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver


@dataclass(frozen=True)
class Route:
    pattern: str
    name: str
    view_class: type
    kwargs: tuple[str, ...]

    def __str__(self) -> str:
        return self.pattern


def _walk(patterns: list[Any], prefix: str = "", converters: dict[str, Any] | None = None):
    for entry in patterns:
        conv = {**(converters or {}), **entry.pattern.converters}
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route, conv)
        elif isinstance(entry, URLPattern):
            yield route, entry, conv


def api_routes() -> list[Route]:
    routes = []
    for pattern, entry, converters in _walk(get_resolver().url_patterns):
        if not pattern.startswith("api/v1/"):
            continue
        view_class = getattr(entry.callback, "view_class", None) or getattr(
            entry.callback, "cls", None
        )
        routes.append(Route(pattern, entry.name or "", view_class, tuple(converters)))
    return routes


def org_routes() -> list[Route]:
    return [r for r in api_routes() if "org_slug" in r.kwargs]


def methods_of(view_class: type) -> list[str]:
    return [
        m.upper()
        for m in view_class.http_method_names
        if m not in ("options", "head", "trace") and hasattr(view_class, m)
    ]
