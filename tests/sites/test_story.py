"""Acceptance 1: the whole story over HTTP.

Create a site and a page, publish v1 — production follows by itself (the
built-in host; issue 22); publish v2 — it serves v2; roll back to v1's
deployment — it serves v1 again, without a rebuild, and production is locked:
publishing v3 waits until a manual deployment serves it.
"""

from __future__ import annotations

import pytest
from django_tasks_db.models import DBTaskResult

from sites.models import Deployment, DeploymentPage
from tests.organizations.support import run_worker
from tests.sites.support import audit_actions, count, page_url, public_get, site_url, sites_url

# Transactional: the build is queued when the request commits and run by the real worker.
pytestmark = pytest.mark.django_db(transaction=True)


def _edit(client, page_id, etag, body):
    return client.patch(
        page_url(page_id),
        {"content": [{"type": "text", "text": body}]},
        format="json",
        HTTP_IF_MATCH=etag,
    )


def _deploy(client):
    response = client.post(
        site_url("shop", "deployments/"), {"environment": "production"}, format="json"
    )
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "queued"
    run_worker()
    detail = client.get(site_url("shop", f"deployments/{response.json()['id']}/"))
    assert detail.status_code == 200
    return detail.json()


def test_publish_deploy_and_roll_back_over_http(personas):
    admin = personas.client("admin")

    created = admin.post(sites_url(), {"name": "Shop", "slug": "shop"}, format="json")
    assert created.status_code == 201, created.json()
    page = admin.post(
        site_url("shop", "pages/"),
        {"path": "/", "title": "Welcome", "content": [{"type": "text", "text": "first words"}]},
        format="json",
    )
    assert page.status_code == 201, page.json()
    page_id, etag = page.json()["id"], page["ETag"]

    v1 = admin.post(page_url(page_id, "publish/"), {"message": "v1"}, format="json")
    assert (v1.status_code, v1.json()["number"], v1.json()["state"]) == (201, 1, "live")
    run_worker()  # the production deployment publishing started
    first = admin.get(site_url("shop", f"deployments/{v1.json()['deployment']}/")).json()
    assert (first["status"], first["progress"], first["live"]) == ("ready", 100, True)
    assert (first["trigger"], first["pages"]) == (
        "auto",
        [{"path": "/", "page": page_id, "version": 1}],
    )
    assert "rendered /" in first["log"]
    live = public_get("/p/acme/shop/")
    assert live.status_code == 200
    assert b"<title>Welcome</title>" in live.content and b"first words" in live.content

    edited = _edit(admin, page_id, etag, "second words")
    assert edited.status_code == 200, edited.json()
    assert edited["ETag"] != etag
    v2 = admin.post(page_url(page_id, "publish/"), {"message": "v2"}, format="json")
    assert v2.json()["number"] == 2
    run_worker()
    assert b"second words" in public_get("/p/acme/shop/").content  # followed by itself

    deployments_before = count(Deployment, site__slug="shop")
    pinned_before = count(DeploymentPage)
    tasks_before = DBTaskResult.objects.count()
    rolled = admin.post(site_url("shop", f"deployments/{first['id']}/rollback/"))
    assert rolled.status_code == 200, rolled.json()
    assert rolled.json()["live"] is True

    back = public_get("/p/acme/shop/")
    assert b"first words" in back.content and b"second words" not in back.content
    # No rebuild: no new deployment, no new pinned rows, no task queued.
    assert count(Deployment, site__slug="shop") == deployments_before == 2
    assert count(DeploymentPage) == pinned_before
    assert DBTaskResult.objects.count() == tasks_before
    site = admin.get(site_url("shop")).json()
    assert site["live_deployment"] == first["id"]
    assert (site["production_locked"], site["pending_changes"]) == (True, True)

    # Locked by the rollback: a publication waits for a manual deployment.
    _edit(admin, page_id, edited["ETag"], "third words")
    v3 = admin.post(page_url(page_id, "publish/"), {"message": "v3"}, format="json")
    assert (v3.json()["number"], v3.json()["deployment"]) == (3, None)
    run_worker()
    assert b"third words" not in public_get("/p/acme/shop/").content
    third = _deploy(admin)
    assert (third["trigger"], third["pages"][0]["version"]) == ("manual", 3)
    back = public_get("/p/acme/shop/")
    assert b"third words" in back.content
    assert audit_actions(personas.org, "deployment.") == [
        "deployment.created",
        "deployment.ready",
        "deployment.created",
        "deployment.ready",
        "deployment.rolled_back",
        "deployment.created",
        "deployment.ready",
    ]
    # The live page's HTML is kept per answer of the database: a renamed site is a new
    # answer, so the same pinned version shows the new name at once.
    assert b"<strong>Shop</strong>" in back.content
    renamed = admin.patch(site_url("shop"), {"name": "Shop & Co"}, format="json")
    assert renamed.status_code == 200, renamed.json()
    assert b"<strong>Shop &amp; Co</strong>" in public_get("/p/acme/shop/").content
