"""Sign-in protection (issue 10, finding 2): throttles that a client cannot dodge by
writing its own ``X-Forwarded-For``, a per-account throttle, the same for
``/admin/login/``, and every refused sign-in audited without the password."""

from __future__ import annotations

import copy

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Session
from audit.models import AuditEvent
from organizations.tenancy import service_context
from tests.accounts.support import TOKEN, allowed_requests, assert_error
from tests.helpers import PASSWORD, make_user

pytestmark = pytest.mark.django_db

WRONG = "wrong-password-1"
ADMIN_LOGIN = "/admin/login/"


@pytest.fixture
def user():
    return make_user("alice@example.test")


@pytest.fixture
def staff():
    return make_user("staff@example.test", is_staff=True, is_superuser=True)


def _events(action: str) -> list[AuditEvent]:
    with service_context(reason="test: read audit"):
        return list(AuditEvent.objects.filter(action=action).order_by("sequence"))


def _rates(settings, **rates: str) -> None:
    config = copy.deepcopy(settings.REST_FRAMEWORK)
    config["DEFAULT_THROTTLE_RATES"] |= rates
    settings.REST_FRAMEWORK = config


# --- the API ----------------------------------------------------------------------


def test_rotating_x_forwarded_for_does_not_escape_the_sign_in_throttle(user):
    client = APIClient()
    for attempt in range(allowed_requests("login")):
        response = client.post(
            TOKEN,
            {"email": "alice@example.test", "password": WRONG},
            format="json",
            HTTP_X_FORWARDED_FOR=f"127.0.{attempt}.{attempt + 1}",
        )
        assert response.status_code == 401, response.content

    response = client.post(
        TOKEN,
        {"email": "alice@example.test", "password": PASSWORD},
        format="json",
        HTTP_X_FORWARDED_FOR="127.0.99.99",
    )

    assert_error(response, 429, "throttled")
    assert not Session.objects.filter(user=user).exists()


