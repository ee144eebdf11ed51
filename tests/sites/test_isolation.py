"""Acceptance 3: another org's sites data is a 404 through every route, viewers write
nothing, page versions are immutable for the runtime roles, public library items are
readable by everyone signed in and writable only by their org."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from organizations.api.routes import methods_of, org_routes
from organizations.permissions import MATRIX
from organizations.tenancy import service_context, tenant_context
from sites.models import Component, PageVersion
from tests.sites.expected_routes import EXPECTED_ROUTES
from tests.sites.makers import SITES_MAKERS, sites_world
from tests.sites.support import make_site

pytestmark = pytest.mark.django_db

SITES_ROUTES = [
    (route, method)
    for route in org_routes()
    for method in methods_of(route.view_class)
    if route.view_class.__module__.startswith("sites.")
]


def test_every_sites_route_is_expected_and_the_matrix_agrees():
    """The hand-written expectations (from the issue's words) and the matrix match."""
    seen = set()
    for route, method in SITES_ROUTES:
        key = f"{method} {route.pattern}"
        seen.add(key)
        assert key in EXPECTED_ROUTES, f"{key} is not in expected_routes.py"
        action = route.view_class.required_action(method)
        assert MATRIX[action].roles == EXPECTED_ROUTES[key], key
    assert seen == set(EXPECTED_ROUTES)


def _url_with(route, values):
    path = route.pattern
    for name, value in values.items():
        for converter in ("slug", "uuid", "int"):
            path = path.replace(f"<{converter}:{name}>", str(value))
    return "/" + path


@pytest.mark.parametrize(
    ("route", "method"), SITES_ROUTES, ids=[f"{m} {r}" for r, m in SITES_ROUTES]
)
def test_acme_objects_are_not_found_under_another_orgs_own_urls(route, method, personas):
    """globex's owner, in globex's own URLs, naming acme's site, pages, versions, comments,
    deployments, domains, components and templates: every one is a 404, nothing changes."""
    values = {name: maker(personas) for name, maker in SITES_MAKERS.items()}
    make_site(personas.other_org, personas.users["outsider"], "globex-site")
    values["org_slug"] = "globex"
    if "page_id" in route.kwargs or "deployment_id" in route.kwargs or "domain_id" in route.kwargs:
        values["site_slug"] = "globex-site"  # a real globex site; acme's child ids under it
    response = personas.client("outsider").generic(
        method, _url_with(route, values), data="{}", content_type="application/json"
    )
    if set(route.kwargs) <= {"org_slug"}:
        assert response.status_code != 404  # globex's own lists and creations
    elif route.kwargs == ("org_slug", "site_slug") and values["site_slug"] == "globex-site":
        assert response.status_code != 404
    else:
        assert response.status_code == 404, (response.status_code, response.content)


def test_a_raw_update_or_delete_of_a_page_version_is_refused_to_the_runtime_roles(personas):
    world = sites_world(personas)
    owner = personas.users["owner"]
    for statement in (
        "UPDATE sites_pageversion SET title = 'rewritten' WHERE page_id = %s",
        "DELETE FROM sites_pageversion WHERE page_id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="permission denied"),
            tenant_context(user_id=owner.id, org_slug="acme"),
            connection.cursor() as cur,
        ):
            cur.execute(statement, [world["page"].id])
        with (
            pytest.raises(DatabaseError, match="permission denied"),
            service_context(reason="test: even elevated"),
            connection.cursor() as cur,
        ):
            cur.execute(statement, [world["page"].id])
    with service_context(reason="test read"):
        assert PageVersion.objects.get(page=world["page"]).title == "Matrix home"


def test_a_public_component_is_readable_by_another_org_and_writable_only_by_its_own(personas):
    world = sites_world(personas)
    component = world["component"]
    url = f"/api/v1/orgs/acme/components/{component.id}/"
    made_public = personas.client("admin").patch(url, {"is_public": True}, format="json")
    assert made_public.status_code == 200, made_public.json()

    outsider = personas.client("outsider")
    listed = outsider.get("/api/v1/orgs/globex/components/").json()["results"]
    assert [(c["name"], c["mine"]) for c in listed] == [("Matrix button", False)]
    theirs = f"/api/v1/orgs/globex/components/{component.id}/"
    assert outsider.get(theirs).status_code == 200
    assert outsider.patch(theirs, {"name": "stolen"}, format="json").status_code == 404
    assert outsider.delete(theirs).status_code == 404
    with tenant_context(user_id=personas.users["outsider"].id, org_slug="globex"):
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE sites_component SET name = 'stolen' WHERE id = %s", [component.id]
            )
            assert cursor.rowcount == 0
        assert Component.objects.filter(id=component.id).count() == 1  # still readable


def test_a_private_component_is_invisible_to_another_org_even_in_sql(personas):
    component = sites_world(personas)["component"]
    with tenant_context(user_id=personas.users["outsider"].id, org_slug="globex"):
        assert not Component.objects.filter(id=component.id).exists()
    response = personas.client("outsider").get(f"/api/v1/orgs/globex/components/{component.id}/")
    assert response.status_code == 404


def test_only_admins_make_a_component_public(personas):
    component = sites_world(personas)["component"]
    response = personas.client("member").patch(
        f"/api/v1/orgs/acme/components/{component.id}/", {"is_public": True}, format="json"
    )
    assert response.status_code == 403
    with service_context(reason="test read"):
        assert not Component.objects.get(id=component.id).is_public


def test_a_member_cannot_deploy_to_production_but_can_deploy_a_preview(personas):
    sites_world(personas)
    member = personas.client("member")
    url = "/api/v1/orgs/acme/sites/matrix-site/deployments/"
    refused = member.post(url, {"environment": "production"}, format="json")
    assert refused.status_code == 403
    preview = member.post(url, {"environment": "preview"}, format="json")
    assert preview.status_code == 202, preview.json()


def test_a_second_deployment_in_flight_is_a_409(personas):
    sites_world(personas)
    admin = personas.client("admin")
    url = "/api/v1/orgs/acme/sites/matrix-site/deployments/"
    assert admin.post(url, {"environment": "preview"}, format="json").status_code == 202
    again = admin.post(url, {"environment": "preview"}, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "deployment_in_progress"
    assert admin.post(url, {"environment": "production"}, format="json").status_code == 202


def test_the_in_flight_rule_is_in_the_database(personas):
    world = sites_world(personas)
    with (
        service_context(reason="test: raw insert"),
        pytest.raises(DatabaseError),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        for _ in range(2):
            cursor.execute(
                "INSERT INTO sites_deployment (id, organization_id, created_at, updated_at,"
                " site_id, environment, status, provider, url, progress, log, error,"
                " page_count) VALUES (gen_random_uuid(), %s, now(), now(), %s, 'preview',"
                " 'queued', 'local', '', 0, '', '', 0)",
                [personas.org.id, world["site"].id],
            )
