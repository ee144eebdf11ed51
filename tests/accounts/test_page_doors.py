"""The pages that email links open are doors like the API (issue 17 §2): the invitation
page signs in only the invitee, throttles and audits refused sign-ins in the API's
buckets, spends a TOTP code for good; the reset page sends no more mail than the API.

Each test here was seen failing on 15e4145's ``accounts/pages.py``.
"""

from __future__ import annotations

import copy
import re
import time

import pytest
import time_machine
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from accounts.pages import SIGN_IN_REFUSED
from audit.models import AuditEvent
from organizations.models import Invitation
from organizations.tenancy import service_context
from tests.accounts.support import (
    TOKEN,
    TOKEN_MFA,
    allowed_requests,
    assert_error,
    enable_totp,
    totp_code,
)
from tests.helpers import PASSWORD, client_for, make_user
from tests.organizations.support import make_invitation, mint_token, reload_invitation, roles_in

pytestmark = pytest.mark.django_db

PAGE = "/invitations/accept"
RESET_PAGE = "/reset-password"
RESET_API = "/api/v1/auth/password-reset/"
WRONG = "wrong-password-1"
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')


def _rates(settings, **rates: str) -> None:
    config = copy.deepcopy(settings.REST_FRAMEWORK)
    config["DEFAULT_THROTTLE_RATES"] |= rates
    settings.REST_FRAMEWORK = config


def _failures() -> list[dict]:
    with service_context(reason="test: read audit"):
        return [
            e.changes
            for e in AuditEvent.objects.filter(action="user.login_failed").order_by("sequence")
        ]


def _body(response) -> str:
    return _CSRF.sub("", response.content.decode())


@pytest.fixture
def invited(personas):
    """An existing account invited to Acme, the invitation's token, and another account."""
    invitee = make_user("invitee@example.test")
    make_user("mallory@example.test")
    invitation = make_invitation(personas.org, "invitee@example.test", role="member")
    return invitee, invitation, mint_token(invitation)


def _sign_in(token: str, email: str, password: str, code: str = "", **client: str):
    return Client(**client).post(
        PAGE,
        {"token": token, "action": "signin", "email": email, "password": password, "code": code},
    )


def test_another_accounts_right_password_gets_the_wrong_password_answer(personas, invited):
    _invitee, invitation, token = invited

    wrong = _sign_in(token, "invitee@example.test", WRONG)
    other = _sign_in(token, "mallory@example.test", PASSWORD)

    assert wrong.status_code == other.status_code == 400
    assert SIGN_IN_REFUSED in other.content.decode()
    assert _body(other) == _body(wrong)
    assert "mallory@example.test" not in roles_in(personas.org)
    assert reload_invitation(invitation).status == Invitation.Status.PENDING
    assert [(f["email"], f["reason"], f["via"]) for f in _failures()] == [
        ("invitee@example.test", "invalid_credentials", "page"),
        ("mallory@example.test", "not_invitee", "page"),
    ]


def test_the_invitee_signs_in_and_joins(personas, invited):
    _invitee, _invitation, token = invited

    done = _sign_in(token, "INVITEE@example.test ", PASSWORD)

    assert done.status_code == 200, done.content.decode()
    assert roles_in(personas.org)["invitee@example.test"] == "member"


def test_wrong_passwords_on_the_page_and_the_api_share_one_per_address_throttle(settings, invited):
    _rates(settings, login="4/min")
    _invitee, _invitation, token = invited
    for _ in range(2):
        assert _sign_in(token, "invitee@example.test", WRONG).status_code == 400
        api = APIClient().post(
            TOKEN, {"email": "invitee@example.test", "password": WRONG}, format="json"
        )
        assert api.status_code == 401

    refused = _sign_in(token, "invitee@example.test", PASSWORD)

    assert refused.status_code == 429
    assert refused["Retry-After"].isdigit()
    assert "Too many attempts" in refused.content.decode()
    assert "Join Acme" in refused.content.decode()  # the page, not an API error
    assert_error(
        APIClient().post(
            TOKEN, {"email": "invitee@example.test", "password": PASSWORD}, format="json"
        ),
        429,
        "throttled",
    )
    assert len(_failures()) == 4


def test_the_page_is_throttled_per_account_across_addresses(settings, invited):
    _rates(settings, login_account="3/hour")
    _invitee, _invitation, token = invited
    for n in range(3):
        wrong = _sign_in(token, "invitee@example.test", WRONG, REMOTE_ADDR=f"127.0.0.{n + 1}")
        assert wrong.status_code == 400

    refused = _sign_in(token, " Invitee@Example.test", PASSWORD, REMOTE_ADDR="127.0.0.99")

    assert refused.status_code == 429


