"""Project members: a per-project role that widens or narrows the org role,
in the API and in the database."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from organizations.tenancy import tenant_context
from tests.projects.support import (
    add_project_member,
    audit_actions,
    audit_events,
    error_code,
    make_file,
    make_project,
    project_url,
    revisions,
)

pytestmark = pytest.mark.django_db


def _add(client, user: str, role: str = "viewer"):
    return client.post(project_url("demo", "members/"), {"user": user, "role": role}, format="json")


def test_an_admin_adds_an_org_member_by_email(project, personas):
    response = _add(personas.client("admin"), "MEMBER@acme.test", "viewer")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["user"]["email"] == "member@acme.test" and body["role"] == "viewer"
    [event] = audit_events(personas.org, "project.member_added")
    assert event.changes["role"] == "viewer"
    assert event.changes["user"] == str(personas.users["member"].id)


def test_an_admin_adds_an_org_member_by_id(project, personas):
    response = _add(personas.client("admin"), str(personas.users["viewer"].id), "editor")
    assert response.status_code == 201
    assert response.json()["user"]["email"] == "viewer@acme.test"


@pytest.mark.parametrize(
    "user", ["owner@globex.test", "nobody@example.test", "00000000-0000-0000-0000-000000000000"]
)
def test_only_org_members_can_be_added(project, personas, user):
    response = _add(personas.client("admin"), user)
    assert response.status_code == 400
    assert error_code(response) == "not_org_member"


def test_adding_someone_twice_is_a_409(project, personas):
    _add(personas.client("admin"), "member@acme.test")
    response = _add(personas.client("admin"), "member@acme.test", "editor")
    assert response.status_code == 409
    assert error_code(response) == "already_project_member"


def test_a_project_role_is_editor_or_viewer(project, personas):
    response = _add(personas.client("admin"), "member@acme.test", "manager")
    assert response.status_code == 400
    assert "role" in response.json()["error"]["details"]


def test_a_members_role_is_changed_and_audited(project, personas):
    member = add_project_member(
        project, personas.users["member"], "viewer", actor=personas.users["owner"]
    )
    response = personas.client("admin").patch(
        project_url("demo", f"members/{member.pk}/"), {"role": "editor"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["role"] == "editor"
    [event] = audit_events(personas.org, "project.member_role_changed")
    assert event.changes["role"] == {"from": "viewer", "to": "editor"}


def test_removing_a_member_drops_back_to_the_org_default(project, personas):
    member = add_project_member(
        project, personas.users["member"], "viewer", actor=personas.users["owner"]
    )
    client = personas.client("member")
    refused = client.post(project_url("demo", "files/"), {"path": "a.txt"}, format="json")

    response = personas.client("admin").delete(project_url("demo", f"members/{member.pk}/"))

    allowed = client.post(project_url("demo", "files/"), {"path": "a.txt"}, format="json")
    assert refused.status_code == 403
    assert response.status_code == 204
    assert allowed.status_code == 201
    assert "project.member_removed" in audit_actions(personas.org, "project.member")


def test_members_are_listed_for_everyone_who_sees_the_project(project, personas):
    add_project_member(project, personas.users["member"], "viewer", actor=personas.users["owner"])
    response = personas.client("billing").get(project_url("demo", "members/"))
    assert response.status_code == 200
    assert [m["user"]["email"] for m in response.json()["results"]] == ["member@acme.test"]


def test_a_member_cannot_manage_project_members(project, personas):
    member = add_project_member(
        project, personas.users["viewer"], "editor", actor=personas.users["owner"]
    )
    client = personas.client("member")
    assert _add(client, "billing@acme.test").status_code == 403
    assert (
        client.patch(
            project_url("demo", f"members/{member.pk}/"), {"role": "viewer"}, format="json"
        ).status_code
        == 403
    )
    # Not even a project editor manages members: that needs an org owner or admin.
    assert _add(personas.client("viewer"), "billing@acme.test").status_code == 403


def test_a_member_of_another_project_is_a_404_here(project, personas):
    other = make_project(personas.org, personas.users["owner"], "other")
    member = add_project_member(
        other, personas.users["member"], "viewer", actor=personas.users["owner"]
    )
    response = personas.client("admin").delete(project_url("demo", f"members/{member.pk}/"))
    assert response.status_code == 404


# --- widen and narrow, through the API and in SQL ------------------------------------------------


def _tenant_sql(user, statements):
    """Run statements as ``user`` in acme; each returns its rowcount or the error's class."""
    results = []
    with tenant_context(user_id=user.id, org_slug="acme"), connection.cursor() as cursor:
        for statement, params in statements:
            try:
                with transaction.atomic():
                    cursor.execute(statement, params)
                    results.append(cursor.rowcount)
            except DatabaseError as exc:
                results.append(type(exc).__name__)
    return results


