"""Small helpers for the accounts API tests: URLs, signing in, error-shape checks."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.response import Response
from rest_framework.test import APIClient

from tests.helpers import PASSWORD

SIGNUP = "/api/v1/auth/signup/"
TOKEN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"
LOGOUT = "/api/v1/auth/logout/"
ME = "/api/v1/me/"
PASSWORD_CHANGE = "/api/v1/me/password/"
SESSIONS = "/api/v1/me/sessions/"


def session_url(session_id: Any) -> str:
    return f"{SESSIONS}{session_id}/"


def sign_in(email: str, password: str = PASSWORD) -> dict[str, str]:
    """Sign in through the API; return the token pair."""
    response = APIClient().post(TOKEN, {"email": email, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def assert_error(response: Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is ``status`` in the one error shape (and has ``code``); return the error."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details", "request_id"}, error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["details"], dict), error
    assert error["request_id"] == response["X-Request-ID"], error
    if code is not None:
        assert error["code"] == code, error
    return error


def allowed_requests(scope: str) -> int:
    """How many requests the throttle ``scope`` lets through per period (``"10/min"`` -> 10)."""
    rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope]
    return int(rate.split("/")[0])


MFA_TOTP = "/api/v1/me/mfa/totp/"
MFA_TOTP_CONFIRM = "/api/v1/me/mfa/totp/confirm/"
TOKEN_MFA = "/api/v1/auth/token/mfa/"


def totp_code(secret: str, at: float | None = None) -> str:
    """RFC 6238 (SHA-1, 30 s, 6 digits), written here independently of pyotp."""
    import base64
    import hashlib
    import hmac
    import struct
    import time

    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def enable_totp(client: APIClient) -> tuple[str, list[str]]:
    """Enroll and confirm TOTP for the client's user; return (secret, recovery codes)."""
    start = client.post(MFA_TOTP)
    assert start.status_code == 201, start.content
    secret = start.json()["secret"]
    confirm = client.post(
        MFA_TOTP_CONFIRM, {"code": totp_code(secret), "password": PASSWORD}, format="json"
    )
    assert confirm.status_code == 200, confirm.content
    return secret, confirm.json()["recovery_codes"]
