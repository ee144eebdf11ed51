"""The signed-in user: GET/PATCH /api/v1/me/ and POST /api/v1/me/password/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Session, User
from audit.models import AuditEvent
from organizations.tenancy import service_context
from tests.accounts.support import ME, PASSWORD_CHANGE, TOKEN, assert_error, bearer, sign_in
from tests.helpers import PASSWORD, client_for, make_user

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-stable-horse-42"


@pytest.fixture
def user():
    return make_user("alice@example.test", name="Alice")


# --- GET /me/ --------------------------------------------------------------------


def test_me_returns_the_profile_and_settings(user):
    response = client_for(user).get(ME)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == str(user.id)
    assert body["email"] == "alice@example.test"
    assert body["name"] == "Alice"
    assert body["is_staff"] is False
    assert body["settings"] == {
        "theme": "system",
        "locale": "en",
        "timezone": "UTC",
        "notifications": {},
    }
    assert "password" not in body


def test_me_anonymous_is_401_in_the_error_shape():
    response = APIClient().get(ME)

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_me_with_a_malformed_bearer_token_is_401_in_the_error_shape():
    response = bearer("this-is-not-a-jwt").get(ME)

    error = assert_error(response, 401, "token_not_valid")
    assert error["message"] == "The access token is invalid or expired."


def test_me_with_an_expired_access_token_is_401(user):
    token = AccessToken(sign_in("alice@example.test")["access"])
    token.set_exp(lifetime=-timedelta(seconds=1))  # re-signed with the real key, but expired

    assert_error(bearer(str(token)).get(ME), 401, "token_not_valid")


def test_me_of_a_disabled_user_is_401(user):
    client = client_for(user)
    User.objects.filter(id=user.id).update(is_active=False)

    assert_error(client.get(ME), 401, "user_inactive")


def test_me_with_a_refresh_token_as_bearer_is_401(user):
    tokens = sign_in("alice@example.test")

    assert_error(bearer(tokens["refresh"]).get(ME), 401)


def test_me_with_a_non_bearer_authorization_header_is_401():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic YWxpY2U6c2VjcmV0")

    assert_error(client.get(ME), 401)


# --- PATCH /me/ ------------------------------------------------------------------


def test_patch_me_updates_profile_and_settings(user):
    changes = {
        "name": "Alice Liddell",
        "avatar_url": "https://cdn.example.test/alice.png",
        "theme": "dark",
        "locale": "fr-CA",
        "timezone": "Europe/Paris",
        "notifications": {"product_updates": False, "security": True},
    }
    client = client_for(user)

    response = client.patch(ME, changes, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"] == "Alice Liddell"
    assert body["avatar_url"] == "https://cdn.example.test/alice.png"
    assert body["settings"] == {
        "theme": "dark",
        "locale": "fr-CA",
        "timezone": "Europe/Paris",
        "notifications": {"product_updates": False, "security": True},
    }
    assert client.get(ME).json() == body  # persisted


def test_patch_me_changes_only_the_fields_sent(user):
    client = client_for(user)

    response = client.patch(ME, {"theme": "light"}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"] == "Alice"
    assert body["settings"]["theme"] == "light"
    assert body["settings"]["timezone"] == "UTC"


def test_patch_me_with_an_unknown_timezone_is_400(user):
    response = client_for(user).patch(ME, {"timezone": "Mars/Olympus_Mons"}, format="json")

    error = assert_error(response, 400, "validation_error")
    assert "timezone" in error["details"]


def test_patch_me_with_an_unknown_field_is_400_and_changes_nothing(user):
    client = client_for(user)

    response = client.patch(ME, {"name": "Root", "is_staff": True}, format="json")

    error = assert_error(response, 400, "validation_error")
    assert "is_staff" in error["details"]
    user.refresh_from_db()
    assert (user.name, user.is_staff) == ("Alice", False)


def test_patch_me_cannot_change_the_email(user):
    response = client_for(user).patch(ME, {"email": "mallory@example.test"}, format="json")

    assert_error(response, 400, "validation_error")
    assert User.objects.get(id=user.id).email == "alice@example.test"


def test_patch_me_with_a_bad_theme_is_400(user):
    response = client_for(user).patch(ME, {"theme": "neon"}, format="json")

    assert "theme" in assert_error(response, 400, "validation_error")["details"]


def test_patch_me_with_a_non_http_avatar_url_is_400(user):
    response = client_for(user).patch(ME, {"avatar_url": "javascript:alert(1)"}, format="json")

    assert "avatar_url" in assert_error(response, 400, "validation_error")["details"]


def test_patch_me_anonymous_is_401():
    assert_error(APIClient().patch(ME, {"name": "Nobody"}, format="json"), 401)


# --- POST /me/password/ -------------------------------------------------------------


def change_password(client: APIClient, current: str = PASSWORD, new: str = NEW_PASSWORD):
    body = {"current_password": current, "new_password": new}
    return client.post(PASSWORD_CHANGE, body, format="json")


def test_password_change_with_a_wrong_current_password_is_400_and_keeps_the_password(user):
    response = change_password(client_for(user), current="not-my-password-7")

    error = assert_error(response, 400, "wrong_password")
    assert "current_password" in error["details"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_password_change_to_a_weak_password_is_400(user):
    response = change_password(client_for(user), new="123")

    assert "new_password" in assert_error(response, 400, "validation_error")["details"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_password_change_succeeds_with_204_and_the_new_password_signs_in(user):
    response = change_password(client_for(user))

    assert response.status_code == 204, response.content
    assert sign_in("alice@example.test", NEW_PASSWORD)["access"]


def test_password_change_keeps_the_current_session_working(user):
    current = sign_in("alice@example.test")
    client = bearer(current["access"])

    assert change_password(client).status_code == 204

    assert client.get(ME).status_code == 200
    assert Session.objects.filter(user=user, revoked_at__isnull=True).count() == 1


def test_password_change_signs_out_the_users_other_sessions(user):
    other = sign_in("alice@example.test")

    assert change_password(bearer(sign_in("alice@example.test")["access"])).status_code == 204

    assert_error(bearer(other["access"]).get(ME), 401)


def test_password_change_leaves_other_users_signed_in(user):
    bob = make_user("bob@example.test")
    bob_client = client_for(bob)

    assert change_password(client_for(user)).status_code == 204

    assert bob_client.get(ME).status_code == 200


def test_after_a_password_change_the_old_password_no_longer_signs_in(user):
    assert change_password(client_for(user)).status_code == 204

    response = APIClient().post(
        TOKEN, {"email": "alice@example.test", "password": PASSWORD}, format="json"
    )

    assert_error(response, 401, "invalid_credentials")


def test_password_change_is_audited(user):
    sign_in("alice@example.test")  # a second session, ended by the change

    assert change_password(client_for(user)).status_code == 204

    with service_context(reason="test: read audit"):
        event = AuditEvent.objects.get(action="user.password_changed")
    assert event.actor_id == user.id
    assert event.changes == {"sessions_ended": 1}
