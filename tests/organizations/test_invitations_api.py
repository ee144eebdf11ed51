"""/api/v1/orgs/{slug}/invitations/ and /api/v1/invitations/accept/."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from organizations.permissions import Role
from tests.helpers import client_for, make_user
from tests.organizations.support import (
    ACCEPT,
    audit_actions,
    error_code,
    make_invitation,
    mint_token,
    org_url,
    reload_invitation,
    roles_in,
)

pytestmark = pytest.mark.django_db

INVITATIONS = org_url("acme", "invitations/")


def invitation_url(invitation, rest: str = "") -> str:
    return f"{INVITATIONS}{invitation.id}/{rest}"


def invite(client, email: str = "newbie@example.test", role: str = Role.MEMBER):
    return client.post(INVITATIONS, {"email": email, "role": role}, format="json")


# --- creating ------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["owner", "admin"])
def test_owner_or_admin_can_invite_someone(personas, persona):
    response = invite(personas.client(persona))

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["email"], body["role"], body["status"]) == (
        "newbie@example.test",
        "member",
        "pending",
    )
    assert body["invited_by"] == f"{persona}@acme.test"
    assert not {"token", "token_hash"} & set(body)
    assert audit_actions(personas.org.id)[-1] == "member.invited"


def test_a_second_open_invitation_for_the_same_address_is_a_409(personas):
    assert invite(personas.client("admin"), "newbie@example.test").status_code == 201

    response = invite(personas.client("owner"), "NewBie@Example.test")

    assert response.status_code == 409
    assert error_code(response) == "invitation_exists"


def test_inviting_an_existing_member_is_a_409(personas):
    response = invite(personas.client("admin"), "Viewer@acme.test")

    assert response.status_code == 409
    assert error_code(response) == "already_member"


def test_admin_cannot_invite_an_owner(personas):
    response = invite(personas.client("admin"), role=Role.OWNER)

    assert response.status_code == 403
    assert personas.client("owner").get(INVITATIONS).json()["results"] == []


def test_owner_can_invite_an_owner(personas):
    response = invite(personas.client("owner"), role=Role.OWNER)

    assert response.status_code == 201
    assert response.json()["role"] == "owner"


def test_member_cannot_invite(personas):
    response = invite(personas.client("member"))

    assert response.status_code == 403
    assert personas.client("owner").get(INVITATIONS).json()["results"] == []


def test_inviting_with_an_unknown_field_is_a_400(personas):
    response = personas.client("admin").post(
        INVITATIONS, {"email": "newbie@example.test", "expires_at": "2099-01-01"}, format="json"
    )

    assert response.status_code == 400
    assert "expires_at" in response.json()["error"]["details"]


# --- listing -------------------------------------------------------------------------


def test_list_with_pending_true_shows_only_pending_invitations(personas):
    now = timezone.now()
    make_invitation(personas.org, "pending@example.test")
    make_invitation(personas.org, "revoked@example.test", revoked_at=now)
    make_invitation(personas.org, "accepted@example.test", accepted_at=now)
    make_invitation(personas.org, "expired@example.test", expires_in=timezone.timedelta(hours=-1))

    response = personas.client("admin").get(INVITATIONS, {"pending": "true"})

    assert response.status_code == 200
    assert [i["email"] for i in response.json()["results"]] == ["pending@example.test"]


def test_list_with_pending_false_shows_the_closed_and_expired_ones(personas):
    now = timezone.now()
    make_invitation(personas.org, "pending@example.test")
    make_invitation(personas.org, "revoked@example.test", revoked_at=now)
    make_invitation(personas.org, "expired@example.test", expires_in=timezone.timedelta(hours=-1))

    response = personas.client("admin").get(INVITATIONS, {"pending": "false"})

    assert {(i["email"], i["status"]) for i in response.json()["results"]} == {
        ("revoked@example.test", "revoked"),
        ("expired@example.test", "expired"),
    }


def test_member_cannot_list_invitations(personas):
    make_invitation(personas.org, "pending@example.test")

    response = personas.client("member").get(INVITATIONS)

    assert response.status_code == 403


# --- resending and revoking ---------------------------------------------------------------


def test_resend_restarts_the_expiry_clock(personas):
    invitation = make_invitation(
        personas.org, "late@example.test", expires_in=timezone.timedelta(hours=-1)
    )

    response = personas.client("admin").post(invitation_url(invitation, "resend/"))

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "pending"
    assert parse_datetime(response.json()["expires_at"]) > timezone.now() + timezone.timedelta(
        days=6
    )
    assert reload_invitation(invitation).expires_at > invitation.expires_at


def test_revoke_marks_the_invitation_revoked(personas):
    invitation = make_invitation(personas.org, "newbie@example.test")

    response = personas.client("admin").delete(invitation_url(invitation))

    assert response.status_code == 200
    assert response.json()["status"] == "revoked"
    assert reload_invitation(invitation).revoked_at is not None


def test_a_revoked_invitation_cannot_be_resent(personas):
    invitation = make_invitation(personas.org, "newbie@example.test")
    personas.client("admin").delete(invitation_url(invitation))

    response = personas.client("admin").post(invitation_url(invitation, "resend/"))

    assert response.status_code == 409
    assert error_code(response) == "invitation_closed"
    assert reload_invitation(invitation).status == "revoked"


def test_an_outsider_cannot_revoke_acme_invitations(personas):
    invitation = make_invitation(personas.org, "newbie@example.test")

    response = personas.client("outsider").delete(invitation_url(invitation))

    assert response.status_code == 404
    assert reload_invitation(invitation).revoked_at is None


# --- accepting -----------------------------------------------------------------------


@pytest.fixture
def newbie(db):
    return make_user("newbie@example.test")


def accept(user, token: str):
    return client_for(user).post(ACCEPT, {"token": token}, format="json")


def test_accepting_joins_the_organization_with_the_invited_role(personas, newbie):
    token = mint_token(make_invitation(personas.org, "newbie@example.test", role=Role.VIEWER))

    response = accept(newbie, token)

    assert response.status_code == 201, response.json()
    assert (response.json()["slug"], response.json()["role"]) == ("acme", "viewer")
    assert roles_in(personas.org)["newbie@example.test"] == Role.VIEWER
    assert audit_actions(personas.org.id)[-1] == "member.joined"


def test_accepting_someone_elses_invitation_is_a_403(personas):
    token = mint_token(make_invitation(personas.org, "newbie@example.test"))

    response = accept(make_user("eve@example.test"), token)

    assert response.status_code == 403
    assert error_code(response) == "invitation_email_mismatch"
    assert "eve@example.test" not in roles_in(personas.org)


def test_accepting_an_expired_invitation_is_a_400(personas, newbie):
    invitation = make_invitation(
        personas.org, "newbie@example.test", expires_in=timezone.timedelta(minutes=-1)
    )
    token = mint_token(invitation)

    response = accept(newbie, token)

    assert response.status_code == 400
    assert error_code(response) == "invitation_expired"
    assert "newbie@example.test" not in roles_in(personas.org)


def test_accepting_a_revoked_invitation_is_a_404(personas, newbie):
    invitation = make_invitation(personas.org, "newbie@example.test")
    token = mint_token(invitation)
    personas.client("admin").delete(invitation_url(invitation))

    response = accept(newbie, token)

    assert response.status_code == 404
    assert error_code(response) == "invitation_invalid"
    assert "newbie@example.test" not in roles_in(personas.org)


def test_accepting_a_garbage_token_is_a_404(personas, newbie):
    make_invitation(personas.org, "newbie@example.test")  # no token minted: token_hash is ""

    response = accept(newbie, "not-a-token")

    assert response.status_code == 404
    assert error_code(response) == "invitation_invalid"


def test_accepting_the_same_invitation_twice_is_a_409(personas, newbie):
    token = mint_token(make_invitation(personas.org, "newbie@example.test"))
    assert accept(newbie, token).status_code == 201

    response = accept(newbie, token)

    assert response.status_code == 409
    assert error_code(response) == "invitation_closed"


def test_a_resent_invitations_old_link_stops_working(personas, newbie):
    invitation = make_invitation(personas.org, "newbie@example.test")
    old_token = mint_token(invitation)
    new_token = mint_token(invitation)

    assert accept(newbie, old_token).status_code == 404
    assert accept(newbie, new_token).status_code == 201


def test_accepting_without_signing_in_is_a_401(personas):
    token = mint_token(make_invitation(personas.org, "newbie@example.test"))

    response = client_for(None).post(ACCEPT, {"token": token}, format="json")

    assert response.status_code == 401