@pytest.fixture
def invitee_with_mfa(invited):
    invitee, _invitation, token = invited
    secret, _codes = enable_totp(client_for(invitee))
    return invitee, token, secret


def _later() -> float:
    """Mid-step, well after the step whose code confirmed the enrollment."""
    return (time.time() // 30 + 10) * 30 + 15


def test_the_right_password_with_a_missing_or_wrong_code_gets_the_wrong_password_answer(
    invitee_with_mfa,
):
    _invitee, token, secret = invitee_with_mfa
    with time_machine.travel(_later(), tick=False):
        wrong_password = _sign_in(token, "invitee@example.test", WRONG, totp_code(secret))
        missing = _sign_in(token, "invitee@example.test", PASSWORD)
        wrong = _sign_in(token, "invitee@example.test", PASSWORD, "000000")

    assert wrong_password.status_code == missing.status_code == wrong.status_code == 400
    assert _body(missing) == _body(wrong) == _body(wrong_password)
    assert [f["reason"] for f in _failures()] == [
        "invalid_credentials",
        "mfa_invalid_code",
        "mfa_invalid_code",
    ]


def test_wrong_codes_on_the_page_use_up_the_apis_mfa_allowance(
    settings, personas, invitee_with_mfa
):
    _rates(settings, mfa="3/min")
    _invitee, token, secret = invitee_with_mfa
    with time_machine.travel(_later(), tick=False):
        for _ in range(3):
            assert _sign_in(token, "invitee@example.test", PASSWORD, "000000").status_code == 400
        # The right code is not even checked now (so not spent either), and the
        # answer is the wrong-password one: a 429 would say the password was right.
        right = _sign_in(token, "invitee@example.test", PASSWORD, totp_code(secret))
        challenge = (
            APIClient()
            .post(TOKEN, {"email": "invitee@example.test", "password": PASSWORD}, format="json")
            .json()["mfa_token"]
        )
        api = APIClient().post(
            TOKEN_MFA, {"mfa_token": challenge, "code": totp_code(secret)}, format="json"
        )

    assert right.status_code == 400 and SIGN_IN_REFUSED in right.content.decode()
    assert_error(api, 429, "throttled")
    assert [f["reason"] for f in _failures()][-1] == "mfa_throttled"
    assert "invitee@example.test" not in roles_in(personas.org)


def test_a_code_checked_on_the_page_is_spent_although_the_page_fails(settings, invitee_with_mfa):
    """The page accepts nothing (unverified addresses may not accept invitations) after
    the code was checked: the code stays spent, and the API refuses it."""
    settings.UNVERIFIED_EMAIL_BLOCKS = ["invitation.accept"]
    _invitee, token, secret = invitee_with_mfa
    with time_machine.travel(_later(), tick=False):
        code = totp_code(secret)
        page = _sign_in(token, "invitee@example.test", PASSWORD, code)
        challenge = (
            APIClient()
            .post(TOKEN, {"email": "invitee@example.test", "password": PASSWORD}, format="json")
            .json()["mfa_token"]
        )
        replay = APIClient().post(TOKEN_MFA, {"mfa_token": challenge, "code": code}, format="json")

    assert page.status_code == 400
    assert "Verify your email address first" in page.content.decode()
    assert_error(replay, 400, "mfa_invalid_code")


# --- the reset page -----------------------------------------------------------------


def test_the_reset_page_sends_no_more_emails_than_the_api_allows(
    settings, django_capture_on_commit_callbacks
):
    make_user("alice@example.test")
    allowed = allowed_requests("password_reset_account")
    statuses = []
    with django_capture_on_commit_callbacks(execute=True):
        APIClient().post(RESET_API, {"email": "alice@example.test"}, format="json")
        for n in range(allowed + 5):
            response = Client(REMOTE_ADDR=f"127.0.1.{n + 1}").post(
                RESET_PAGE, {"email": "Alice@example.test"}
            )
            statuses.append(response.status_code)

    assert statuses[: allowed - 1] == [200] * (allowed - 1)
    assert set(statuses[allowed - 1 :]) == {429}
    assert len(mail.outbox) == allowed == 3


def test_the_reset_page_is_throttled_per_address(settings):
    _rates(settings, password_reset="2/hour")
    client = Client()
    statuses = [
        client.post(RESET_PAGE, {"email": f"n{n}@example.test"}).status_code for n in range(3)
    ]

    assert statuses == [200, 200, 429]
