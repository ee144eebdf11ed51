"""TOTP two-factor authentication (RFC 6238: 30 s steps, 6 digits) and recovery codes.

Services, like ``accounts.services``: each write is one transaction with its
audit event. Enrollment: :func:`totp_start` (secret, ``otpauth://`` URI, QR
code as SVG) then :func:`totp_confirm` with a code, which turns MFA on and
answers 10 recovery codes, shown this once; confirming needs the current
password too (a stolen access token alone cannot put the account behind an
attacker's authenticator) and ends every other session of the user. Codes are
single use: a TOTP code is refused in the step it was used in (and in earlier
steps), a recovery code is marked used. A code is valid in its own 30 s step and
one step either side (``TOTP_VALID_WINDOW``), no wider.

A sign-in challenge (``mfa_token``) works once: it names the user's password and
last sign-in, and completing the sign-in moves the latter on.

Recovery codes are stored as HMAC-SHA256 digests keyed by ``SECRET_KEY``: they
are random (60 bits), so a slow password hash would add nothing but the cost
of trying every stored code on each sign-in.
"""

from __future__ import annotations

import hmac
import secrets
import time
from hashlib import sha256
from typing import Any

import pyotp
import segno
from django.conf import settings
from django.core import signing
from django.db import connection, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.models import RecoveryCode, Session, TOTPDevice, User
from audit.services import audit_record
from config.errors import Conflict, DomainError, Invalid
from organizations.tenancy import set_user_claim

RECOVERY_CODE_COUNT = 10
TOTP_STEP_SECONDS = 30
# Steps either side of now whose code is accepted (clock drift, a code typed late).
TOTP_VALID_WINDOW = 1
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_CHALLENGE_SALT = "accounts.mfa-challenge"


class MFAInvalidCode(DomainError):
    status_code = 400
    code = "mfa_invalid_code"


def _totp(device: TOTPDevice) -> pyotp.TOTP:
    # SECURITY: the app role cannot read the column; app.totp_secret answers only
    # for the user claimed by _device().
    with connection.cursor() as cursor:
        cursor.execute("SELECT app.totp_secret(%s)", [device.user_id])
        (secret,) = cursor.fetchone()
    return pyotp.TOTP(secret or "", digits=6, interval=TOTP_STEP_SECONDS)


def _recovery_hash(code: str) -> str:
    normalised = code.replace("-", "").replace(" ", "").strip().lower()
    return hmac.new(
        settings.SECRET_KEY.encode(), f"recovery:{normalised}".encode(), sha256
    ).hexdigest()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def _device(user: User, *, lock: bool = False) -> TOTPDevice | None:
    set_user_claim(user.id)  # the MFA tables are visible to their user only
    devices = TOTPDevice.objects.filter(user=user)
    if lock:
        devices = devices.select_for_update()
    return devices.first()


@transaction.atomic
def totp_start(*, user: User) -> dict[str, str]:
    """Begin enrollment: a fresh secret (replacing an unconfirmed one)."""
    device = _device(user, lock=True)
    if device is not None and device.confirmed_at is not None:
        raise Conflict("Two-factor authentication is already on.", code="mfa_already_enabled")
    secret = pyotp.random_base32(length=32)
    if device is None:
        device = TOTPDevice.objects.create(user=user, secret=secret)
    else:
        device.secret = secret
        device.last_used_step = None
        device.save(update_fields=["secret", "last_used_step", "updated_at"])
    uri = _totp(device).provisioning_uri(name=user.email, issuer_name=settings.MFA_ISSUER)
    qr_svg = segno.make(uri, error="m").svg_inline(scale=4)
    return {"secret": secret, "otpauth_uri": uri, "qr_svg": qr_svg}


