"""Account flows by email: password reset and email verification (services).

Links in the emails point at pages this server renders (``accounts.pages``)
under ``FRONTEND_URL``; the pages and the API routes call these functions.

- Password reset tokens are Django's ``PasswordResetTokenGenerator`` tokens:
  they expire (``PASSWORD_RESET_TIMEOUT``) and are single use, because they
  hash the password and the last sign-in, which the reset changes.
- Verification tokens are signed (``EMAIL_VERIFICATION_TTL``) and name the
  address to verify and the address the account had when they were made: a
  change of address replaces the old one only when the new one is verified,
  and a token is useless once the account's address moved on.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from accounts.models import User
from accounts.services import _check_password, email_taken
from audit.services import audit_record
from config.errors import DomainError, Invalid, conflict_on_duplicate
from organizations.tenancy import set_user_claim

_VERIFY_SALT = "accounts.verify-email"


class ResetInvalid(DomainError):
    code = "password_reset_invalid"


class VerificationInvalid(DomainError):
    code = "verification_invalid"


def link(path: str, **query: str) -> str:
    """An absolute link to a page of this service (``FRONTEND_URL``)."""
    from urllib.parse import urlencode

    return f"{settings.FRONTEND_URL}{path}" + (f"?{urlencode(query)}" if query else "")


def send_email_on_commit(*, to: str, subject: str, template: str, context: dict[str, Any]) -> None:
    body = render_to_string(template, context)
    transaction.on_commit(
        lambda: send_mail(
            subject=subject,
            message=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[to],
        )
    )


# --- password reset ------------------------------------------------------------


def password_reset_request(*, email: str) -> None:
    """Email a reset link if an active account has this address; say nothing either way."""
    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is None:
        return
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = f"{uid}.{default_token_generator.make_token(user)}"
    send_email_on_commit(
        to=user.email,
        subject="Reset your password",
        template="emails/password_reset.txt",
        context={
            "user": user,
            "reset_url": link("/reset-password", token=token),
            "valid_minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
        },
    )


def _reset_user(token: str) -> User:
    uid, _, secret = token.partition(".")
    try:
        user_id = uuid.UUID(force_str(urlsafe_base64_decode(uid)))
    except (ValueError, TypeError, UnicodeDecodeError):
        user_id = None
    user = User.objects.filter(id=user_id, is_active=True).first() if user_id else None
    if user is None or not default_token_generator.check_token(user, secret):
        raise ResetInvalid("This password reset link is invalid, expired or already used.")
    return user


def password_reset_check(*, token: str) -> User:
    """The user a reset token is for, or :class:`ResetInvalid`."""
    return _reset_user(token)


@transaction.atomic
def password_reset_confirm(*, token: str, password: str) -> User:
    """Set a new password with a reset token: every session ends (``User.save``)."""
    user = _reset_user(token)
    _check_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password", "updated_at"])
    set_user_claim(user.id)
    audit_record(
        action="user.password_reset",
        actor=user,
        target=user,
        changes={"sessions_ended": user._sessions_ended},
    )
    return user


# --- email verification ------------------------------------------------------------


def _verification_token(user: User, email: str) -> str:
    return signing.dumps(
        {"u": str(user.id), "e": email, "c": user.email}, salt=_VERIFY_SALT, compress=True
    )


def email_verification_send(*, user: User, email: str | None = None) -> None:
    """Email a verification link for ``email`` (default: the account's address)."""
    email = email or user.email
    send_email_on_commit(
        to=email,
        subject="Confirm your email address",
        template="emails/verify_email.txt",
        context={
            "user": user,
            "email": email,
            "change": email != user.email,
            "verify_url": link("/verify-email", token=_verification_token(user, email)),
            "valid_days": settings.EMAIL_VERIFICATION_TTL.days,
        },
    )


@transaction.atomic
def email_mark_verified(*, user: User, reason: str) -> None:
    """Record that the account's current address is proven (e.g. an invitation link used)."""
    user.email_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at", "updated_at"])
    set_user_claim(user.id)
    audit_record(action="user.email_verified", actor=user, target=user, changes={"via": reason})


@transaction.atomic
def email_change_request(*, user: User, email: str, password: str) -> str:
    """Ask to move the account to ``email``: nothing changes until that address is verified."""
    if not user.check_password(password):
        raise Invalid(
            "The password is wrong.",
            code="wrong_password",
            details={"password": ["The password is wrong."]},
        )
    email = User.objects.normalize_email(email.strip()).lower()
    if email == user.email:
        raise Invalid("This is already your address.", details={"email": ["Unchanged."]})
    if User.objects.filter(email__iexact=email).exists():
        raise email_taken()
    email_verification_send(user=user, email=email)
    set_user_claim(user.id)
    audit_record(action="user.email_change_requested", actor=user, target=user)
    return email


def _verification_user(token: str) -> tuple[User, str]:
    try:
        payload = signing.loads(token, salt=_VERIFY_SALT, max_age=settings.EMAIL_VERIFICATION_TTL)
    except signing.BadSignature as exc:
        raise VerificationInvalid("This verification link is invalid or expired.") from exc
    user = User.objects.select_for_update().filter(id=payload.get("u"), is_active=True).first()
    if user is None or payload.get("c") != user.email:
        raise VerificationInvalid("This verification link is no longer valid.")
    return user, payload["e"]


@transaction.atomic
def email_verify(*, token: str) -> User:
    """Verify the address a token names; for a change of address, switch to it now."""
    user, email = _verification_user(token)
    set_user_claim(user.id)
    if email == user.email:
        if user.email_verified_at is None:
            user.email_verified_at = timezone.now()
            user.save(update_fields=["email_verified_at", "updated_at"])
            audit_record(action="user.email_verified", actor=user, target=user)
        return user
    old = user.email
    user.email = email
    user.email_verified_at = timezone.now()
    with conflict_on_duplicate(email_taken()):
        user.save(update_fields=["email", "email_verified_at", "updated_at"])
    audit_record(
        action="user.email_changed", actor=user, target=user, changes={"from": old, "to": email}
    )
    send_email_on_commit(
        to=old,
        subject="Your email address was changed",
        template="emails/email_changed.txt",
        context={"user": user, "old": old, "new": email, "reset_url": link("/reset-password")},
    )
    return user
