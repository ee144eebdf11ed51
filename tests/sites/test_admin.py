"""Staff screens for sites: every page renders, versions are read-only, actions use services."""

from __future__ import annotations

import pytest
from django.contrib import admin as django_admin
from django.test import Client

from audit.models import AuditEvent
from organizations.tenancy import service_context
from sites.models import Deployment, Domain, Page, PageVersion, Site
from tests.helpers import make_user
from tests.sites.makers import sites_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(personas) -> Client:
    client = Client()
    client.force_login(make_user("staff@example.test", is_staff=True, is_superuser=True))
    return client


def test_every_sites_admin_page_renders(staff_client, personas):
    world = sites_world(personas)
    for model in ("site", "page", "pageversion", "deployment", "domain"):
        assert staff_client.get(f"/admin/sites/{model}/").status_code == 200, model
    for model, obj in (
        ("site", world["site"]),
        ("page", world["page"]),
        ("deployment", world["deployment"]),
        ("domain", world["domain"]),
    ):
        page = staff_client.get(f"/admin/sites/{model}/{obj.pk}/change/")
        assert page.status_code == 200, model
    deployment = staff_client.get(f"/admin/sites/deployment/{world['deployment'].pk}/change/")
    assert b"rendered /" in deployment.content  # the build log
    domain = staff_client.get(f"/admin/sites/domain/{world['domain'].pk}/change/")
    assert world["domain"].verification_token.encode() not in domain.content


def test_every_sites_admin_action_declares_its_permissions():
    for model in (Site, Page, Deployment, Domain):
        model_admin = django_admin.site._registry[model]
        for name in model_admin.actions:
            action = getattr(model_admin, name)
            assert getattr(action, "allowed_permissions", None), f"{model.__name__}.{name}"


def test_versions_cannot_be_changed_in_the_admin(staff_client, personas):
    version = sites_world(personas)["page"]
    with service_context(reason="test read"):
        version = PageVersion.objects.get(page=version)
    response = staff_client.post(
        f"/admin/sites/pageversion/{version.pk}/change/", {"title": "rewritten"}
    )
    assert response.status_code == 403


def test_staff_archive_a_site_through_the_service(staff_client, personas):
    site = sites_world(personas)["site"]
    staff_client.post(
        "/admin/sites/site/", {"action": "archive", "_selected_action": [str(site.pk)]}
    )
    with service_context(reason="test read"):
        assert Site.objects.get(pk=site.pk).status == "archived"
        event = AuditEvent.objects.filter(action="site.archived").latest("created_at")
    assert event.actor_type == "staff"


def test_staff_verify_a_domain_through_the_service(staff_client, personas):
    domain = sites_world(personas)["domain"]
    staff_client.post(
        "/admin/sites/domain/", {"action": "verify", "_selected_action": [str(domain.pk)]}
    )
    with service_context(reason="test read"):
        assert Domain.objects.get(pk=domain.pk).status == "failed"  # no TXT record
