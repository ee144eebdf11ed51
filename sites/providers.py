"""The built-in ``local`` deployment provider: serves the site from this server.

The provider contract (:class:`BuildSpec`, :class:`BuildFailed`, the registry) is
``integrations.providers.spec``: sites, the higher layer, hands providers a plain
build description. ``local`` serves ``/p/{org}/{site}/``: building renders every
pinned page once with the live site's templates, so a deployment that would not
render fails here instead of in front of visitors. ``SitesConfig.ready`` registers it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings

from integrations.providers.spec import (
    BuildFailed,
    BuildResult,
    BuildSpec,
    PinnedPage,
    Provider,
    get_provider,
    register,
)

__all__ = [
    "BuildFailed",
    "BuildResult",
    "BuildSpec",
    "LocalProvider",
    "PinnedPage",
    "Provider",
    "get_provider",
    "register",
]


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