def test_behind_one_trusted_proxy_only_the_address_it_appended_counts(user, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    config = copy.deepcopy(settings.REST_FRAMEWORK)
    config["NUM_PROXIES"] = 1
    settings.REST_FRAMEWORK = config
    client = APIClient()
    for attempt in range(allowed_requests("login")):
        # the client writes the left part; our proxy appends the real address
        client.post(
            TOKEN,
            {"email": "alice@example.test", "password": WRONG},
            format="json",
            HTTP_X_FORWARDED_FOR=f"127.0.{attempt}.1, 127.0.0.7",
        )

    response = client.post(
        TOKEN,
        {"email": "alice@example.test", "password": PASSWORD},
        format="json",
        HTTP_X_FORWARDED_FOR="127.0.200.1, 127.0.0.7",
    )

    assert_error(response, 429, "throttled")
    failed = _events("user.login_failed")
    assert {event.ip_address for event in failed} == {"127.0.0.7"}


def test_sign_in_is_throttled_per_account_across_addresses(user, settings):
    _rates(settings, login_account="3/hour")
    client = APIClient()
    for attempt, email in enumerate(
        ["alice@example.test", "ALICE@Example.test", " alice@example.test"]
    ):
        response = client.post(
            TOKEN,
            {"email": email, "password": WRONG},
            format="json",
            REMOTE_ADDR=f"127.0.1.{attempt + 1}",
        )
        assert response.status_code == 401, response.content

    response = client.post(
        TOKEN,
        {"email": "alice@example.test", "password": PASSWORD},
        format="json",
        REMOTE_ADDR="127.0.1.50",
    )

    assert_error(response, 429, "throttled")
    # another account from the same addresses is not affected
    make_user("bob@example.test")
    other = client.post(
        TOKEN,
        {"email": "bob@example.test", "password": PASSWORD},
        format="json",
        REMOTE_ADDR="127.0.1.51",
    )
    assert other.status_code == 200, other.content


def test_a_failed_api_sign_in_is_audited_without_the_password(user):
    APIClient().post(TOKEN, {"email": "Alice@Example.test", "password": WRONG}, format="json")
    APIClient().post(TOKEN, {"email": "nobody@example.test", "password": WRONG}, format="json")

    known, unknown = _events("user.login_failed")
    assert known.target_id == str(user.id)
    assert known.changes == {
        "email": "alice@example.test",
        "reason": "invalid_credentials",
        "via": "api",
    }
    assert unknown.target_id == ""
    assert unknown.changes["email"] == "nobody@example.test"
    for event in (known, unknown):
        assert WRONG not in repr(event.__dict__)


# --- /admin/login/ -------------------------------------------------------------------------


def _admin_login(client: Client, email: str, password: str, **extra: str):
    return client.post(
        ADMIN_LOGIN,
        {"username": email, "password": password, "next": "/admin/"},
        **extra,
    )


def test_admin_login_is_throttled_per_address_whatever_x_forwarded_for_says(staff, settings):
    settings.ADMIN_LOGIN_RATE = "5/min"
    client = Client()
    for attempt in range(5):
        response = _admin_login(
            client, "staff@example.test", WRONG, HTTP_X_FORWARDED_FOR=f"127.0.{attempt}.9"
        )
        assert response.status_code == 200  # the form again, with an error

    response = _admin_login(
        client, "staff@example.test", PASSWORD, HTTP_X_FORWARDED_FOR="127.9.9.9"
    )

    assert response.status_code == 200
    assert "Too many sign-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_admin_login_is_throttled_per_account_across_addresses(staff, settings):
    settings.ADMIN_LOGIN_ACCOUNT_RATE = "3/hour"
    client = Client()
    for attempt in range(3):
        _admin_login(client, "staff@example.test", WRONG, REMOTE_ADDR=f"127.0.2.{attempt + 1}")

    response = _admin_login(client, "STAFF@example.test", PASSWORD, REMOTE_ADDR="127.0.2.99")

    assert "Too many sign-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_admin_login_with_the_right_password_signs_in(staff):
    client = Client()

    response = _admin_login(client, "staff@example.test", PASSWORD)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert client.session["_auth_user_id"] == str(staff.id)


def test_a_failed_admin_login_is_audited_without_the_password(staff):
    _admin_login(Client(), "staff@example.test", WRONG)

    (event,) = _events("user.login_failed")
    assert event.target_id == str(staff.id)
    assert event.changes == {
        "email": "staff@example.test",
        "reason": "invalid_credentials",
        "via": "admin",
    }
    assert WRONG not in repr(event.__dict__)


# --- two-factor for /admin/ -----------------------------------------------------------------


def _staff_with_totp(staff) -> str:
    from tests.accounts.support import enable_totp
    from tests.helpers import client_for

    secret, _codes = enable_totp(client_for(staff))
    return secret


def _admin_login_with_code(client: Client, password: str, code: str):
    return client.post(
        ADMIN_LOGIN,
        {
            "username": "staff@example.test",
            "password": password,
            "otp_code": code,
            "next": "/admin/",
        },
    )


def test_admin_login_of_staff_with_mfa_needs_the_code(staff):
    import time_machine
    from django.utils import timezone

    from tests.accounts.support import totp_code

    secret = _staff_with_totp(staff)
    with time_machine.travel(timezone.now() + timezone.timedelta(seconds=60), tick=False):
        client = Client()
        without = _admin_login_with_code(client, PASSWORD, "")
        assert "_auth_user_id" not in client.session
        assert "authentication code is wrong" in without.content.decode()

        response = _admin_login_with_code(client, PASSWORD, totp_code(secret))

        assert response.status_code == 302, response.content.decode()[:2000]
        assert client.session["_auth_user_id"] == str(staff.id)


def test_admin_require_mfa_refuses_staff_without_mfa(staff, settings):
    settings.ADMIN_REQUIRE_MFA = True
    client = Client()

    response = _admin_login_with_code(client, PASSWORD, "")

    assert "_auth_user_id" not in client.session
    assert "Two-factor authentication is required" in response.content.decode()


def test_the_admin_login_page_has_the_code_field():
    page = Client().get(ADMIN_LOGIN)

    assert page.status_code == 200
    assert 'name="otp_code"' in page.content.decode()


def test_the_audit_trail_records_the_socket_address_by_default(user):
    APIClient().post(
        TOKEN,
        {"email": "alice@example.test", "password": WRONG},
        format="json",
        HTTP_X_FORWARDED_FOR="127.0.0.66",
        REMOTE_ADDR="127.0.0.5",
    )

    (event,) = _events("user.login_failed")
    assert event.ip_address == "127.0.0.5"


def test_a_forwarded_value_that_is_not_an_address_is_ignored(user, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    APIClient().post(
        TOKEN,
        {"email": "alice@example.test", "password": WRONG},
        format="json",
        HTTP_X_FORWARDED_FOR="not-an-address",
        REMOTE_ADDR="127.0.0.5",
    )

    (event,) = _events("user.login_failed")
    assert event.ip_address == "127.0.0.5"
