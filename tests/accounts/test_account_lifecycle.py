"""Issue 14, acceptance 1: one account's whole life through the API and the emails.

Sign up, verify the address through the link in the email, turn on TOTP, sign
out, sign in with password + TOTP, use a recovery code once (a second use is
refused), reset the password through the emailed link, and find every old
session revoked.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import unquote, urlsplit

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from tests.accounts.support import (
    LOGOUT,
    ME,
    REFRESH,
    SIGNUP,
    TOKEN,
    TOKEN_MFA,
    assert_error,
    bearer,
    enable_totp,
    totp_code,
)
from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db

EMAIL = "lifecycle@example.test"
NEW_PASSWORD = "an-entirely-new-passphrase-8"


def _link(message, path: str) -> str:
    """The link to ``path`` in ``message``, as a path + query on this server."""
    (url,) = [u for u in re.findall(r"https?://\S+", message.body) if path in u]
    assert url.startswith(settings.FRONTEND_URL)
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _post(url: str, body: dict):
    return APIClient().post(url, body, format="json")


def _password_then(code: str) -> dict:
    step = _post(TOKEN, {"email": EMAIL, "password": PASSWORD}).json()
    assert step["mfa_required"] is True and "access" not in step
    return _post(TOKEN_MFA, {"mfa_token": step["mfa_token"], "code": code})


def test_sign_up_verify_mfa_sign_in_recovery_code_reset_revokes_everything(
    django_capture_on_commit_callbacks,
):
    start = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        signed_up = _post(SIGNUP, {"email": EMAIL, "password": PASSWORD, "name": "Life"})
    assert signed_up.status_code == 201, signed_up.content
    first = signed_up.json()
    me = bearer(first["access"])
    assert me.get(ME).json()["email_verified"] is False

    # verify through the page the email links to (GET shows it, POST confirms)
    verify_link = _link(mail.outbox[-1], "/verify-email")
    page = Client()
    assert page.get(verify_link).status_code == 200
    token = unquote(verify_link.split("token=")[1])
    assert page.post("/verify-email", {"token": token}).status_code == 200
    assert me.get(ME).json()["email_verified"] is True

    secret, recovery_codes = enable_totp(me)
    assert me.get(ME).json()["mfa_enabled"] is True

    assert _post(LOGOUT, {"refresh": first["refresh"]}).status_code == 204
    assert_error(me.get(ME), 401, "session_ended")

    with time_machine.travel(start + timedelta(seconds=90), tick=False):
        # password alone is not enough; password + TOTP is
        signed_in = _password_then(totp_code(secret))
        assert signed_in.status_code == 200, signed_in.content
        with_totp = signed_in.json()
        assert bearer(with_totp["access"]).get(ME).status_code == 200

        with_recovery = _password_then(recovery_codes[0])
        assert with_recovery.status_code == 200, with_recovery.content
        assert_error(_password_then(recovery_codes[0]), 400, "mfa_invalid_code")
        with_recovery = with_recovery.json()

        with django_capture_on_commit_callbacks(execute=True):
            assert _post("/api/v1/auth/password-reset/", {"email": EMAIL}).status_code == 202
        reset_link = _link(mail.outbox[-1], "/reset-password")
        assert Client().get(reset_link).status_code == 200
        reset_token = unquote(reset_link.split("token=")[1])
        done = Client().post("/reset-password", {"token": reset_token, "password": NEW_PASSWORD})
        assert done.status_code == 200, done.content.decode()

        for old in (with_totp, with_recovery):
            assert_error(bearer(old["access"]).get(ME), 401, "session_ended")
            assert_error(_post(REFRESH, {"refresh": old["refresh"]}), 401, "session_ended")
        assert_error(
            _post(TOKEN, {"email": EMAIL, "password": PASSWORD}), 401, "invalid_credentials"
        )
        # the new password still needs the second factor
        step = _post(TOKEN, {"email": EMAIL, "password": NEW_PASSWORD}).json()
        assert step["mfa_required"] is True
        again = _post(TOKEN_MFA, {"mfa_token": step["mfa_token"], "code": recovery_codes[1]})
        assert again.status_code == 200, again.content
