"""/api/v1/orgs/ and /api/v1/orgs/{slug}/: my organizations, creating, renaming, deleting."""

from __future__ import annotations

import pytest
from django.db import connection

from organizations.permissions import Role
from tests.helpers import client_for, make_org, make_user
from tests.organizations.support import (
    ORGS,
    audit_actions,
    error_code,
    invitation_exists,
    make_invitation,
    org_exists,
    org_url,
    roles_in,
)

pytestmark = pytest.mark.django_db


# --- GET/POST /orgs/ ---------------------------------------------------------------


def test_list_shows_only_my_organizations_with_my_role_in_each(personas):
    make_org("initech", {personas.users["admin"]: Role.VIEWER})

    response = personas.client("admin").get(ORGS)

    assert response.status_code == 200
    assert {(o["slug"], o["role"]) for o in response.json()["results"]} == {
        ("acme", "admin"),
        ("initech", "viewer"),
    }


def test_create_makes_the_creator_its_owner(personas):
    creator = personas.users["member"]

    response = client_for(creator).post(ORGS, {"name": "Initech", "slug": "initech"}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["slug"] == "initech"
    mine = client_for(creator).get(ORGS).json()["results"]
    assert {(o["slug"], o["role"]) for o in mine} == {("acme", "member"), ("initech", "owner")}


def test_create_with_a_taken_slug_is_a_409_slug_taken(personas):
    response = personas.client("member").post(
        ORGS, {"name": "Other Globex", "slug": "globex"}, format="json"
    )

    assert response.status_code == 409
    assert error_code(response) == "slug_taken"
    assert roles_in(personas.other_org) == {"owner@globex.test": Role.OWNER}


def test_create_with_a_reserved_slug_is_a_400(personas):
    response = personas.client("member").post(
        ORGS, {"name": "Admin", "slug": "admin"}, format="json"
    )

    assert response.status_code == 400
    assert "slug" in response.json()["error"]["details"]
    assert not org_exists("admin")


def test_create_with_an_unknown_field_is_a_400(personas):
    response = personas.client("member").post(
        ORGS, {"name": "Initech", "slug": "initech", "suspended_at": None}, format="json"
    )

    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert "suspended_at" in response.json()["error"]["details"]
    assert not org_exists("initech")


def test_create_records_org_created_then_member_joined_in_the_new_organization(personas):
    response = personas.client("member").post(
        ORGS, {"name": "Initech", "slug": "initech"}, format="json"
    )

    assert response.status_code == 201
    assert audit_actions(response.json()["id"]) == ["org.created", "member.joined"]


# --- GET/PATCH/DELETE /orgs/{slug}/ ---------------------------------------------------


def test_member_can_see_the_organization(personas):
    response = personas.client("member").get(org_url("acme"))

    assert response.status_code == 200
    assert response.json()["slug"] == "acme"
    assert response.json()["id"] == str(personas.org.id)


def test_admin_can_rename_the_organization(personas):
    response = personas.client("admin").patch(org_url("acme"), {"name": "Acme Ltd"}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["name"] == "Acme Ltd"
    assert personas.client("viewer").get(org_url("acme")).json()["name"] == "Acme Ltd"


@pytest.mark.parametrize("persona", ["member", "viewer"])
def test_member_or_viewer_cannot_rename_the_organization(personas, persona):
    response = personas.client(persona).patch(org_url("acme"), {"name": "Hacked"}, format="json")

    assert response.status_code == 403
    assert personas.client("owner").get(org_url("acme")).json()["name"] == "Acme"


def test_owner_deletes_the_organization_and_its_audit_trail_stays(personas):
    org_id = personas.org.id
    invitation = make_invitation(personas.org, "invitee@example.test")

    response = personas.client("owner").delete(org_url("acme"))

    assert response.status_code == 204
    with connection.cursor() as cursor:  # what COMMIT would check: no row points at nothing
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert not org_exists("acme")
    assert roles_in(personas.org) == {}
    assert not invitation_exists(invitation)
    assert personas.client("owner").get(org_url("acme")).status_code == 404
    assert audit_actions(org_id)[-1] == "org.deleted"


def test_admin_cannot_delete_the_organization(personas):
    response = personas.client("admin").delete(org_url("acme"))

    assert response.status_code == 403
    assert org_exists("acme")


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_outsider_gets_404_for_an_organization_they_are_not_in(personas, method):
    response = getattr(personas.client("outsider"), method)(
        org_url("acme"), {"name": "Mine now"}, format="json"
    )

    assert response.status_code == 404
    assert error_code(response) == "not_found"
    assert org_exists("acme")


def test_a_new_user_without_organizations_gets_an_empty_list(db):
    response = client_for(make_user("lonely@example.test")).get(ORGS)

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_changing_the_slug_to_a_taken_one_is_a_409_slug_taken(personas):
    response = personas.client("owner").patch(org_url("acme"), {"slug": "globex"}, format="json")

    assert response.status_code == 409
    assert error_code(response) == "slug_taken"
    assert org_exists("acme")