def _write_statements(project, file):
    return [
        ("UPDATE projects_projectfile SET size = size WHERE id = %s", [file.pk]),
        (
            "INSERT INTO projects_projectfile"
            " (id, organization_id, project_id, path, size, created_at, updated_at)"
            " VALUES (gen_random_uuid(), %s, %s, 'sql.txt', 0, now(), now())",
            [project.organization_id, project.pk],
        ),
    ]


def test_an_org_viewer_made_project_editor_can_write_there(project, personas):
    file = make_file(project, "a.txt", "v1")
    viewer = personas.users["viewer"]
    elsewhere = make_project(personas.org, personas.users["owner"], "elsewhere")
    add_project_member(project, viewer, "editor", actor=personas.users["owner"])
    client = personas.client("viewer")

    saved = client.patch(project_url("demo", f"files/{file.pk}/"), {"content": "v2"}, format="json")
    created = client.post(project_url("demo", "files/"), {"path": "b.txt"}, format="json")
    not_elsewhere = client.post(project_url("elsewhere", "files/"), {"path": "b"}, format="json")

    assert saved.status_code == 200 and created.status_code == 201
    assert not_elsewhere.status_code == 403
    assert client.get(project_url("demo")).json()["my_role"] == "editor"
    assert revisions(file) == [(1, "v1"), (2, "v2")]
    assert _tenant_sql(viewer, _write_statements(project, file)) == [1, 1]
    other_file = make_file(elsewhere, "x.txt", "x")
    assert _tenant_sql(viewer, _write_statements(elsewhere, other_file))[0] == 0


def test_an_org_member_made_project_viewer_cannot_write_there(project, personas):
    file = make_file(project, "a.txt", "v1")
    member = personas.users["member"]
    add_project_member(project, member, "viewer", actor=personas.users["owner"])
    client = personas.client("member")

    read = client.get(project_url("demo", f"files/{file.pk}/"))
    saved = client.patch(project_url("demo", f"files/{file.pk}/"), {"content": "v2"}, format="json")
    created = client.post(project_url("demo", "files/"), {"path": "b.txt"}, format="json")
    updated = client.patch(project_url("demo"), {"name": "Renamed"}, format="json")

    assert read.status_code == 200
    assert (saved.status_code, created.status_code, updated.status_code) == (403, 403, 403)
    assert client.get(project_url("demo")).json()["my_role"] == "viewer"
    update_rows, insert = _tenant_sql(member, _write_statements(project, file))
    assert update_rows == 0
    assert insert == "ProgrammingError"  # new row violates row-level security policy
    revision_insert = _tenant_sql(
        member,
        [
            (
                "INSERT INTO projects_filerevision (id, organization_id, project_id, file_id,"
                " number, content, sha256, size, message, created_at)"
                " VALUES (gen_random_uuid(), %s, %s, %s, 2, 'x', '', 1, '', now())",
                [project.organization_id, project.pk, file.pk],
            )
        ],
    )
    assert revision_insert == ["ProgrammingError"]
    assert revisions(file) == [(1, "v1")]


def test_a_project_member_row_cannot_be_forged_in_sql_by_a_member(project, personas):
    member = personas.users["member"]
    add_project_member(project, member, "viewer", actor=personas.users["owner"])
    results = _tenant_sql(
        member,
        [
            (
                "UPDATE projects_projectmember SET role = 'editor' WHERE user_id = %s",
                [member.pk],
            )
        ],
    )
    assert results == [0]
    response = personas.client("member").get(project_url("demo"))
    assert response.json()["my_role"] == "viewer"
