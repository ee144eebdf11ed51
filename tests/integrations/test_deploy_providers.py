"""External deployment providers (issue 12 §5) against fake Netlify- and Vercel-style
APIs on 127.0.0.1: a site whose deployment integration is set deploys through it —
only the files the provider asks for are uploaded, the deploy is polled until ready,
the provider's id and URL are stored; a provider error fails the deployment with a
clean message (no token, no provider body). The built-in ``local`` provider stays the
default."""

from __future__ import annotations

import hashlib
import json

import pytest

from config.errors import DomainError
from integrations import crypto
from integrations.models import Integration
from organizations.tenancy import service_context
from sites.models import Deployment, Site
from sites.services import deployments as deployment_services
from sites.services.sites import site_deployment_integration_set
from tests.integrations.fakes import fake_api
from tests.sites.support import deploy_now, make_page, make_site, publish

pytestmark = pytest.mark.django_db

TOKEN = "nfp_secret_token_0123456789"
PROVIDER_SECRET = "internal-build-host-10.2.3.4-trace"


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.INTEGRATIONS_PROVIDER_POLL_INTERVAL_SECONDS = 0


def _site(personas, provider: str, base: str, **config) -> Site:
    owner = personas.users["owner"]
    site = make_site(personas.org, owner)
    with service_context(reason="test fixture"):
        integration = Integration.objects.create(
            organization=personas.org,
            provider=provider,
            name=provider,
            config={"base_url": base, **config},
            credentials_encrypted=crypto.encrypt_json({"token": TOKEN}),
        )
        site_deployment_integration_set(actor=owner, site=site, integration=integration)
    # Published on the external host: publishing deploys only the built-in host.
    for path, body in (("/", "Welcome home"), ("/about", "About us")):
        page = make_page(site, owner, path=path, body=body, title=body)
        publish(site, page, owner)
    return site


def _deploy(personas, site: Site, environment: str = "production") -> Deployment:
    with service_context(reason="test fixture: deploy"):
        site.refresh_from_db()
        deployment = deployment_services.deployment_create(
            actor=personas.users["admin"], site=site, environment=environment
        )
    deployment_services.run_build(str(deployment.id))
    with service_context(reason="test read"):
        return Deployment.objects.get(id=deployment.id)


class FakeNetlify:
    """Already has the home page's file; asks for the rest. Ready on the second poll."""

    def __init__(self, final_state: str = "ready", status: int = 200) -> None:
        self.final_state = final_state
        self.status = status
        self.digests: dict[str, str] = {}
        self.polls = 0

    def respond(self, r):
        if self.status != 200:
            return self.status, {"message": f"nope {PROVIDER_SECRET}", "echo": r.headers}
        if r.headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, {"message": "unauthorized"}
        if r.method == "POST" and r.path == "/api/v1/sites/site-42/deploys":
            self.digests = json.loads(r.body)["files"]
            required = [sha for path, sha in self.digests.items() if path != "/index.html"]
            return 200, {"id": "dep-1", "state": "uploading", "required": required}
        if r.method == "PUT" and r.path.startswith("/api/v1/deploys/dep-1/files/"):
            return 200, {"id": "file"}
        if r.method == "GET" and r.path == "/api/v1/deploys/dep-1":
            self.polls += 1
            if self.polls < 2:
                return 200, {"id": "dep-1", "state": "processing"}
            return 200, {
                "id": "dep-1",
                "state": self.final_state,
                "ssl_url": "https://shop-42.netlify.app",
                "error_message": f"build failed on {PROVIDER_SECRET}",
            }
        return 404, {}


def test_netlify_uploads_only_the_required_files_polls_until_ready_and_stores_id_and_url(
    personas,
):
    fake = FakeNetlify()
    with fake_api(fake.respond) as api:
        site = _site(personas, "netlify", api.base, site_id="site-42")
        deployment = _deploy(personas, site)

    assert deployment.status == "ready", deployment.error
    assert deployment.provider == "netlify"
    assert deployment.external_id == "dep-1"
    assert deployment.url == "https://shop-42.netlify.app"
    assert set(fake.digests) == {"/index.html", "/about/index.html"}
    puts = [r for r in api.requests if r.method == "PUT"]
    assert [r.path for r in puts] == ["/api/v1/deploys/dep-1/files/about/index.html"]
    # The uploaded file is the rendered page, and its digest is what was announced.
    assert hashlib.sha1(puts[0].body).hexdigest() == fake.digests["/about/index.html"]  # noqa: S324
    assert b"About us" in puts[0].body and b"<html" in puts[0].body
    assert fake.polls == 2
    assert "1 of 2 files to upload" in deployment.log
    with service_context(reason="test read"):
        assert Site.objects.get(id=site.id).live_deployment_id == deployment.id


