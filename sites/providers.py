"""Deployment providers: where a deployment's pinned pages are built and served.

A provider gets a :class:`BuildSpec` (the site and every pinned page version)
and two callbacks (``log``, ``progress``) and returns the deployment's URL, or
raises :class:`BuildFailed`. The built-in ``local`` provider serves the site
from this server (``/p/{org}/{site}/``): building renders every pinned page
once with the live site's templates, so a deployment that would not render
fails here instead of in front of visitors. External providers (Netlify-,
Vercel-style: the integrations app) register themselves with :func:`register`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings


class BuildFailed(Exception):
    """The build failed; the message is shown to the user."""


@dataclass(frozen=True)
class PinnedPage:
    path: str
    title: str
    version_number: int
    content: list[Any]
    seo: dict[str, Any]


@dataclass(frozen=True)
class BuildSpec:
    deployment_id: uuid.UUID
    organization_id: uuid.UUID
    org_slug: str
    site_slug: str
    site_name: str
    site_settings: dict[str, Any]
    environment: str
    pages: list[PinnedPage] = field(default_factory=list)
    # External providers (integrations/providers): the site's deployment integration
    # and who deployed (the integration is read as them).
    integration_id: uuid.UUID | None = None
    created_by_id: uuid.UUID | None = None


@dataclass(frozen=True)
class BuildResult:
    """What an external provider answers instead of a bare URL: its deploy id too."""

    url: str
    external_id: str = ""


class Provider(Protocol):
    name: str

    def build(
        self, spec: BuildSpec, *, log: Callable[[str], None], progress: Callable[[int], None]
    ) -> str | BuildResult:
        """Build and publish ``spec``; answer the deployment's URL (or a result)."""
        ...


class LocalProvider:
    """Serves from this server; the build renders each page once as a check."""

    name = "local"

    def build(
        self, spec: BuildSpec, *, log: Callable[[str], None], progress: Callable[[int], None]
    ) -> str:
        from sites.public import render_page_html  # the live site's own renderer

        total = max(len(spec.pages), 1)
        for n, page in enumerate(spec.pages, start=1):
            html = render_page_html(
                site_name=spec.site_name,
                site_settings=spec.site_settings,
                title=page.title,
                content=page.content,
                seo=page.seo,
                nav=[{"path": p.path, "title": p.title} for p in spec.pages],
                base=f"/p/{spec.org_slug}/{spec.site_slug}",
            )
            log(f"rendered {page.path} (v{page.version_number}, {len(html)} bytes)")
            progress(int(90 * n / total))
        base = settings.SITES_PUBLIC_BASE_URL.rstrip("/")
        suffix = "" if spec.environment == "production" else f"?deployment={spec.deployment_id}"
        return f"{base}/p/{spec.org_slug}/{spec.site_slug}/{suffix}"


PROVIDERS: dict[str, Provider] = {"local": LocalProvider()}


def register(provider: Provider) -> None:
    PROVIDERS[provider.name] = provider


def get_provider(name: str) -> Provider:
    try:
        return PROVIDERS[name]
    except KeyError:
        raise BuildFailed(f"Unknown deployment provider {name!r}.") from None
