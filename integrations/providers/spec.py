"""Deployment providers' contract: the build description sites hand to a provider.

A provider gets a :class:`BuildSpec` (the site and every pinned page version, as
plain data, plus the site's own page renderer) and two callbacks (``log``,
``progress``) and returns the deployment's URL, or raises :class:`BuildFailed`.
Providers know no site model: sites (the higher layer: deployments live there and
use providers) builds the spec. The built-in ``local`` provider lives in
``sites.providers``; the Netlify-/Vercel-style adapters in this package. Both
register with :func:`register` in their app's ``ready()``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


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
    # The live site's renderer (``sites.public.render_page_html``, keyword arguments
    # site_name, site_settings, title, content, seo, nav, base -> HTML), passed by
    # sites so that providers render every page exactly as the site serves it.
    render_page_html: Callable[..., str] | None = field(default=None, repr=False, compare=False)


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


# name -> provider: sites registers ``local`` (SitesConfig.ready), integrations the
# Netlify/Vercel adapters (IntegrationsConfig.ready).
PROVIDERS: dict[str, Provider] = {}


def register(provider: Provider) -> None:
    PROVIDERS[provider.name] = provider


def get_provider(name: str) -> Provider:
    try:
        return PROVIDERS[name]
    except KeyError:
        raise BuildFailed(f"Unknown deployment provider {name!r}.") from None