def test_netlify_error_state_fails_the_deployment_with_a_clean_message(personas):
    fake = FakeNetlify(final_state="error")
    with fake_api(fake.respond) as api:
        site = _site(personas, "netlify", api.base, site_id="site-42")
        deployment = _deploy(personas, site)
    assert deployment.status == "failed"
    assert deployment.error == "Netlify reported the deploy failed (state error)."
    for text in (deployment.error, deployment.log):
        assert PROVIDER_SECRET not in text and TOKEN not in text


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (401, "Netlify rejected the credentials (HTTP 401)."),
        (500, "Netlify refused the request (HTTP 500)."),
    ],
)
def test_netlify_refusals_map_to_clean_errors(personas, status, message):
    fake = FakeNetlify(status=status)
    with fake_api(fake.respond) as api:
        site = _site(personas, "netlify", api.base, site_id="site-42")
        deployment = _deploy(personas, site, "preview")
    assert deployment.status == "failed"
    assert deployment.error == message
    assert PROVIDER_SECRET not in deployment.log and TOKEN not in deployment.log


class FakeVercel:
    def __init__(self, final_state: str = "READY") -> None:
        self.final_state = final_state
        self.created: dict = {}
        self.polls = 0

    def respond(self, r):
        if r.headers.get("authorization") != f"Bearer {TOKEN}":
            return 403, {"error": {"message": "forbidden"}}
        if r.method == "POST" and r.path == "/v13/deployments":
            self.created = json.loads(r.body)
            return 200, {"id": "dpl_9", "url": "shop-abc.vercel.app", "readyState": "QUEUED"}
        if r.method == "GET" and r.path == "/v13/deployments/dpl_9":
            self.polls += 1
            state = "BUILDING" if self.polls < 3 else self.final_state
            return 200, {"id": "dpl_9", "url": "shop-abc.vercel.app", "readyState": state}
        return 404, {}


def test_vercel_creates_with_files_polls_ready_state_and_stores_id_and_url(personas):
    fake = FakeVercel()
    with fake_api(fake.respond) as api:
        site = _site(personas, "vercel", api.base, project="shop-site")
        deployment = _deploy(personas, site)
    assert deployment.status == "ready", deployment.error
    assert (deployment.external_id, deployment.url) == ("dpl_9", "https://shop-abc.vercel.app")
    assert fake.created["name"] == "shop-site"
    assert fake.created["target"] == "production"
    files = {f["file"]: f["data"] for f in fake.created["files"]}
    assert set(files) == {"index.html", "about/index.html"}
    assert "Welcome home" in files["index.html"]
    assert fake.polls == 3


def test_vercel_error_fails_cleanly(personas):
    fake = FakeVercel(final_state="ERROR")
    with fake_api(fake.respond) as api:
        site = _site(personas, "vercel", api.base)
        deployment = _deploy(personas, site, "preview")
    assert deployment.status == "failed"
    assert deployment.error == "Vercel reported the deploy failed (state ERROR)."
    assert "target" not in fake.created  # a preview is not production


def test_local_stays_the_default_and_only_deploy_providers_can_be_set(personas):
    owner = personas.users["owner"]
    site = make_site(personas.org, owner)
    page = make_page(site, owner)
    publish(site, page, owner)  # the built-in host: publishing deploys production
    deployment = deploy_now(site, owner)
    assert (deployment.provider, deployment.status, deployment.external_id) == (
        "local",
        "ready",
        "",
    )
    with service_context(reason="test fixture"):
        ai = Integration.objects.create(organization=personas.org, provider="webhook", name="x")
        with pytest.raises(DomainError) as refused:
            site_deployment_integration_set(actor=owner, site=site, integration=ai)
    assert refused.value.code == "not_a_deploy_integration"


def test_a_deleted_integration_clears_the_site_reference(personas):
    with fake_api(FakeNetlify().respond) as api:
        site = _site(personas, "netlify", api.base, site_id="site-42")
    with service_context(reason="test"):
        Integration.objects.filter(id=site.deployment_integration_id).delete()
        assert Site.objects.get(id=site.id).deployment_integration_id is None


def test_admins_choose_the_site_deployment_integration_over_the_api(personas):
    owner = personas.users["owner"]
    site = make_site(personas.org, owner)
    with service_context(reason="test fixture"):
        netlify = Integration.objects.create(
            organization=personas.org, provider="netlify", name="n", config={"site_id": "s"}
        )
        hook = Integration.objects.create(organization=personas.org, provider="webhook", name="w")
    url = f"/api/v1/orgs/{personas.org.slug}/sites/{site.slug}/deployment-integration/"
    body = {"integration_id": str(netlify.id)}
    assert personas.client("member").put(url, body, format="json").status_code == 403
    chosen = personas.client("admin").put(url, body, format="json")
    assert chosen.status_code == 200
    assert chosen.json() == {
        "site": "shop",
        "integration_id": str(netlify.id),
        "provider": "netlify",
    }
    with service_context(reason="test read"):
        assert Site.objects.get(id=site.id).deployment_integration_id == netlify.id
    refused = personas.client("admin").put(url, {"integration_id": str(hook.id)}, format="json")
    assert refused.json()["error"]["code"] == "not_a_deploy_integration"
    back = personas.client("admin").put(url, {"integration_id": None}, format="json")
    assert back.json()["provider"] == "local"
    with service_context(reason="test read"):
        assert Site.objects.get(id=site.id).deployment_integration_id is None
