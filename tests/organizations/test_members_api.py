"""/api/v1/orgs/{slug}/members/: listing, changing roles, removing, leaving, the last owner."""

from __future__ import annotations

import pytest
from django.db import connection

from organizations.permissions import Role
from organizations.tenancy import tenant_context
from tests.helpers import client_for, make_user
from tests.organizations.support import error_code, org_url, roles_in

pytestmark = pytest.mark.django_db

MEMBERS = org_url("acme", "members/")


def member_url(membership) -> str:
    return f"{MEMBERS}{membership.id}/"


def change_role(client, membership, role: str):
    return client.patch(member_url(membership), {"role": role}, format="json")


# --- listing -------------------------------------------------------------------------


def test_members_list_shows_every_member_with_their_role(personas):
    response = personas.client("viewer").get(MEMBERS)

    assert response.status_code == 200
    assert {(m["user"]["email"], m["role"]) for m in response.json()["results"]} == {
        ("owner@acme.test", "owner"),
        ("admin@acme.test", "admin"),
        ("member@acme.test", "member"),
        ("viewer@acme.test", "viewer"),
        ("billing@acme.test", "billing"),
    }


def test_members_list_filters_by_role(personas):
    response = personas.client("member").get(MEMBERS, {"role": "viewer"})

    assert response.status_code == 200
    assert [m["user"]["email"] for m in response.json()["results"]] == ["viewer@acme.test"]


# --- changing roles ----------------------------------------------------------------


def test_admin_can_make_a_member_a_viewer(personas):
    response = change_role(personas.client("admin"), personas.membership("member"), Role.VIEWER)

    assert response.status_code == 200, response.json()
    assert response.json()["role"] == "viewer"
    assert roles_in(personas.org)["member@acme.test"] == Role.VIEWER


def test_admin_cannot_promote_a_member_to_owner(personas):
    response = change_role(personas.client("admin"), personas.membership("member"), Role.OWNER)

    assert response.status_code == 403
    assert roles_in(personas.org)["member@acme.test"] == Role.MEMBER


def test_admin_cannot_demote_an_owner(personas):
    response = change_role(personas.client("admin"), personas.membership("owner"), Role.MEMBER)

    assert response.status_code == 403
    assert roles_in(personas.org)["owner@acme.test"] == Role.OWNER


def test_owner_can_promote_a_member_to_owner(personas):
    response = change_role(personas.client("owner"), personas.membership("member"), Role.OWNER)

    assert response.status_code == 200, response.json()
    assert roles_in(personas.org)["member@acme.test"] == Role.OWNER


def test_owner_can_demote_another_owner(personas):
    change_role(personas.client("owner"), personas.membership("admin"), Role.OWNER)

    response = change_role(personas.client("owner"), personas.membership("admin"), Role.MEMBER)

    assert response.status_code == 200, response.json()
    assert roles_in(personas.org)["admin@acme.test"] == Role.MEMBER


def test_member_cannot_change_roles(personas):
    response = change_role(personas.client("member"), personas.membership("viewer"), Role.MEMBER)

    assert response.status_code == 403
    assert roles_in(personas.org)["viewer@acme.test"] == Role.VIEWER


def test_changing_to_an_unknown_role_is_a_400(personas):
    response = change_role(personas.client("owner"), personas.membership("member"), "emperor")

    assert response.status_code == 400
    assert "role" in response.json()["error"]["details"]


def test_the_last_owner_cannot_be_demoted(personas):
    response = change_role(personas.client("owner"), personas.membership("owner"), Role.ADMIN)

    assert response.status_code == 409
    assert error_code(response) == "last_owner"
    assert roles_in(personas.org)["owner@acme.test"] == Role.OWNER


# --- removing and leaving ------------------------------------------------------------


def test_admin_can_remove_a_member(personas):
    response = personas.client("admin").delete(member_url(personas.membership("member")))

    assert response.status_code == 204
    assert "member@acme.test" not in roles_in(personas.org)
    assert personas.client("member").get(org_url("acme")).status_code == 404


def test_admin_cannot_remove_an_owner(personas):
    response = personas.client("admin").delete(member_url(personas.membership("owner")))

    assert response.status_code == 403
    assert roles_in(personas.org)["owner@acme.test"] == Role.OWNER


def test_the_last_owner_cannot_be_removed(personas):
    response = personas.client("owner").delete(member_url(personas.membership("owner")))

    assert response.status_code == 409
    assert error_code(response) == "last_owner"
    assert roles_in(personas.org)["owner@acme.test"] == Role.OWNER


def test_a_member_can_leave(personas):
    response = personas.client("member").post(org_url("acme", "members/leave/"))

    assert response.status_code == 204
    assert "member@acme.test" not in roles_in(personas.org)
    assert personas.client("member").get(org_url("acme")).status_code == 404


def test_the_last_owner_cannot_leave(personas):
    response = personas.client("owner").post(org_url("acme", "members/leave/"))

    assert response.status_code == 409
    assert error_code(response) == "last_owner"
    assert roles_in(personas.org)["owner@acme.test"] == Role.OWNER


def test_one_of_two_owners_can_leave(personas):
    change_role(personas.client("owner"), personas.membership("admin"), Role.OWNER)

    response = personas.client("owner").post(org_url("acme", "members/leave/"))

    assert response.status_code == 204
    roles = roles_in(personas.org)
    assert "owner@acme.test" not in roles
    assert roles["admin@acme.test"] == Role.OWNER


def test_a_member_of_another_organization_cannot_touch_acme_memberships(personas):
    response = change_role(personas.client("outsider"), personas.membership("member"), Role.OWNER)

    assert response.status_code == 404
    assert roles_in(personas.org)["member@acme.test"] == Role.MEMBER


# --- the database's own check --------------------------------------------------------


@pytest.mark.parametrize("persona", ["viewer", "billing"])
def test_viewer_and_billing_cannot_write_memberships_even_with_raw_sql(personas, persona):
    user = personas.users[persona]
    with tenant_context(user_id=user.id, org_slug="acme"), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM organizations_membership WHERE organization_id = %s",
            [personas.org.id],
        )
        visible = cursor.fetchone()[0]
        cursor.execute(
            "UPDATE organizations_membership SET role = 'owner' WHERE organization_id = %s",
            [personas.org.id],
        )
        updated = cursor.rowcount

    assert visible == 5  # the rows are there and visible; the policy refuses to write them
    assert updated == 0
    assert roles_in(personas.org)[f"{persona}@acme.test"] == persona


def test_an_admin_can_write_memberships_with_the_same_raw_sql(personas):
    """The control for the test above: the statement does write when the role allows it."""
    admin = personas.users["admin"]
    with tenant_context(user_id=admin.id, org_slug="acme"), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE organizations_membership SET role = 'owner' WHERE organization_id = %s",
            [personas.org.id],
        )
        updated = cursor.rowcount

    assert updated == 5


def test_a_signed_in_non_member_gets_404_for_the_member_list(db, personas):
    response = client_for(make_user("stranger@example.test")).get(MEMBERS)

    assert response.status_code == 404
