"""External deployment providers for sites (issue 12 §5): Netlify- and Vercel-style.

A site whose ``deployment_integration`` is set deploys through that integration
(provider ``netlify`` or ``vercel``) instead of the built-in ``local`` provider.
Both adapters render every pinned page version to an HTML file with the live
site's own renderer (``spec.render_page_html``, which sites passes in), then:

* **Netlify-style** (digest deploy): ``POST {base}/api/v1/sites/{site_id}/deploys``
  with ``{"files": {path: sha1}}``; the answer's ``required`` lists the digests the
  provider does not have yet, and only those files are uploaded
  (``PUT {base}/api/v1/deploys/{id}/files{path}``); then
  ``GET {base}/api/v1/deploys/{id}`` is polled until ``state`` is ``ready`` or
  ``error``.
* **Vercel-style**: ``POST {base}/v13/deployments`` with the files inline, then
  ``GET {base}/v13/deployments/{id}`` is polled until ``readyState`` is ``READY``
  or ``ERROR``/``CANCELED``.

Everything goes through the SSRF-guarded client (:mod:`integrations.outbound`) on
the integration's credentials (``credentials.token``) and ``config.base_url``
(defaults: the real APIs). The integration is read as the user who deployed
(``tenant_context``), so RLS decides, as for their request. **Provider errors are
mapped** to short messages naming the HTTP status or state: never the provider's
body, never the token. The provider's deploy id and URL are stored on the
deployment.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from integrations import crypto, outbound
from integrations.models import Integration, Provider
from integrations.providers.spec import BuildFailed, BuildResult, BuildSpec
from integrations.providers.spec import register as register_provider
from organizations.tenancy import tenant_context

logger = logging.getLogger(__name__)

DEPLOY_PROVIDERS = (Provider.NETLIFY, Provider.VERCEL)
DEFAULT_BASE_URLS = {
    Provider.NETLIFY: "https://api.netlify.com",
    Provider.VERCEL: "https://api.vercel.com",
}


@dataclass(frozen=True)
class Connection:
    label: str
    base_url: str
    token: str = field(repr=False)  # SECURITY: never printed
    config: dict[str, Any] = field(default_factory=dict)

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One JSON call; a refusal or a failure is a clean :class:`BuildFailed`."""
        headers = {"authorization": f"Bearer {self.token}", "accept": "application/json"}
        headers.update(kwargs.pop("headers", {}))
        try:
            response = outbound.request(method, f"{self.base_url}{path}", headers=headers, **kwargs)
        except outbound.OutboundRefused:
            raise BuildFailed(f"The {self.label} API URL is not allowed.") from None
        except outbound.OutboundError:
            raise BuildFailed(f"{self.label} could not be reached.") from None
        status = response.status_code
        if status >= 400:
            logger.warning("%s answered HTTP %s", self.label, status)  # no body: may echo input
            if status in (401, 403):
                raise BuildFailed(f"{self.label} rejected the credentials (HTTP {status}).")
            if status == 404:
                raise BuildFailed(f"{self.label} does not know this site or deploy (HTTP 404).")
            if status == 429:
                raise BuildFailed(f"{self.label} is rate limiting requests (HTTP 429).")
            raise BuildFailed(f"{self.label} refused the request (HTTP {status}).")
        if not response.content:
            return {}
        try:
            body = json.loads(response.content)
        except ValueError:
            raise BuildFailed(f"{self.label} answered something that is not JSON.") from None
        if not isinstance(body, dict):
            raise BuildFailed(f"{self.label} answered an unexpected document.")
        return body


def connection_for(spec: BuildSpec, provider: str) -> Connection:
    """The deployment integration's connection, read as the user who deployed."""
    label = Provider(provider).label
    if spec.integration_id is None or spec.created_by_id is None:
        raise BuildFailed(f"No {label} integration is set for this site.")
    with tenant_context(user_id=spec.created_by_id, org_slug=spec.org_slug) as org:
        row = None
        if org is not None:
            row = Integration.objects.filter(
                organization_id=spec.organization_id, id=spec.integration_id, provider=provider
            ).first()
        if row is None:
            raise BuildFailed(f"The site's {label} integration is gone or not visible to you.")
        if row.status == Integration.Status.DISABLED:
            raise BuildFailed(f"The site's {label} integration is disabled.")
        credentials = crypto.decrypt_json(row.credentials_encrypted)
        config = dict(row.config or {})
    token = credentials.get("token") or credentials.get("api_key") or ""
    if not token:
        raise BuildFailed(f"The {label} integration has no token.")
    base_url = str(config.get("base_url") or DEFAULT_BASE_URLS[provider]).rstrip("/")
    return Connection(label=label, base_url=base_url, token=token, config=config)