def _check_totp(device: TOTPDevice, code: str) -> bool:
    """Accept a code of the current step or ``TOTP_VALID_WINDOW`` steps either side, once."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return False
    totp = _totp(device)
    now_step = int(time.time()) // TOTP_STEP_SECONDS
    for step in range(now_step - TOTP_VALID_WINDOW, now_step + TOTP_VALID_WINDOW + 1):
        if hmac.compare_digest(totp.at(step * TOTP_STEP_SECONDS), code):
            if device.last_used_step is not None and step <= device.last_used_step:
                return False  # SECURITY: a replayed (or older) code
            device.last_used_step = step
            device.save(update_fields=["last_used_step", "updated_at"])
            return True
    return False


def _use_recovery_code(user: User, code: str) -> bool:
    set_user_claim(user.id)
    with connection.cursor() as cursor:  # the app role cannot read code_hash
        cursor.execute("SELECT app.recovery_code_use(%s, %s)", [user.id, _recovery_hash(code)])
        return bool(cursor.fetchone()[0])


def _issue_recovery_codes(user: User) -> list[str]:
    RecoveryCode.objects.filter(user=user).delete()
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    RecoveryCode.objects.bulk_create(
        [RecoveryCode(user=user, code_hash=_recovery_hash(code)) for code in codes]
    )
    return codes


@transaction.atomic
def totp_confirm(
    *, user: User, code: str, password: str, keep_session_id: str | None = None
) -> list[str]:
    """Finish enrollment with a code from the app and the current password: MFA is on,
    every session but ``keep_session_id`` (the caller's) ends; answer the recovery codes.

    Raises ``wrong_password`` (400) for a wrong password, before the code is looked at.
    """
    # SECURITY: recent authentication. Whoever holds only a session (a stolen access
    # token) must not bind the account to their own authenticator.
    if not user.check_password(password):
        raise Invalid(
            "The password is wrong.",
            code="wrong_password",
            details={"password": ["The password is wrong."]},
        )
    device = _device(user, lock=True)
    if device is None:
        raise Conflict("Start TOTP enrollment first.", code="mfa_not_enrolled")
    if device.confirmed_at is not None:
        raise Conflict("Two-factor authentication is already on.", code="mfa_already_enabled")
    if not _check_totp(device, code):
        raise MFAInvalidCode("The code is wrong.", details={"code": ["The code is wrong."]})
    device.confirmed_at = timezone.now()
    device.save(update_fields=["confirmed_at", "updated_at"])
    User.objects.filter(id=user.id).update(mfa_enabled=True)
    user.mfa_enabled = True
    codes = _issue_recovery_codes(user)
    # SECURITY: a session opened before MFA was on (perhaps by whoever knew the password)
    # does not carry over; the device that turned it on stays signed in.
    sessions = Session.objects.filter(user=user, revoked_at__isnull=True)
    if keep_session_id:
        sessions = sessions.exclude(id=keep_session_id)
    ended = sessions.update(revoked_at=timezone.now())
    audit_record(
        action="user.mfa_enabled",
        actor=user,
        target=user,
        changes={"method": "totp", "sessions_ended": ended},
    )
    return codes


@transaction.atomic
def totp_disable(*, user: User, code: str) -> None:
    """Turn MFA off, proven with a current TOTP code or a recovery code."""
    device = _device(user, lock=True)
    if device is None or device.confirmed_at is None:
        raise Conflict("Two-factor authentication is not on.", code="mfa_not_enrolled")
    if not (_check_totp(device, code) or _use_recovery_code(user, code)):
        raise MFAInvalidCode("The code is wrong.", details={"code": ["The code is wrong."]})
    device.delete()
    RecoveryCode.objects.filter(user=user).delete()
    User.objects.filter(id=user.id).update(mfa_enabled=False)
    user.mfa_enabled = False
    audit_record(action="user.mfa_disabled", actor=user, target=user)


@transaction.atomic
def mfa_verify(*, user: User, code: str) -> str:
    """Check a sign-in code: a TOTP code or an unused recovery code. Answer which it was.

    Raises :class:`MFAInvalidCode` otherwise (including a replay).
    """
    device = _device(user, lock=True)
    if device is None or device.confirmed_at is None:
        raise MFAInvalidCode("The code is wrong.", details={"code": ["The code is wrong."]})
    if _check_totp(device, code):
        return "totp"
    if _use_recovery_code(user, code):
        audit_record(action="user.recovery_code_used", actor=user, target=user)
        return "recovery_code"
    raise MFAInvalidCode("The code is wrong.", details={"code": ["The code is wrong."]})


def _password_fingerprint(user: User) -> str:
    # SECURITY: the last sign-in is part of it, as in Django's password reset tokens:
    # the sign-in a challenge completes (``session_create``) moves it on, so the
    # challenge works once.
    last_login = user.last_login.isoformat() if user.last_login else ""
    return salted_hmac(_CHALLENGE_SALT, f"{user.password}|{last_login}").hexdigest()[:16]


def mfa_challenge_token(user: User) -> str:
    """A short-lived signed token naming the user whose password was right.

    It stops working after ``MFA_CHALLENGE_TTL``, when the password changes and once
    the user has signed in (it completed a sign-in, or another one happened).
    """
    return signing.dumps(
        {"u": str(user.id), "p": _password_fingerprint(user)}, salt=_CHALLENGE_SALT, compress=True
    )


def _challenge_payload(token: str) -> dict[str, Any] | None:
    try:
        payload = signing.loads(token, salt=_CHALLENGE_SALT, max_age=settings.MFA_CHALLENGE_TTL)
    except signing.BadSignature:  # also an expired one
        return None
    return payload if isinstance(payload, dict) else None


def mfa_challenge_user_id(token: str) -> str | None:
    """The user id a valid challenge token names (for throttling), or None."""
    payload = _challenge_payload(token)
    return str(payload.get("u")) if payload else None


def mfa_challenge_user(token: str) -> User | None:
    """The user a valid challenge token is for (active, password unchanged, no sign-in
    since), or None.

    The user's row is locked for the caller's transaction: two requests with one
    challenge are served one after the other, and the second finds it used.
    """
    payload = _challenge_payload(token)
    if payload is None:
        return None
    user = User.objects.select_for_update().filter(id=payload.get("u"), is_active=True).first()
    if user is None or not hmac.compare_digest(
        str(payload.get("p", "")), _password_fingerprint(user)
    ):
        return None
    return user
