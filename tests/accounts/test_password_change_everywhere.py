"""Issue 10, finding 3: a password change from any path ends every session of the
user at once (old access and refresh tokens stop working) and writes
``user.password_changed``: the admin's password form, the API, ``manage.py
changepassword``, a plain ``set_password()`` + ``save()`` (a shell)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Session, User
from audit.models import AuditEvent
from organizations.tenancy import service_context
from tests.accounts.support import ME, PASSWORD_CHANGE, REFRESH, assert_error, bearer, sign_in
from tests.helpers import PASSWORD, make_user

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-passphrase-42"


@pytest.fixture
def user():
    return make_user("alice@example.test")


def _assert_signed_out(tokens: dict[str, str]) -> None:
    assert_error(bearer(tokens["access"]).get(ME), 401, "session_ended")
    assert_error(
        APIClient().post(REFRESH, {"refresh": tokens["refresh"]}, format="json"),
        401,
        "session_ended",
    )


def _password_events(user: User) -> list[AuditEvent]:
    with service_context(reason="test: read audit"):
        return list(
            AuditEvent.objects.filter(action="user.password_changed", target_id=str(user.id))
        )


def test_the_admin_password_form_ends_every_session_and_audits_the_staff_member(user):
    tokens = [sign_in("alice@example.test"), sign_in("alice@example.test")]
    staff = make_user("staff@example.test", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)

    response = client.post(
        f"/admin/accounts/user/{user.id}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    assert User.objects.get(id=user.id).check_password(NEW_PASSWORD)
    for pair in tokens:
        _assert_signed_out(pair)
    (event,) = _password_events(user)
    assert event.actor_id == staff.id
    assert event.changes == {"sessions_ended": 2}


def test_manage_py_changepassword_ends_every_session(user, monkeypatch):
    tokens = sign_in("alice@example.test")
    monkeypatch.setattr(
        "django.contrib.auth.management.commands.changepassword.getpass.getpass",
        lambda prompt="": NEW_PASSWORD,
    )

    call_command("changepassword", "alice@example.test")

    assert User.objects.get(id=user.id).check_password(NEW_PASSWORD)
    _assert_signed_out(tokens)
    (event,) = _password_events(user)
    assert event.changes == {"sessions_ended": 1}


def test_set_password_and_save_in_a_shell_ends_every_session(user):
    tokens = sign_in("alice@example.test")

    user.set_password(NEW_PASSWORD)
    user.save()

    _assert_signed_out(tokens)
    assert len(_password_events(user)) == 1


def test_the_api_password_change_ends_the_other_sessions_and_keeps_this_one(user):
    mine, other = sign_in("alice@example.test"), sign_in("alice@example.test")

    response = bearer(mine["access"]).post(
        PASSWORD_CHANGE,
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
    )

    assert response.status_code == 204, response.content
    _assert_signed_out(other)
    assert bearer(mine["access"]).get(ME).status_code == 200
    (event,) = _password_events(user)
    assert event.actor_id == user.id
    assert event.changes == {"sessions_ended": 1}


def test_saving_a_user_without_a_new_password_ends_nothing(user):
    tokens = sign_in("alice@example.test")

    user.name = "Alice"
    user.save()
    user.check_password(PASSWORD)  # may rehash; not a change of password

    assert bearer(tokens["access"]).get(ME).status_code == 200
    assert Session.objects.filter(user=user, revoked_at__isnull=True).count() == 1
    assert _password_events(user) == []


@pytest.mark.django_db
def test_a_password_is_never_stored_without_its_sessions_hook(monkeypatch):
    """SECURITY: User.save fails closed if nothing is registered to end the sessions
    (the hook point replaced a models -> services import; AccountsConfig.ready fills it)."""
    from django.core.exceptions import ImproperlyConfigured

    from accounts import models as account_models

    user = make_user("hookless@example.test")
    old_hash = user.password
    monkeypatch.setattr(account_models, "PASSWORD_CHANGED", [])
    user.set_password("a-new-password-1234")
    with pytest.raises(ImproperlyConfigured):
        user.save()
    user.refresh_from_db()
    assert user.password == old_hash
