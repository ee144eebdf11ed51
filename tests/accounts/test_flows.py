"""Password reset, email verification (sign-up and change of address), invitations
for the invitee, and the pages behind the links in those emails."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import unquote

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from audit.models import AuditEvent
from organizations.models import Invitation
from organizations.tenancy import service_context
from tests.accounts.support import ME, REFRESH, assert_error, bearer, sign_in
from tests.helpers import PASSWORD, client_for, make_user
from tests.organizations.support import make_invitation, mint_token, reload_invitation, roles_in

pytestmark = pytest.mark.django_db

RESET = "/api/v1/auth/password-reset/"
RESET_CONFIRM = "/api/v1/auth/password-reset/confirm/"
VERIFY = "/api/v1/auth/verify-email/"
EMAIL_CHANGE = "/api/v1/me/email/"
MY_INVITATIONS = "/api/v1/me/invitations/"
SIGNUP = "/api/v1/auth/signup/"
NEW_PASSWORD = "a-brand-new-passphrase-42"
TOKEN_IN = re.compile(r"\?token=([^\s]+)")


@pytest.fixture
def user():
    return make_user("alice@example.test")


def _post(url: str, body: dict, client: APIClient | None = None):
    return (client or APIClient()).post(url, body, format="json")


def _token(message) -> str:
    return unquote(TOKEN_IN.search(message.body).group(1))


def _actions(action: str) -> list[AuditEvent]:
    with service_context(reason="test: read audit"):
        return list(AuditEvent.objects.filter(action=action))


# --- password reset -------------------------------------------------------------------


def test_password_reset_answers_the_same_for_known_and_unknown_addresses(
    user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        known = _post(RESET, {"email": "alice@example.test"})
        unknown = _post(RESET, {"email": "nobody@example.test"})

    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert [m.to for m in mail.outbox] == [["alice@example.test"]]


def test_password_reset_requests_are_throttled(user):
    statuses = [_post(RESET, {"email": "alice@example.test"}).status_code for _ in range(4)]

    assert statuses == [202, 202, 202, 429]


def test_password_reset_confirm_sets_the_password_and_ends_every_session(
    user, django_capture_on_commit_callbacks
):
    old = [sign_in("alice@example.test"), sign_in("alice@example.test")]
    with django_capture_on_commit_callbacks(execute=True):
        _post(RESET, {"email": "alice@example.test"})
    token = _token(mail.outbox[0])

    response = _post(RESET_CONFIRM, {"token": token, "password": NEW_PASSWORD})

    assert response.status_code == 204, response.content
    for pair in old:
        assert_error(bearer(pair["access"]).get(ME), 401, "session_ended")
        assert_error(_post(REFRESH, {"refresh": pair["refresh"]}), 401, "session_ended")
    assert sign_in("alice@example.test", NEW_PASSWORD)
    (event,) = _actions("user.password_reset")
    assert event.changes == {"sessions_ended": 2}
    assert len(_actions("user.password_changed")) == 1


def test_a_password_reset_token_works_once(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _post(RESET, {"email": "alice@example.test"})
    token = _token(mail.outbox[0])
    assert _post(RESET_CONFIRM, {"token": token, "password": NEW_PASSWORD}).status_code == 204

    again = _post(RESET_CONFIRM, {"token": token, "password": "yet-another-passphrase-7"})

    assert_error(again, 400, "password_reset_invalid")


def test_a_password_reset_token_expires(user, settings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _post(RESET, {"email": "alice@example.test"})
    token = _token(mail.outbox[0])

    with time_machine.travel(
        timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 5)
    ):
        response = _post(RESET_CONFIRM, {"token": token, "password": NEW_PASSWORD})

    assert_error(response, 400, "password_reset_invalid")


def test_password_reset_confirm_applies_the_password_validators(
    user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _post(RESET, {"email": "alice@example.test"})

    response = _post(RESET_CONFIRM, {"token": _token(mail.outbox[0]), "password": "123"})

    assert_error(response, 400)
    assert User.objects.get(id=user.id).check_password(PASSWORD)


def test_a_forged_password_reset_token_is_refused(user):
    assert_error(
        _post(RESET_CONFIRM, {"token": "garbage", "password": NEW_PASSWORD}),
        400,
        "password_reset_invalid",
    )


# --- email verification ------------------------------------------------------------------


def test_sign_up_sends_a_verification_email_and_the_token_verifies(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        signed_up = _post(SIGNUP, {"email": "new@example.test", "password": PASSWORD})
    assert signed_up.status_code == 201
    me = bearer(signed_up.json()["access"])
    assert me.get(ME).json()["email_verified"] is False
    (message,) = mail.outbox
    assert message.to == ["new@example.test"]

    response = _post(VERIFY, {"token": _token(message)})

    assert response.status_code == 200, response.content
    assert me.get(ME).json()["email_verified"] is True
    assert len(_actions("user.email_verified")) == 1


def test_a_forged_verification_token_is_refused():
    assert_error(_post(VERIFY, {"token": "garbage"}), 400, "verification_invalid")


def test_an_email_change_takes_effect_only_when_the_new_address_is_verified(
    user, django_capture_on_commit_callbacks
):
    client = client_for(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(EMAIL_CHANGE, {"email": "alice@new.test", "password": PASSWORD}, client)
    assert response.status_code == 202, response.content
    assert client.get(ME).json()["email"] == "alice@example.test"
    (message,) = mail.outbox
    assert message.to == ["alice@new.test"]

    with django_capture_on_commit_callbacks(execute=True):
        verified = _post(VERIFY, {"token": _token(message)})

    assert verified.status_code == 200, verified.content
    me = client.get(ME).json()
    assert me["email"] == "alice@new.test" and me["email_verified"] is True
    notice = mail.outbox[1]
    assert notice.to == ["alice@example.test"]
    assert "alice@new.test" in notice.body
    # the link cannot be used again, and the old address no longer signs in
    assert_error(_post(VERIFY, {"token": _token(message)}), 400, "verification_invalid")
    assert sign_in("alice@new.test")


def test_an_email_change_needs_the_password_and_a_free_address(user):
    make_user("bob@example.test")
    client = client_for(user)

    assert_error(
        _post(EMAIL_CHANGE, {"email": "x@new.test", "password": "nope-nope-1"}, client),
        400,
        "wrong_password",
    )
    assert_error(
        _post(EMAIL_CHANGE, {"email": "BOB@example.test", "password": PASSWORD}, client),
        409,
        "email_taken",
    )


def test_unverified_users_may_be_blocked_by_the_setting(user, settings):
    settings.UNVERIFIED_EMAIL_BLOCKS = ["organization.create"]
    client = client_for(user)

    blocked = client.post("/api/v1/orgs/", {"name": "Blocked"}, format="json")

    assert_error(blocked, 403, "email_unverified")


def test_by_default_unverified_users_may_create_organizations(user):
    response = client_for(user).post("/api/v1/orgs/", {"name": "Allowed"}, format="json")

    assert response.status_code == 201, response.content


# --- invitations for the invitee ------------------------------------------------------------


def _verified(email: str) -> User:
    user = make_user(email)
    User.objects.filter(id=user.id).update(email_verified_at=timezone.now())
    user.refresh_from_db()
    return user


def test_my_invitations_lists_open_invitations_to_my_verified_address(personas):
    invitee = _verified("invitee@example.test")
    open_one = make_invitation(personas.org, "Invitee@Example.test", role="viewer")
    make_invitation(personas.other_org, "invitee@example.test", revoked_at=timezone.now())
    make_invitation(personas.other_org, "someone@example.test")

    body = client_for(invitee).get(MY_INVITATIONS).json()

    assert [(i["id"], i["role"], i["organization"]["slug"]) for i in body] == [
        (str(open_one.id), "viewer", "acme")
    ]


def test_my_invitations_is_empty_until_my_address_is_verified(personas):
    invitee = make_user("invitee@example.test")
    make_invitation(personas.org, "invitee@example.test")

    assert client_for(invitee).get(MY_INVITATIONS).json() == []


def test_declining_an_invitation_closes_it(personas):
    invitee = _verified("invitee@example.test")
    invitation = make_invitation(personas.org, "invitee@example.test")

    response = client_for(invitee).post(f"{MY_INVITATIONS}{invitation.id}/decline/")

    assert response.status_code == 204, response.content
    assert reload_invitation(invitation).status == Invitation.Status.REVOKED
    assert client_for(invitee).get(MY_INVITATIONS).json() == []
    assert len(_actions("invitation.declined")) == 1


def test_declining_someone_elses_invitation_is_404(personas):
    invitee = _verified("invitee@example.test")
    invitation = make_invitation(personas.org, "other@example.test")

    assert_error(client_for(invitee).post(f"{MY_INVITATIONS}{invitation.id}/decline/"), 404)
    assert reload_invitation(invitation).status == Invitation.Status.PENDING


# --- the pages behind the links ----------------------------------------------------------------


def test_the_invitation_page_shows_the_org_and_role_and_signs_a_newcomer_up(personas):
    invitation = make_invitation(personas.org, "newbie@example.test", role="viewer")
    token = mint_token(invitation)
    url = f"/invitations/accept?token={token}"

    page = Client().get(url)
    assert page.status_code == 200
    assert "Acme" in page.content.decode() and "viewer" in page.content.decode()

    done = Client().post(
        url, {"token": token, "action": "signup", "password": PASSWORD, "name": "N"}
    )

    assert done.status_code == 200, done.content.decode()
    assert roles_in(personas.org)["newbie@example.test"] == "viewer"
    assert User.objects.get(email="newbie@example.test").email_verified


def test_the_invitation_page_lets_an_existing_user_sign_in_and_accept(personas):
    make_user("known@example.test")
    invitation = make_invitation(personas.org, "known@example.test", role="member")
    token = mint_token(invitation)
    url = f"/invitations/accept?token={token}"

    wrong = Client().post(
        url,
        {
            "token": token,
            "action": "signin",
            "email": "known@example.test",
            "password": "nope-nope-1",
        },
    )
    assert wrong.status_code == 400
    done = Client().post(
        url,
        {"token": token, "action": "signin", "email": "known@example.test", "password": PASSWORD},
    )

    assert done.status_code == 200, done.content.decode()
    assert roles_in(personas.org)["known@example.test"] == "member"


def test_the_invitation_page_for_a_bad_token_is_a_404_page():
    response = Client().get("/invitations/accept?token=nope")

    assert response.status_code == 404
    assert "not valid" in response.content.decode()


def test_the_reset_page_sets_a_new_password(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _post(RESET, {"email": "alice@example.test"})
    token = _token(mail.outbox[0])

    assert Client().get(f"/reset-password?token={token}").status_code == 200
    done = Client().post("/reset-password", {"token": token, "password": NEW_PASSWORD})

    assert done.status_code == 200, done.content.decode()
    assert User.objects.get(id=user.id).check_password(NEW_PASSWORD)


def test_the_verify_page_verifies_only_on_post(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _post(SIGNUP, {"email": "new@example.test", "password": PASSWORD})
    token = _token(mail.outbox[0])

    assert Client().get(f"/verify-email?token={token}").status_code == 200
    assert not User.objects.get(email="new@example.test").email_verified
    assert Client().post("/verify-email", {"token": token}).status_code == 200
    assert User.objects.get(email="new@example.test").email_verified