def render_files(spec: BuildSpec) -> dict[str, bytes]:
    """Every pinned page as ``{"/path/index.html": html}`` (the live site's renderer)."""
    if spec.render_page_html is None:
        raise BuildFailed("This deployment has no page renderer.")
    render_page_html = spec.render_page_html
    nav = [{"path": p.path, "title": p.title} for p in spec.pages]
    files: dict[str, bytes] = {}
    for page in spec.pages:
        html = render_page_html(
            site_name=spec.site_name,
            site_settings=spec.site_settings,
            title=page.title,
            content=page.content,
            seo=page.seo,
            nav=nav,
            base="",
        )
        stem = page.path.strip("/")
        files[f"/{stem}/index.html" if stem else "/index.html"] = html.encode()
    return files


def _poll(read: Callable[[], tuple[str, str]], *, label: str, log: Callable[[str], None]) -> str:
    """Poll ``read() -> (state, url)`` until ready; answer the url."""
    last = ""
    for _ in range(settings.INTEGRATIONS_PROVIDER_POLL_MAX):
        state, url = read()
        if state != last:
            log(f"{label}: {state}")
            last = state
        if state in ("ready", "READY"):
            return url
        if state in ("error", "ERROR", "CANCELED", "canceled"):
            raise BuildFailed(f"{label} reported the deploy failed (state {state}).")
        time.sleep(settings.INTEGRATIONS_PROVIDER_POLL_INTERVAL_SECONDS)
    raise BuildFailed(f"{label} did not finish the deploy in time.")


class NetlifyProvider:
    name = Provider.NETLIFY.value

    def build(
        self, spec: BuildSpec, *, log: Callable[[str], None], progress: Callable[[int], None]
    ) -> BuildResult:
        conn = connection_for(spec, self.name)
        site_id = str(conn.config.get("site_id") or "")
        if not site_id:
            raise BuildFailed("The Netlify integration needs config.site_id.")
        files = render_files(spec)
        digests = {path: hashlib.sha1(body).hexdigest() for path, body in files.items()}  # noqa: S324 - Netlify's digest
        log(f"rendered {len(files)} files")
        progress(20)
        deploy = conn.call(
            "POST",
            f"/api/v1/sites/{site_id}/deploys",
            json={"files": digests, "draft": spec.environment != "production"},
        )
        deploy_id = str(deploy.get("id") or "")
        if not deploy_id:
            raise BuildFailed("Netlify did not answer a deploy id.")
        required = set(deploy.get("required") or [])
        log(f"Netlify deploy {deploy_id}: {len(required)} of {len(files)} files to upload")
        progress(30)
        uploads = [path for path, sha in digests.items() if sha in required]
        for n, path in enumerate(uploads, start=1):
            conn.call(
                "PUT",
                f"/api/v1/deploys/{deploy_id}/files{path}",
                content=files[path],
                headers={"content-type": "application/octet-stream"},
            )
            log(f"uploaded {path}")
            progress(30 + int(50 * n / len(uploads)))

        def read() -> tuple[str, str]:
            body = conn.call("GET", f"/api/v1/deploys/{deploy_id}")
            url = body.get("ssl_url") or body.get("deploy_ssl_url") or body.get("url") or ""
            return str(body.get("state") or ""), str(url)

        url = _poll(read, label="Netlify", log=log)
        return BuildResult(url=url[:500], external_id=deploy_id[:200])


class VercelProvider:
    name = Provider.VERCEL.value

    def build(
        self, spec: BuildSpec, *, log: Callable[[str], None], progress: Callable[[int], None]
    ) -> BuildResult:
        conn = connection_for(spec, self.name)
        project = str(conn.config.get("project") or spec.site_slug)
        files = render_files(spec)
        log(f"rendered {len(files)} files")
        progress(20)
        body: dict[str, Any] = {
            "name": project,
            "files": [
                {"file": path.lstrip("/"), "data": data.decode(), "encoding": "utf-8"}
                for path, data in files.items()
            ],
            "projectSettings": {"framework": None},
        }
        if spec.environment == "production":
            body["target"] = "production"
        team = conn.config.get("team_id")
        query = f"?teamId={team}" if team else ""
        deployment = conn.call("POST", f"/v13/deployments{query}", json=body)
        deploy_id = str(deployment.get("id") or "")
        if not deploy_id:
            raise BuildFailed("Vercel did not answer a deployment id.")
        log(f"Vercel deployment {deploy_id} created")
        progress(60)

        def read() -> tuple[str, str]:
            got = conn.call("GET", f"/v13/deployments/{deploy_id}{query}")
            host = str(got.get("url") or "")
            url = host if host.startswith("http") or not host else f"https://{host}"
            return str(got.get("readyState") or ""), url

        url = _poll(read, label="Vercel", log=log)
        return BuildResult(url=url[:500], external_id=deploy_id[:200])


def register() -> None:
    """Make the adapters known to the sites deployment flow."""
    register_provider(NetlifyProvider())
    register_provider(VercelProvider())
