"""My signed-in devices: GET /api/v1/me/sessions/ and DELETE /api/v1/me/sessions/{id}/."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Session
from tests.accounts.support import (
    ME,
    REFRESH,
    SESSIONS,
    TOKEN,
    assert_error,
    bearer,
    session_url,
    sign_in,
)
from tests.helpers import PASSWORD, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return make_user("alice@example.test")


def open_sessions(client: APIClient) -> list[dict]:
    response = client.get(SESSIONS)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def add_sessions(user, count: int) -> None:
    expires = timezone.now() + timedelta(days=1)
    Session.objects.bulk_create(Session(user=user, expires_at=expires) for _ in range(count))


# --- list ------------------------------------------------------------------------


def test_sessions_lists_open_sessions_with_the_current_one_marked(user):
    laptop = sign_in("alice@example.test")
    sign_in("alice@example.test")  # a phone

    sessions = open_sessions(bearer(laptop["access"]))

    assert len(sessions) == 2
    assert [s["current"] for s in sessions].count(True) == 1
    current = next(s for s in sessions if s["current"])
    assert current["id"] == AccessToken(laptop["access"])["sid"]


def test_sessions_records_the_client_of_each_sign_in(user):
    client = APIClient(HTTP_USER_AGENT="TestBrowser/1.0", REMOTE_ADDR="203.0.113.7")
    body = {"email": "alice@example.test", "password": PASSWORD}
    tokens = client.post(TOKEN, body, format="json").json()

    (session,) = open_sessions(bearer(tokens["access"]))

    assert session["user_agent"] == "TestBrowser/1.0"
    assert session["ip_address"] == "203.0.113.7"


def test_sessions_leaves_out_revoked_and_expired_sessions(user):
    now = timezone.now()
    Session.objects.create(user=user, expires_at=now + timedelta(days=1), revoked_at=now)
    Session.objects.create(user=user, expires_at=now - timedelta(seconds=1))
    tokens = sign_in("alice@example.test")

    sessions = open_sessions(bearer(tokens["access"]))

    assert [s["current"] for s in sessions] == [True]


def test_sessions_lists_only_my_sessions(user):
    bob = make_user("bob@example.test")
    add_sessions(bob, 3)
    tokens = sign_in("alice@example.test")

    sessions = open_sessions(bearer(tokens["access"]))

    assert {Session.objects.get(id=s["id"]).user_id for s in sessions} == {user.id}


def test_sessions_anonymous_is_401():
    assert_error(APIClient().get(SESSIONS), 401, "not_authenticated")


def test_sessions_query_count_does_not_grow_with_the_number_of_sessions(user):
    client = bearer(sign_in("alice@example.test")["access"])

    add_sessions(user, 2)
    with CaptureQueriesContext(connection) as few:
        assert len(open_sessions(client)) == 3
    add_sessions(user, 17)
    with CaptureQueriesContext(connection) as many:
        assert len(open_sessions(client)) == 20

    assert len(many.captured_queries) == len(few.captured_queries)


# --- revoke ----------------------------------------------------------------------


def test_revoking_a_session_is_204_and_its_access_token_then_gets_401(user):
    mine = sign_in("alice@example.test")
    phone = sign_in("alice@example.test")
    client = bearer(mine["access"])
    phone_id = next(s["id"] for s in open_sessions(client) if not s["current"])

    response = client.delete(session_url(phone_id))

    assert response.status_code == 204, response.content
    assert_error(bearer(phone["access"]).get(ME), 401)
    assert client.get(ME).status_code == 200
    assert [s["current"] for s in open_sessions(client)] == [True]


def test_a_revoked_sessions_refresh_token_is_refused(user):
    mine = sign_in("alice@example.test")
    phone = sign_in("alice@example.test")
    client = bearer(mine["access"])
    phone_id = next(s["id"] for s in open_sessions(client) if not s["current"])
    client.delete(session_url(phone_id))

    response = client.post(REFRESH, {"refresh": phone["refresh"]}, format="json")

    assert_error(response, 401, "session_ended")


def test_revoking_the_current_session_signs_me_out(user):
    client = bearer(sign_in("alice@example.test")["access"])
    (current,) = open_sessions(client)

    assert client.delete(session_url(current["id"])).status_code == 204

    assert_error(client.get(ME), 401)


def test_revoking_another_users_session_is_404_and_leaves_it_open(user):
    bob = make_user("bob@example.test")
    bob_tokens = sign_in("bob@example.test")
    bob_session = Session.objects.get(user=bob)
    client = bearer(sign_in("alice@example.test")["access"])

    response = client.delete(session_url(bob_session.id))

    assert_error(response, 404, "not_found")
    bob_session.refresh_from_db()
    assert bob_session.revoked_at is None
    assert bearer(bob_tokens["access"]).get(ME).status_code == 200


def test_revoking_an_unknown_session_is_404(user):
    client = bearer(sign_in("alice@example.test")["access"])

    assert_error(client.delete(session_url(uuid.uuid4())), 404, "not_found")


def test_revoking_an_already_revoked_session_is_404(user):
    client = bearer(sign_in("alice@example.test")["access"])
    sign_in("alice@example.test")
    other_id = next(s["id"] for s in open_sessions(client) if not s["current"])
    assert client.delete(session_url(other_id)).status_code == 204

    assert_error(client.delete(session_url(other_id)), 404, "not_found")
