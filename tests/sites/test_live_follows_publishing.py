"""Issue 22 §1: the live site follows publishing (built-in host), unless production is
locked; replacing a schedule is explicit; a site's drafts publish together.

Builds run with the worker's own code in this thread (``build_queued``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from audit.models import AuditEvent
from integrations.models import Integration
from organizations.tenancy import service_context
from sites.models import Deployment, DeploymentPage, Page, Site
from sites.services.pages import publish_due
from sites.services.sites import site_deployment_integration_set
from tests.sites.support import (
    audit_actions,
    build_queued,
    count,
    get,
    make_page,
    make_site,
    page_url,
    public_get,
    site_url,
    text,
)

pytestmark = pytest.mark.django_db


def _publish(client, page_id, **body):
    return client.post(page_url(page_id, "publish/"), body, format="json")


def _edit(client, page_id, body):
    etag = client.get(page_url(page_id))["ETag"]
    response = client.patch(
        page_url(page_id), {"content": text(body)}, format="json", HTTP_IF_MATCH=etag
    )
    assert response.status_code == 200, response.json()


def _last_audit(org, action):
    with service_context(reason="test read"):
        return AuditEvent.objects.filter(organization_id=org.id, action=action).latest("sequence")


def test_publishing_deploys_production_and_the_live_site_serves_it(personas):
    owner, member = personas.users["owner"], personas.client("member")
    site = make_site(personas.org, owner)
    page = make_page(site, owner, body="first words")

    response = _publish(member, page.id, message="v1")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["number"], body["state"]) == (1, "live")
    assert body["live_at"] and body["deployment"]

    deployment = get(Deployment, id=body["deployment"])
    assert (deployment.environment, deployment.trigger, deployment.status) == (
        "production",
        "auto",
        "queued",
    )
    assert "automatic: published /" in deployment.log
    (built,) = build_queued(site)
    assert (built.status, built.page_count) == ("ready", 1)
    assert "rendered /" in built.log
    live = public_get("/p/acme/shop/")
    assert live.status_code == 200 and b"first words" in live.content
    created = _last_audit(personas.org, "deployment.created")
    assert created.changes["trigger"] == "auto"
    assert member.get(site_url()).json()["pending_changes"] is False


def test_a_scheduled_publication_reaches_the_live_site_when_due(personas):
    """Before: the scheduler set ``live_version`` but the live site kept the old page."""
    owner, admin = personas.users["owner"], personas.client("admin")
    site = make_site(personas.org, owner)
    page = make_page(site, owner, body="old words")
    assert _publish(admin, page.id).status_code == 201
    build_queued(site)
    _edit(admin, page.id, "launch words")
    go_live = timezone.now() + timedelta(hours=2)

    response = _publish(admin, page.id, go_live_at=go_live.isoformat())
    assert response.status_code == 201, response.json()
    assert response.json()["state"] == "scheduled"
    assert response.json()["deployment"] is None
    assert response.json()["live_at"].startswith(go_live.isoformat()[:19])

    with time_machine.travel(go_live + timedelta(seconds=1), tick=False):
        assert publish_due() == {"published": 1, "expired": 0, "deployed": 1}
    (deployment,) = build_queued(site)
    assert (deployment.trigger, deployment.created_by_id, deployment.status) == (
        "auto",
        None,
        "ready",
    )
    served = public_get("/p/acme/shop/")
    assert b"launch words" in served.content and b"old words" not in served.content
    assert publish_due()["deployed"] == 0  # nothing left pending


def test_unpublishing_a_deployed_page_takes_it_off_the_live_site(personas):
    """Before: the unpublished page stayed served (200) until someone deployed."""
    owner, member = personas.users["owner"], personas.client("member")
    site = make_site(personas.org, owner)
    home = make_page(site, owner, body="home")
    about = make_page(site, owner, path="/about", body="about us", title="About")
    assert member.post(site_url("shop", "publish/"), {}, format="json").status_code == 201
    build_queued(site)
    assert public_get("/p/acme/shop/about").status_code == 200

    response = member.post(page_url(about.id, "unpublish/"))
    assert response.status_code == 200, response.json()
    (deployment,) = build_queued(site)
    assert deployment.page_count == 1
    assert public_get("/p/acme/shop/about").status_code == 404
    assert public_get("/p/acme/shop/").status_code == 200

    # The last page too: an empty deployment, and nothing is served.
    member.post(page_url(home.id, "unpublish/"))
    (empty,) = build_queued(site)
    assert (empty.page_count, empty.status) == (0, "ready")
    assert public_get("/p/acme/shop/").status_code == 404


def test_an_expired_page_leaves_the_live_site(personas):
    owner, admin = personas.users["owner"], personas.client("admin")
    site = make_site(personas.org, owner)
    page = make_page(site, owner, body="sale ends soon")
    expire = timezone.now() + timedelta(days=1)
    assert _publish(admin, page.id, expire_at=expire.isoformat()).status_code == 201
    build_queued(site)
    assert public_get("/p/acme/shop/").status_code == 200
    with time_machine.travel(expire + timedelta(seconds=1), tick=False):
        assert publish_due() == {"published": 0, "expired": 1, "deployed": 1}
    build_queued(site)
    assert public_get("/p/acme/shop/").status_code == 404


def test_replacing_a_pending_schedule_is_explicit(personas):
    """Before: a later immediate publish silently dropped the pending schedule."""
    owner, admin = personas.users["owner"], personas.client("admin")
    site = make_site(personas.org, owner)
    page = make_page(site, owner)
    go_live = (timezone.now() + timedelta(days=1)).isoformat()
    assert _publish(admin, page.id, go_live_at=go_live).status_code == 201

    refused = _publish(admin, page.id)
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "schedule_pending"
    assert "replace_schedule" in error["message"]
    assert list(error["details"]) == [str(page.id)]
    scheduled = get(Page, "scheduled_version", id=page.id)
    assert (scheduled.status, scheduled.scheduled_version.number) == ("scheduled", 1)

    replaced = _publish(admin, page.id, replace_schedule=True)
    assert replaced.status_code == 201, replaced.json()
    assert (replaced.json()["number"], replaced.json()["state"]) == (2, "live")
    now_live = get(Page, "live_version", id=page.id)
    assert (now_live.live_version.number, now_live.scheduled_version_id) == (2, None)
    assert _last_audit(personas.org, "page.published").changes["replaced_schedule"] == 1


def test_a_rollback_locks_production_until_an_admin_unlocks_it(personas):
    owner, admin, member = (
        personas.users["owner"],
        personas.client("admin"),
        personas.client("member"),
    )
    site = make_site(personas.org, owner)
    page = make_page(site, owner, body="one")
    _publish(admin, page.id)
    (first,) = build_queued(site)
    _edit(admin, page.id, "two")
    _publish(admin, page.id)
    build_queued(site)

    rolled = admin.post(site_url("shop", f"deployments/{first.id}/rollback/"))
    assert rolled.status_code == 200, rolled.json()
    shown = admin.get(site_url()).json()
    assert (shown["production_locked"], shown["pending_changes"]) == (True, True)
    assert b"one" in public_get("/p/acme/shop/").content

    # Locked: publishing no longer moves production, by itself or by the scheduler.
    _edit(admin, page.id, "three")
    published = _publish(admin, page.id)
    assert published.json()["deployment"] is None
    assert publish_due()["deployed"] == 0
    assert build_queued(site) == []
    assert b"one" in public_get("/p/acme/shop/").content
    assert admin.get(site_url()).json()["pending_changes"] is True

    # A manual deployment moves it (and the lock stays).
    manual = admin.post(
        site_url("shop", "deployments/"), {"environment": "production"}, format="json"
    )
    assert manual.status_code == 202, manual.json()
    build_queued(site)
    assert b"three" in public_get("/p/acme/shop/").content
    shown = admin.get(site_url()).json()
    assert (shown["production_locked"], shown["pending_changes"]) == (True, False)

    # Unlocking is an explicit update, for admins, audited; pending changes deploy.
    _edit(admin, page.id, "four")
    _publish(admin, page.id)
    refused = member.patch(site_url(), {"production_locked": False}, format="json")
    assert refused.status_code == 403
    assert get(Site, id=site.id).production_locked is True
    unlocked = admin.patch(site_url(), {"production_locked": False}, format="json")
    assert unlocked.status_code == 200, unlocked.json()
    assert unlocked.json()["production_locked"] is False
    (deployment,) = build_queued(site)
    assert deployment.trigger == "auto"
    assert b"four" in public_get("/p/acme/shop/").content
    assert audit_actions(personas.org, "site.production") == ["site.production_unlocked"]
    assert _last_audit(personas.org, "deployment.rolled_back").changes["production_locked"]


def test_an_automatic_deployment_built_after_a_rollback_does_not_go_live(personas):
    owner, admin = personas.users["owner"], personas.client("admin")
    site = make_site(personas.org, owner)
    page = make_page(site, owner, body="one")
    _publish(admin, page.id)
    (first,) = build_queued(site)
    _edit(admin, page.id, "two")
    queued = _publish(admin, page.id).json()["deployment"]  # not built yet

    assert admin.post(site_url("shop", f"deployments/{first.id}/rollback/")).status_code == 200
    (late,) = build_queued(site)
    assert (str(late.id), late.status) == (queued, "ready")
    assert get(Site, id=site.id).live_deployment_id == first.id
    assert b"one" in public_get("/p/acme/shop/").content
    assert admin.get(site_url()).json()["pending_changes"] is True


def test_a_sites_drafts_publish_together_in_one_deployment(personas):
    owner, member = personas.users["owner"], personas.client("member")
    site = make_site(personas.org, owner)
    pages = [make_page(site, owner, path=f"/p{n}", body=f"page {n}") for n in range(3)]
    other_site = make_site(personas.org, owner, "blog")
    stranger = make_page(other_site, owner)

    refused = member.post(
        site_url("shop", "publish/"),
        {"pages": [str(pages[0].id), str(stranger.id)]},
        format="json",
    )
    assert refused.status_code == 404
    assert count(Page, site=site, live_version__isnull=False) == 0

    response = member.post(site_url("shop", "publish/"), {"message": "launch"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == "live"
    assert sorted(p["path"] for p in body["pages"]) == ["/p0", "/p1", "/p2"]
    assert count(Deployment, site=site) == 1
    assert count(DeploymentPage, deployment_id=body["deployment"]) == 3
    build_queued(site)
    assert all(public_get(f"/p/acme/shop/p{n}").status_code == 200 for n in range(3))

    again = member.post(site_url("shop", "publish/"), {}, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "nothing_to_publish"


def test_a_site_on_another_host_is_not_deployed_by_publishing(personas):
    """Netlify/Vercel deploy when asked: publishing leaves the changes pending."""
    owner, admin = personas.users["owner"], personas.client("admin")
    site = make_site(personas.org, owner)
    page = make_page(site, owner)
    with service_context(reason="test fixture: an external host"):
        integration = Integration.objects.create(
            organization=personas.org, provider="netlify", name="netlify", config={}
        )
        site_deployment_integration_set(actor=owner, site=site, integration=integration)
    response = _publish(admin, page.id)
    assert response.status_code == 201, response.json()
    assert response.json()["deployment"] is None
    assert publish_due()["deployed"] == 0
    assert count(Deployment, site=site) == 0
    assert admin.get(site_url()).json()["pending_changes"] is True


def test_a_suspended_organizations_site_is_deployed_once_it_is_lifted(personas):
    from organizations.services import organization_set_suspended

    owner, staff = personas.users["owner"], personas.users["admin"]
    site = make_site(personas.org, owner)
    page = make_page(site, owner)
    expire = timezone.now() + timedelta(hours=1)
    with service_context(reason="test fixture: publish"):
        from sites.services.pages import page_publish

        page_publish(actor=owner, site=site, page=page, expire_at=expire)
    build_queued(site)
    with service_context(reason="test: suspend"):
        organization_set_suspended(actor=staff, organization=personas.org, suspended=True)
    with time_machine.travel(expire + timedelta(seconds=1), tick=False):
        assert publish_due() == {"published": 0, "expired": 1, "deployed": 0}
        with service_context(reason="test: lift"):
            organization_set_suspended(actor=staff, organization=personas.org, suspended=False)
        assert publish_due() == {"published": 0, "expired": 0, "deployed": 1}
    (deployment,) = build_queued(site)
    assert (deployment.page_count, deployment.status) == (0, "ready")
