"""Private projects exist only for their project members and org owners/admins —
in the API (404, absent from lists) and in the database (raw SQL as the app role)."""

from __future__ import annotations

import pytest
from django.db import connection

from organizations.tenancy import tenant_context
from tests.projects.support import (
    add_project_member,
    make_file,
    make_project,
    make_snapshot,
    project_url,
    projects_url,
    save_file,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def secret(personas):
    owner = personas.users["owner"]
    project = make_project(personas.org, owner, "secret", visibility="private")
    file = make_file(project, "plan.md", "v1")
    save_file(file, "v2")
    make_snapshot(project, "s1", actor=owner)
    return project, file


def _urls(project, file):
    return [
        project_url(project.slug),
        project_url(project.slug, "document/"),
        project_url(project.slug, "members/"),
        project_url(project.slug, "files/"),
        project_url(project.slug, f"files/{file.pk}/"),
        project_url(project.slug, f"files/{file.pk}/revisions/"),
        project_url(project.slug, f"files/{file.pk}/revisions/1/"),
        project_url(project.slug, f"files/{file.pk}/diff/?from=1&to=2"),
        project_url(project.slug, "snapshots/"),
    ]


@pytest.mark.parametrize("persona", ["member", "viewer", "billing"])
def test_a_private_project_is_a_404_to_org_members_not_on_it(secret, personas, persona):
    project, file = secret
    client = personas.client(persona)
    for url in _urls(project, file):
        response = client.get(url)
        assert response.status_code == 404, url
    for method, rest in (("PUT", "favorite/"), ("POST", "files/"), ("PATCH", "")):
        response = client.generic(
            method, project_url(project.slug, rest), data="{}", content_type="application/json"
        )
        assert response.status_code == 404, (method, rest)
    listed = {p["slug"] for p in client.get(projects_url()).json()["results"]}
    assert project.slug not in listed


@pytest.mark.parametrize("persona", ["owner", "admin"])
def test_org_owners_and_admins_see_private_projects(secret, personas, persona):
    project, file = secret
    client = personas.client(persona)
    for url in _urls(project, file):
        assert client.get(url).status_code == 200, url
    assert project.slug in {p["slug"] for p in client.get(projects_url()).json()["results"]}
    assert client.get(project_url(project.slug)).json()["my_role"] == "manager"


def test_a_project_member_sees_a_private_project_with_their_project_role(secret, personas):
    project, file = secret
    add_project_member(project, personas.users["billing"], "viewer", actor=personas.users["owner"])
    client = personas.client("billing")
    for url in _urls(project, file):
        assert client.get(url).status_code == 200, url
    assert client.get(project_url(project.slug)).json()["my_role"] == "viewer"
    refused = client.post(project_url(project.slug, "files/"), {"path": "x"}, format="json")
    assert refused.status_code == 403


def test_making_a_project_private_hides_it_at_once(personas):
    project = make_project(personas.org, personas.users["owner"], "demo")
    member = personas.client("member")
    assert member.get(project_url("demo")).status_code == 200
    personas.client("admin").patch(project_url("demo"), {"visibility": "private"}, format="json")
    assert member.get(project_url("demo")).status_code == 404
    assert project.slug not in {p["slug"] for p in member.get(projects_url()).json()["results"]}


TABLES = [
    ("projects_project", "id"),
    ("projects_projectfile", "project_id"),
    ("projects_filerevision", "project_id"),
    ("projects_snapshot", "project_id"),
    ("projects_snapshotentry", "project_id"),
]


def _counts_as(user, project) -> dict[str, int]:
    counts = {}
    with tenant_context(user_id=user.id, org_slug="acme"), connection.cursor() as cursor:
        for table, column in TABLES:
            cursor.execute(f"SELECT count(*) FROM {table} WHERE {column} = %s", [project.pk])
            counts[table] = cursor.fetchone()[0]
    return counts


@pytest.mark.parametrize("persona", ["member", "viewer", "billing"])
def test_a_private_project_is_invisible_in_raw_sql_to_org_members_not_on_it(
    secret, personas, persona
):
    project, _ = secret
    assert set(_counts_as(personas.users[persona], project).values()) == {0}


def test_a_private_project_is_visible_in_raw_sql_to_admins_and_its_members(secret, personas):
    project, _ = secret
    add_project_member(project, personas.users["member"], "viewer", actor=personas.users["owner"])
    expected = {
        "projects_project": 1,
        "projects_projectfile": 1,
        "projects_filerevision": 2,
        "projects_snapshot": 1,
        "projects_snapshotentry": 1,
    }
    assert _counts_as(personas.users["admin"], project) == expected
    assert _counts_as(personas.users["member"], project) == expected


def test_raw_sql_cannot_write_into_a_private_project_you_are_not_on(secret, personas):
    project, file = secret
    with (
        tenant_context(user_id=personas.users["member"].id, org_slug="acme"),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE projects_projectfile SET path = 'pwned' WHERE id = %s", [file.pk])
        assert cursor.rowcount == 0
        cursor.execute("UPDATE projects_project SET name = 'pwned' WHERE id = %s", [project.pk])
        assert cursor.rowcount == 0
