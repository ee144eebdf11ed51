"""Sign-in, refresh-token rotation and logout: /api/v1/auth/token/, token/refresh/, logout/."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIClient

from accounts.models import Session, User
from audit.models import AuditEvent
from organizations.tenancy import service_context
from tests.accounts.support import (
    LOGOUT,
    ME,
    REFRESH,
    TOKEN,
    allowed_requests,
    assert_error,
    bearer,
    sign_in,
)
from tests.helpers import PASSWORD, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return make_user("alice@example.test")


def post(url: str, body: dict) -> Response:
    return APIClient().post(url, body, format="json")


# --- sign in --------------------------------------------------------------------


def test_sign_in_with_email_and_password_returns_a_working_token_pair(user):
    response = post(TOKEN, {"email": "alice@example.test", "password": PASSWORD})

    assert response.status_code == 200, response.content
    tokens = response.json()
    assert set(tokens) == {"access", "refresh", "access_expires_in", "refresh_expires_in", "user"}
    assert bearer(tokens["access"]).get(ME).json()["id"] == str(user.id)


def test_sign_in_email_is_case_insensitive(user):
    response = post(TOKEN, {"email": "ALICE@Example.Test", "password": PASSWORD})

    assert response.status_code == 200, response.content


def test_sign_in_with_a_wrong_password_is_401_invalid_credentials(user):
    response = post(TOKEN, {"email": "alice@example.test", "password": "wrong-password-1"})

    assert_error(response, 401, "invalid_credentials")
    assert not Session.objects.filter(user=user).exists()


def test_sign_in_with_an_unknown_email_is_401_invalid_credentials():
    response = post(TOKEN, {"email": "nobody@example.test", "password": PASSWORD})

    assert_error(response, 401, "invalid_credentials")


def test_sign_in_of_a_disabled_user_with_the_right_password_is_403_account_disabled(user):
    User.objects.filter(id=user.id).update(is_active=False)

    response = post(TOKEN, {"email": "alice@example.test", "password": PASSWORD})

    assert_error(response, 403, "account_disabled")
    assert not Session.objects.filter(user=user).exists()


def test_sign_in_of_a_disabled_user_with_a_wrong_password_does_not_say_it_is_disabled(user):
    User.objects.filter(id=user.id).update(is_active=False)

    response = post(TOKEN, {"email": "alice@example.test", "password": "wrong-password-1"})

    assert_error(response, 401, "invalid_credentials")


def test_sign_in_is_throttled_after_the_login_rate_with_429_in_the_error_shape(user):
    client = APIClient()
    wrong = {"email": "alice@example.test", "password": "wrong-password-1"}
    for _ in range(allowed_requests("login")):
        assert client.post(TOKEN, wrong, format="json").status_code == 401

    right = {"email": "alice@example.test", "password": PASSWORD}
    response = client.post(TOKEN, right, format="json")

    assert_error(response, 429, "throttled")
    assert "Retry-After" in response
    assert not Session.objects.filter(user=user).exists()


def test_sign_in_writes_a_user_signed_in_audit_event(user):
    sign_in("alice@example.test")

    session = Session.objects.get(user=user)
    with service_context(reason="test: read audit"):
        events = list(AuditEvent.objects.filter(action="user.signed_in"))
    assert len(events) == 1
    assert events[0].actor_id == user.id
    assert events[0].target_type == "accounts.session"
    assert events[0].target_id == str(session.id)


def test_each_sign_in_opens_its_own_session(user):
    sign_in("alice@example.test")
    sign_in("alice@example.test")

    assert Session.objects.filter(user=user, revoked_at__isnull=True).count() == 2


# --- refresh ---------------------------------------------------------------------


def test_refresh_rotates_the_pair(user):
    first = sign_in("alice@example.test")

    response = post(REFRESH, {"refresh": first["refresh"]})

    assert response.status_code == 200, response.content
    second = response.json()
    assert set(second) == {"access", "refresh", "access_expires_in", "refresh_expires_in", "user"}
    assert second["refresh"] != first["refresh"]
    assert second["access"] != first["access"]
    assert bearer(second["access"]).get(ME).status_code == 200
    assert post(REFRESH, {"refresh": second["refresh"]}).status_code == 200


def test_refresh_keeps_the_same_session(user):
    first = sign_in("alice@example.test")

    post(REFRESH, {"refresh": first["refresh"]})

    assert Session.objects.filter(user=user).count() == 1


def test_a_used_refresh_token_is_refused_after_the_grace_window(user):
    first = sign_in("alice@example.test")
    with time_machine.travel(timezone.now(), tick=True) as traveller:
        assert post(REFRESH, {"refresh": first["refresh"]}).status_code == 200
        traveller.shift(settings.REFRESH_REUSE_GRACE + timedelta(seconds=1))

        response = post(REFRESH, {"refresh": first["refresh"]})

    assert_error(response, 401, "session_ended")


def test_reusing_a_refresh_token_after_the_grace_window_revokes_the_whole_session(user):
    first = sign_in("alice@example.test")
    with time_machine.travel(timezone.now(), tick=True) as traveller:
        second = post(REFRESH, {"refresh": first["refresh"]}).json()
        traveller.shift(settings.REFRESH_REUSE_GRACE + timedelta(seconds=1))

        post(REFRESH, {"refresh": first["refresh"]})  # replayed: treated as theft

    assert_error(bearer(second["access"]).get(ME), 401)
    assert_error(post(REFRESH, {"refresh": second["refresh"]}), 401, "session_ended")
    assert Session.objects.get(user=user).revoked_at is not None
    with service_context(reason="test: read audit"):
        revoked = AuditEvent.objects.get(action="user.session_revoked")
    assert revoked.changes == {"reason": "refresh token reuse"}


def test_an_access_token_is_refused_as_a_refresh_token(user):
    tokens = sign_in("alice@example.test")

    response = post(REFRESH, {"refresh": tokens["access"]})

    assert_error(response, 401, "token_not_valid")
    assert bearer(tokens["access"]).get(ME).status_code == 200  # nothing was revoked


def test_a_garbage_refresh_token_is_401_token_not_valid():
    response = post(REFRESH, {"refresh": "garbage"})

    assert_error(response, 401, "token_not_valid")


def test_a_refresh_token_with_a_forged_signature_is_refused(user):
    tokens = sign_in("alice@example.test")
    header, payload, signature = tokens["refresh"].split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"

    assert_error(post(REFRESH, {"refresh": forged}), 401, "token_not_valid")


def test_refresh_without_a_token_is_400():
    assert_error(post(REFRESH, {}), 400, "validation_error")


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_of_one_token_both_get_the_same_new_pair():
    """Two tabs refresh at once: neither is signed out, and they share one new pair."""
    make_user("racer@example.test")
    refresh = sign_in("racer@example.test")["refresh"]
    barrier = threading.Barrier(2)
    statuses: list[int] = []
    bodies: list[dict] = []
    errors: list[BaseException] = []

    def refresh_once() -> None:
        client = APIClient()
        try:
            barrier.wait(timeout=10)
            response = client.post(REFRESH, {"refresh": refresh}, format="json")
            statuses.append(response.status_code)
            bodies.append(response.json())
        except BaseException as exc:  # surfaced below: a thread cannot fail the test itself
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=refresh_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors, errors
    assert statuses == [200, 200], bodies
    assert bodies[0]["refresh"] == bodies[1]["refresh"]
    assert bodies[0]["access"] == bodies[1]["access"]
    assert bearer(bodies[0]["access"]).get(ME).status_code == 200
    assert Session.objects.get(user__email="racer@example.test").revoked_at is None
    # the shared new refresh token is itself single-use from here on
    assert post(REFRESH, {"refresh": bodies[0]["refresh"]}).status_code == 200


def test_a_refresh_replayed_within_the_grace_window_answers_the_same_pair(user):
    first = sign_in("alice@example.test")
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        second = post(REFRESH, {"refresh": first["refresh"]}).json()
        traveller.shift(settings.REFRESH_REUSE_GRACE - timedelta(seconds=1))

        again = post(REFRESH, {"refresh": first["refresh"]})

    assert again.status_code == 200, again.content
    assert again.json()["refresh"] == second["refresh"]
    assert again.json()["access"] == second["access"]
    assert Session.objects.get(user=user).revoked_at is None


def test_an_older_refresh_token_is_not_covered_by_the_grace_window(user):
    """Only the token rotated away last gets the grace; one two rotations back is theft."""
    first = sign_in("alice@example.test")
    second = post(REFRESH, {"refresh": first["refresh"]}).json()
    post(REFRESH, {"refresh": second["refresh"]})

    response = post(REFRESH, {"refresh": first["refresh"]})

    assert_error(response, 401, "session_ended")
    assert Session.objects.get(user=user).revoked_at is not None


def test_sign_in_response_carries_lifetimes_and_the_user(user):
    body = post(TOKEN, {"email": "alice@example.test", "password": PASSWORD}).json()

    assert body["access_expires_in"] == 5 * 60
    assert body["refresh_expires_in"] == 14 * 24 * 3600
    assert body["user"]["id"] == str(user.id)
    assert body["user"]["email"] == "alice@example.test"
    assert body["user"]["email_verified"] is False


def test_sign_in_through_the_api_updates_last_login(user):
    assert User.objects.get(id=user.id).last_login is None

    sign_in("alice@example.test")

    assert User.objects.get(id=user.id).last_login is not None


# --- logout ----------------------------------------------------------------------


def test_logout_with_the_refresh_token_is_204(user):
    tokens = sign_in("alice@example.test")

    response = post(LOGOUT, {"refresh": tokens["refresh"]})

    assert response.status_code == 204, response.content
    assert Session.objects.get(user=user).revoked_at is not None


def test_after_logout_the_access_token_of_that_session_is_401(user):
    tokens = sign_in("alice@example.test")
    post(LOGOUT, {"refresh": tokens["refresh"]})

    response = bearer(tokens["access"]).get(ME)

    assert_error(response, 401)


def test_after_logout_the_refresh_token_is_401(user):
    tokens = sign_in("alice@example.test")
    post(LOGOUT, {"refresh": tokens["refresh"]})

    assert_error(post(REFRESH, {"refresh": tokens["refresh"]}), 401, "session_ended")


def test_logout_leaves_other_sessions_signed_in(user):
    mine = sign_in("alice@example.test")
    other = sign_in("alice@example.test")

    post(LOGOUT, {"refresh": mine["refresh"]})

    assert bearer(other["access"]).get(ME).status_code == 200


def test_logging_out_twice_is_401(user):
    tokens = sign_in("alice@example.test")
    assert post(LOGOUT, {"refresh": tokens["refresh"]}).status_code == 204

    response = post(LOGOUT, {"refresh": tokens["refresh"]})

    assert_error(response, 401, "session_ended")


def test_logout_with_an_access_token_is_401_and_ends_nothing(user):
    tokens = sign_in("alice@example.test")

    response = post(LOGOUT, {"refresh": tokens["access"]})

    assert_error(response, 401, "token_not_valid")
    assert bearer(tokens["access"]).get(ME).status_code == 200
