"""The staff console (issue 14, "Staff console"): labels, filters, the organization's
slug, deactivating users, erasing organizations, and the landing page."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.test import Client
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import Session, User
from audit.models import AuditEvent
from config.admin import OrganizationFilter, organization_field
from organizations.models import Organization
from organizations.tenancy import service_context
from projects.models import Project
from tests.admin.support import staff_client
from tests.helpers import make_user
from tests.projects.support import make_asset, make_project, stored_files, use_fresh_media_root
from tests.security.objects import fill_tenant_tables

pytestmark = pytest.mark.django_db

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def superstaff(personas) -> Client:
    return staff_client(make_user("root@example.test", is_staff=True, is_superuser=True))


def _read(queryset):
    with service_context(reason="test read"):
        return list(queryset)


def test_the_console_is_named_for_staff(superstaff):
    response = superstaff.get("/admin/")
    assert "SaaS platform — staff" in response.content.decode()


def test_unused_models_are_hidden(superstaff):
    for model in (Group, Permission, OutstandingToken, BlacklistedToken):
        assert model not in admin.site._registry, model
    assert superstaff.get("/admin/auth/group/").status_code == 404
    assert superstaff.get("/admin/token_blacklist/outstandingtoken/").status_code == 404


def test_every_row_has_a_human_label(personas):
    """No UUID and no "Model object (...)" in the label of any row an admin page or
    inline shows (inline titles, breadcrumbs, messages, the change history)."""
    fill_tenant_tables(personas)
    models = set(admin.site._registry)
    for model_admin in admin.site._registry.values():
        models.update(inline.model for inline in model_admin.inlines)
    bad = []
    with service_context(reason="test read"):
        for model in models:
            for obj in model._default_manager.all()[:20]:
                label = str(obj)
                if UUID.search(label) or " object (" in label:
                    bad.append(f"{model._meta.label}: {label}")
    assert bad == []


def test_every_tenant_models_list_has_an_organization_filter():
    tenant_admins = [
        model_admin
        for model, model_admin in admin.site._registry.items()
        if organization_field(model) is not None
    ]
    assert len(tenant_admins) >= 10  # memberships, invitations, audit, the workspace...
    missing = [
        model_admin.model._meta.label
        for model_admin in tenant_admins
        if OrganizationFilter not in model_admin.list_filter
    ]
    assert missing == []


def test_the_organization_filter_narrows_a_list(superstaff, personas):
    make_project(personas.org, personas.users["owner"], "ours")
    make_project(personas.other_org, personas.users["outsider"], "theirs")

    everything = superstaff.get("/admin/projects/project/").content.decode()
    globex = superstaff.get("/admin/projects/project/?org=globex").content.decode()
    events = superstaff.get("/admin/audit/auditevent/?org=globex")

    assert "ours" in everything and "theirs" in everything
    assert "theirs" in globex and ">ours<" not in globex
    assert events.status_code == 200
    shown = events.context["cl"].result_list
    assert shown and {e.organization_id for e in shown} == {personas.other_org.id}


def test_the_slug_is_read_only_after_creation_with_a_warning(superstaff, personas):
    url = f"/admin/organizations/organization/{personas.org.id}/change/"
    page = superstaff.get(url).content.decode()
    assert 'name="slug"' not in page
    assert "slug cannot be changed here" in page

    superstaff.post(
        url,
        {
            "name": "Acme",
            "slug": "renamed",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "invitations-TOTAL_FORMS": "0",
            "invitations-INITIAL_FORMS": "0",
        },
    )
    assert _read(Organization.objects.filter(id=personas.org.id))[0].slug == "acme"


def test_deactivating_a_user_signs_them_out_everywhere_and_is_audited(superstaff, personas):
    member = personas.users["member"]
    client = personas.client("member")
    assert client.get("/api/v1/me/").status_code == 200

    response = superstaff.post(
        "/admin/accounts/user/",
        {"action": "deactivate", "_selected_action": [str(member.id)], "index": "0"},
    )

    assert response.status_code == 302
    assert User.objects.get(id=member.id).is_active is False
    assert not Session.objects.filter(user=member, revoked_at__isnull=True).exists()
    assert client.get("/api/v1/me/").status_code == 401
    [event] = _read(AuditEvent.objects.filter(action="user.deactivated"))
    assert (event.actor_id, event.actor_type, event.target_id) == (
        superstaff.staff.id,
        "staff",
        str(member.id),
    )


def test_staff_cannot_deactivate_themselves(superstaff):
    superstaff.post(
        "/admin/accounts/user/",
        {"action": "deactivate", "_selected_action": [str(superstaff.staff.id)], "index": "0"},
    )
    assert User.objects.get(id=superstaff.staff.id).is_active is True


def test_the_users_list_shows_when_each_was_last_seen(superstaff, personas):
    personas.client("member").get("/api/v1/me/")  # a session, used
    with service_context(reason="test read"):
        seen = Session.objects.filter(user=personas.users["member"]).latest("last_used_at")

    response = superstaff.get("/admin/accounts/user/?q=member%40acme")

    assert "last seen" in response.content.decode().lower()
    [row] = response.context["cl"].result_list
    assert row.last_seen == seen.last_used_at


def test_erasing_an_organization_needs_its_slug_typed(superstaff, personas):
    url = f"/admin/organizations/organization/{personas.org.id}/delete/"
    page = superstaff.get(url)
    assert page.status_code == 200 and "erase_org acme" in page.content.decode()

    wrong = superstaff.post(url, {"confirmation": "ACME"})

    assert wrong.status_code == 200 and "exactly" in wrong.content.decode()
    assert _read(Organization.objects.filter(slug="acme"))


def test_erasing_from_the_admin_runs_the_erase_flow(
    superstaff, personas, settings, tmp_path, django_capture_on_commit_callbacks
):
    media = use_fresh_media_root(settings, tmp_path)
    project = make_project(personas.org, personas.users["owner"], "doomed")
    make_asset(project, personas.users["owner"])
    assert len(stored_files(media)) == 1

    with django_capture_on_commit_callbacks(execute=True):
        response = superstaff.post(
            f"/admin/organizations/organization/{personas.org.id}/delete/",
            {"confirmation": "acme"},
        )

    assert response.status_code == 302
    assert not _read(Organization.objects.filter(slug="acme"))
    assert not _read(Project.objects.filter(organization_id=personas.org.id))
    assert stored_files(media) == []
    [event] = _read(AuditEvent.objects.filter(action="org.erased"))
    assert (event.organization_id, event.actor_id, event.actor_type) == (
        personas.org.id,
        superstaff.staff.id,
        "staff",
    )
    assert _read(Organization.objects.filter(slug="globex"))


def test_organizations_cannot_be_bulk_deleted(superstaff, personas):
    response = superstaff.post(
        "/admin/organizations/organization/",
        {"action": "delete_selected", "_selected_action": [str(personas.org.id)], "post": "yes"},
    )
    assert response.status_code in (200, 302)
    assert _read(Organization.objects.filter(slug="acme"))


def test_the_landing_page_links_to_the_docs_the_console_and_the_health_check(db):
    client = Client()
    response = client.get("/")

    assert response.status_code == 200
    links = re.findall(r'href="([^"]+)"', response.content.decode())
    assert {"/api/docs/", "/admin/", "/api/v1/health/"} <= set(links)
    for link in links:
        assert client.get(link).status_code in (200, 302), link


def test_staff_without_the_delete_permission_cannot_erase(personas):
    from tests.admin.support import staff_with_permissions

    client = staff_client(
        staff_with_permissions("changer@example.test", prefixes=("view_", "change_"))
    )
    url = f"/admin/organizations/organization/{personas.org.id}/delete/"

    assert client.get(url).status_code == 403
    assert client.post(url, {"confirmation": "acme"}).status_code == 403
    assert _read(Organization.objects.filter(slug="acme"))
