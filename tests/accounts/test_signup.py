"""POST /api/v1/auth/signup/: create an account (optionally joining an organization) and sign in."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import Session, User
from organizations.models import Membership
from organizations.permissions import Role
from organizations.services import invitation_create, invitation_mint_token
from organizations.tenancy import service_context, tenant_context
from tests.accounts.support import ME, SIGNUP, allowed_requests, assert_error, bearer
from tests.helpers import PASSWORD, make_org, make_user

pytestmark = pytest.mark.django_db


def signup(**body: object):
    return APIClient().post(SIGNUP, {"password": PASSWORD, **body}, format="json")


def test_signup_creates_the_user_and_their_settings_and_returns_a_token_pair():
    response = signup(email="new@example.test", name="New Person")

    assert response.status_code == 201, response.content
    tokens = response.json()
    assert set(tokens) == {"access", "refresh", "access_expires_in", "refresh_expires_in", "user"}
    user = User.objects.get(email="new@example.test")
    assert user.name == "New Person"
    assert user.check_password(PASSWORD)
    assert not user.is_staff
    with tenant_context(user_id=user.id):
        assert user.settings.theme == "system"
    assert Session.objects.filter(user=user, revoked_at__isnull=True).count() == 1
    me = bearer(tokens["access"]).get(ME)
    assert me.status_code == 200
    assert me.json()["email"] == "new@example.test"


def test_signup_lower_cases_the_email():
    response = signup(email="Mixed.Case@Example.TEST")

    assert response.status_code == 201, response.content
    assert list(User.objects.values_list("email", flat=True)) == ["mixed.case@example.test"]


def test_signup_with_an_email_taken_in_another_case_is_409_email_taken():
    assert signup(email="foo@x.test").status_code == 201

    response = signup(email="Foo@X.test")

    error = assert_error(response, 409, "email_taken")
    assert "email" in error["details"]
    assert User.objects.filter(email__iexact="foo@x.test").count() == 1


def test_signup_with_a_weak_password_is_400_with_password_details():
    response = APIClient().post(
        SIGNUP, {"email": "weak@example.test", "password": "12345"}, format="json"
    )

    error = assert_error(response, 400)
    assert error["details"]["password"]
    assert not User.objects.filter(email="weak@example.test").exists()


def test_signup_with_an_unknown_field_is_400_and_creates_no_user():
    response = signup(email="sneaky@example.test", is_staff=True)

    error = assert_error(response, 400, "validation_error")
    assert "is_staff" in error["details"]
    assert not User.objects.filter(email="sneaky@example.test").exists()


def test_signup_with_an_invitation_token_joins_the_organization():
    owner = make_user("owner@acme.test")
    org = make_org("acme", {owner: Role.OWNER})
    with service_context(reason="test: invite"):
        invitation = invitation_create(
            actor=owner,
            actor_role=Role.OWNER,
            organization_id=org.id,
            email="invitee@example.test",
            role=Role.MEMBER,
        )
        token = invitation_mint_token(invitation)

    response = signup(email="Invitee@Example.test", invitation_token=token)

    assert response.status_code == 201, response.content
    user = User.objects.get(email="invitee@example.test")
    with service_context(reason="test: check membership"):
        membership = Membership.objects.get(organization=org, user=user)
        invitation.refresh_from_db()
    assert membership.role == Role.MEMBER
    assert invitation.accepted_by_id == user.id


def test_signup_with_an_invitation_for_another_email_is_403_and_creates_no_user():
    owner = make_user("owner@acme.test")
    org = make_org("acme", {owner: Role.OWNER})
    with service_context(reason="test: invite"):
        invitation = invitation_create(
            actor=owner,
            actor_role=Role.OWNER,
            organization_id=org.id,
            email="invitee@example.test",
            role=Role.MEMBER,
        )
        token = invitation_mint_token(invitation)

    response = signup(email="someone-else@example.test", invitation_token=token)

    assert_error(response, 403, "invitation_email_mismatch")
    assert not User.objects.filter(email="someone-else@example.test").exists()
    with service_context(reason="test: check invitation"):
        invitation.refresh_from_db()
    assert invitation.accepted_at is None


def test_signup_with_an_invalid_invitation_token_creates_no_user():
    response = signup(email="lost@example.test", invitation_token="not-a-real-token")

    assert_error(response, 404, "invitation_invalid")
    assert not User.objects.filter(email="lost@example.test").exists()


def test_signup_is_throttled_per_client():
    make_user("someone@example.test")  # every attempt below is a 409, but counts
    client = APIClient()
    for _ in range(allowed_requests("signup")):
        body = {"email": "someone@example.test", "password": PASSWORD}
        assert client.post(SIGNUP, body, format="json").status_code == 409

    response = client.post(
        SIGNUP, {"email": "late@example.test", "password": PASSWORD}, format="json"
    )

    assert_error(response, 429, "throttled")
    assert not User.objects.filter(email="late@example.test").exists()
