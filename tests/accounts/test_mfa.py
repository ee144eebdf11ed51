"""TOTP multi-factor authentication: enrollment, sign-in challenge, recovery codes,
replay refusal, throttling, disabling, and organizations that require it."""

from __future__ import annotations

import time

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import RecoveryCode, User
from organizations.models import Organization
from organizations.tenancy import service_context
from tests.accounts.support import (
    ME,
    MFA_TOTP,
    MFA_TOTP_CONFIRM,
    TOKEN,
    TOKEN_MFA,
    assert_error,
    bearer,
    enable_totp,
    totp_code,
)
from tests.helpers import PASSWORD, client_for, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return make_user("alice@example.test")


@pytest.fixture
def alice(user) -> APIClient:
    return client_for(user)


def _password_step() -> str:
    response = APIClient().post(
        TOKEN, {"email": "alice@example.test", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["mfa_required"] is True
    assert "access" not in body and "refresh" not in body
    return body["mfa_token"]


def _mfa(mfa_token: str, code: str):
    return APIClient().post(TOKEN_MFA, {"mfa_token": mfa_token, "code": code}, format="json")


def test_enrollment_answers_a_secret_an_otpauth_uri_and_an_svg_qr_code(alice):
    response = alice.post(MFA_TOTP)

    assert response.status_code == 201, response.content
    body = response.json()
    assert len(body["secret"]) >= 16
    assert body["otpauth_uri"].startswith("otpauth://totp/")
    assert f"secret={body['secret']}" in body["otpauth_uri"]
    assert body["qr_svg"].lstrip().startswith("<svg")
    # not on until confirmed
    assert alice.get(ME).json()["mfa_enabled"] is False


def test_confirming_with_a_wrong_code_is_refused(alice):
    secret = alice.post(MFA_TOTP).json()["secret"]
    wrong = f"{(int(totp_code(secret)) + 1) % 1_000_000:06d}"

    assert_error(
        alice.post(MFA_TOTP_CONFIRM, {"code": wrong, "password": PASSWORD}, format="json"),
        400,
        "mfa_invalid_code",
    )
    assert alice.get(ME).json()["mfa_enabled"] is False


def test_confirming_needs_the_current_password(alice):
    """Issue 17 §2: a stolen access token alone cannot turn MFA on (recent authentication).
    Seen failing before the fix: confirming with the code alone answered 200."""
    secret = alice.post(MFA_TOTP).json()["secret"]

    missing = alice.post(MFA_TOTP_CONFIRM, {"code": totp_code(secret)}, format="json")
    wrong = alice.post(
        MFA_TOTP_CONFIRM, {"code": totp_code(secret), "password": "not-it-at-all"}, format="json"
    )

    assert assert_error(missing, 400, "validation_error")["details"].keys() == {"password"}
    assert assert_error(wrong, 400, "wrong_password")["details"].keys() == {"password"}
    assert alice.get(ME).json()["mfa_enabled"] is False


def test_turning_mfa_on_ends_every_other_session_and_keeps_this_one(alice, user):
    """Seen failing before the fix: the other session still answered 200."""
    elsewhere = client_for(user)
    assert elsewhere.get(ME).status_code == 200

    enable_totp(alice)

    assert_error(elsewhere.get(ME), 401)
    assert alice.get(ME).status_code == 200


def test_confirming_turns_mfa_on_and_shows_ten_recovery_codes_stored_hashed(alice, user):
    _secret, codes = enable_totp(alice)

    assert len(codes) == 10 and len(set(codes)) == 10
    assert alice.get(ME).json()["mfa_enabled"] is True
    with service_context(reason="test: read codes"):
        stored = list(RecoveryCode.objects.filter(user=user).values_list("code_hash", flat=True))
    assert len(stored) == 10
    assert not set(codes) & set(stored)
    assert all(code.replace("-", "") not in h for code in codes for h in stored)


def test_with_mfa_on_the_password_alone_gives_a_challenge_and_no_tokens(alice):
    secret, _ = enable_totp(alice)
    with time_machine.travel(timezone.now() + timezone.timedelta(seconds=60), tick=False):
        mfa_token = _password_step()

        response = _mfa(mfa_token, totp_code(secret))

        assert response.status_code == 200, response.content
        body = response.json()
        assert bearer(body["access"]).get(ME).status_code == 200
    assert body["user"]["mfa_enabled"] is True


def test_a_totp_code_cannot_be_replayed_in_the_same_step(alice):
    secret, _ = enable_totp(alice)
    with time_machine.travel(timezone.now() + timezone.timedelta(seconds=60), tick=False):
        code = totp_code(secret)
        assert _mfa(_password_step(), code).status_code == 200

        replay = _mfa(_password_step(), code)

    assert_error(replay, 400, "mfa_invalid_code")


def test_a_challenge_works_once(alice):
    """Issue 17 §2: an ``mfa_token`` completes one sign-in, not a second one with another
    code. Seen failing before the fix: the second sign-in answered 200."""
    secret, codes = enable_totp(alice)
    mfa_token = _password_step()
    with time_machine.travel(timezone.now() + timezone.timedelta(seconds=60), tick=False):
        assert _mfa(mfa_token, totp_code(secret)).status_code == 200

        again = _mfa(mfa_token, codes[0])

    assert_error(again, 401, "invalid_credentials")
    assert _mfa(_password_step(), codes[0]).status_code == 200  # the code itself was unused


def test_a_code_is_valid_one_step_either_side_and_no_further(alice):
    """Pins the window (issue 17 §6: a mutant widening it to ten steps survived the suite).
    Killed: with ``TOTP_VALID_WINDOW = 10`` the code of two steps ago signs in."""
    secret, _ = enable_totp(alice)
    later = (time.time() // 30 + 20) * 30 + 15  # mid-step, well after enrollment's
    with time_machine.travel(later, tick=False):
        for steps in (-2, 2, -3, 3):
            refused = _mfa(_password_step(), totp_code(secret, at=later + steps * 30))
            assert_error(refused, 400, "mfa_invalid_code")

        assert _mfa(_password_step(), totp_code(secret, at=later - 30)).status_code == 200
        assert _mfa(_password_step(), totp_code(secret, at=later + 30)).status_code == 200


def test_a_recovery_code_works_once(alice):
    _, codes = enable_totp(alice)

    assert _mfa(_password_step(), codes[0]).status_code == 200
    assert_error(_mfa(_password_step(), codes[0]), 400, "mfa_invalid_code")
    assert _mfa(_password_step(), codes[1].upper()).status_code == 200


def test_a_forged_or_expired_challenge_is_refused(alice):
    secret, _ = enable_totp(alice)
    mfa_token = _password_step()

    assert_error(_mfa(mfa_token + "x", totp_code(secret)), 401, "invalid_credentials")
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=6), tick=False):
        assert_error(_mfa(mfa_token, totp_code(secret)), 401, "invalid_credentials")


def test_mfa_attempts_are_throttled(alice):
    secret, _ = enable_totp(alice)
    mfa_token = _password_step()
    statuses = [_mfa(mfa_token, "000000").status_code for _ in range(11)]

    assert statuses[-1] == 429
    assert_error(_mfa(mfa_token, totp_code(secret)), 429, "throttled")


def test_disabling_needs_a_valid_code(alice, user):
    secret, _ = enable_totp(alice)

    assert_error(
        alice.delete(MFA_TOTP, {"code": "12345678"}, format="json"), 400, "mfa_invalid_code"
    )
    with time_machine.travel(timezone.now() + timezone.timedelta(seconds=60), tick=False):
        response = alice.delete(MFA_TOTP, {"code": totp_code(secret)}, format="json")

    assert response.status_code == 204, response.content
    assert User.objects.get(id=user.id).mfa_enabled is False
    assert (
        APIClient()
        .post(TOKEN, {"email": "alice@example.test", "password": PASSWORD}, format="json")
        .json()
        .get("access")
    )


# --- organizations that require MFA ----------------------------------------------------


def _require_mfa(org: Organization) -> None:
    with service_context(reason="test: require mfa"):
        Organization.objects.filter(id=org.id).update(require_mfa=True)


def test_an_org_that_requires_mfa_refuses_members_without_it(personas):
    _require_mfa(personas.org)

    assert_error(personas.client("member").get("/api/v1/orgs/acme/"), 403, "mfa_required")
    assert_error(personas.client("owner").get("/api/v1/orgs/acme/members/"), 403, "mfa_required")
    # other organizations are not affected
    assert personas.client("outsider").get("/api/v1/orgs/globex/").status_code == 200


def test_an_org_that_requires_mfa_admits_members_with_it(personas):
    _require_mfa(personas.org)
    client = personas.client("member")
    enable_totp(client)

    assert client.get("/api/v1/orgs/acme/").status_code == 200


def test_an_org_that_requires_mfa_still_hides_itself_from_outsiders(personas):
    _require_mfa(personas.org)

    assert_error(personas.client("outsider").get("/api/v1/orgs/acme/"), 404)


def test_an_owner_with_mfa_can_require_it_for_the_org(personas):
    owner = personas.client("owner")
    enable_totp(owner)

    response = owner.patch("/api/v1/orgs/acme/", {"require_mfa": True}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["require_mfa"] is True
    assert_error(personas.client("member").get("/api/v1/orgs/acme/"), 403, "mfa_required")


def test_an_owner_without_mfa_cannot_require_it(personas):
    response = personas.client("owner").patch(
        "/api/v1/orgs/acme/", {"require_mfa": True}, format="json"
    )

    assert_error(response, 403, "mfa_required")
    with service_context(reason="test: read org"):
        assert Organization.objects.get(id=personas.org.id).require_mfa is False
