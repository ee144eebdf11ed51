"""Every write to accounts: sign-up, profile, password, sessions and tokens."""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenBackendError
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import RecoveryCode, Session, TOTPDevice, User, UserSettings
from accounts.tokens import token_pair, token_pair_again, token_response
from audit.services import audit_record
from config.api.request_context import current_client
from config.errors import Conflict, Forbidden, Invalid, conflict_on_duplicate
from organizations.tenancy import service_context, set_user_claim, staff_acting

PROFILE_FIELDS = ("name", "avatar_url")
SETTINGS_FIELDS = ("theme", "locale", "timezone", "notifications")


class SessionEnded(Exception):
    """A refresh token that may not be used (expired, revoked, or reused)."""


class TokenNotValid(Exception):
    """Not a refresh token of ours at all: garbage, a bad signature, expired, an access token."""


# Who is changing someone's password when it is not the user themselves (a staff
# member in the admin's password form); read by ``password_changed_sessions_end``.
password_change_actor: ContextVar[User | None] = ContextVar("password_change_actor", default=None)


def _check_password(password: str, user: User | None = None, *, field: str = "password") -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise Invalid("The password is too weak.", details={field: exc.messages}) from exc


def require_verified_email(*, user: User, action: str) -> None:
    """Refuse ``action`` to an unverified address when ``UNVERIFIED_EMAIL_BLOCKS`` names it.

    Actions: ``organization.create``, ``invitation.accept``. Default: nothing is blocked.
    """
    if action in settings.UNVERIFIED_EMAIL_BLOCKS and user.email_verified_at is None:
        raise Forbidden("Verify your email address first.", code="email_unverified")


def user_with_password(*, email: str, password: str) -> User | None:
    """The account ``email`` names if ``password`` is its password (active or not), else None.

    The same hashing work is done for an unknown address (no timing oracle).
    """
    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is None:
        User().set_password(password)
        return None
    return user if user.check_password(password) else None


def email_taken() -> Conflict:
    """The 409 for an address another account has (compared case-insensitively)."""
    return Conflict(
        "An account with this email exists.",
        code="email_taken",
        details={"email": ["An account with this email exists."]},
    )


@transaction.atomic
def user_create(*, email: str, password: str, name: str = "", **extra: Any) -> User:
    """Create a user with their settings. Email is unique case-insensitively."""
    email = User.objects.normalize_email(email.strip()).lower()
    _check_password(password, User(email=email, name=name))
    if User.objects.filter(email__iexact=email).exists():
        raise email_taken()
    with conflict_on_duplicate(email_taken()):  # a concurrent sign-up won the race
        user = User.objects.create_user(email=email, password=password, name=name, **extra)
    set_user_claim(user.id)  # user settings are visible to their user only
    UserSettings.objects.create(user=user)
    return user


@transaction.atomic
def user_update(*, user: User, **fields: Any) -> User:
    """Update profile fields and/or settings (``theme``, ``locale``, ...)."""
    profile = {k: v for k, v in fields.items() if k in PROFILE_FIELDS}
    prefs = {k: v for k, v in fields.items() if k in SETTINGS_FIELDS}
    if profile:
        for name, value in profile.items():
            setattr(user, name, value)
        user.save(update_fields=[*profile, "updated_at"])
    if prefs:
        user_settings, _ = UserSettings.objects.get_or_create(user=user)
        for name, value in prefs.items():
            setattr(user_settings, name, value)
        user_settings.save(update_fields=[*prefs, "updated_at"])
    return user


@transaction.atomic
def session_create(*, user: User, mfa: bool = False) -> dict[str, Any]:
    """Sign in: open a session, record ``last_login``, return the token response."""
    ip, user_agent = current_client()
    now = timezone.now()
    session = Session(
        user=user,
        ip_address=ip,
        user_agent=user_agent,
        expires_at=now + settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"],
    )
    pair = token_pair(session)
    session.save()
    user.last_login = now
    User.objects.filter(id=user.id).update(last_login=now)
    set_user_claim(user.id)
    audit_record(
        action="user.signed_in", actor=user, target=session, changes={"mfa": mfa} if mfa else None
    )
    return token_response(session, pair, user)


@transaction.atomic
def login_failed_record(*, email: str, user: User | None, reason: str, via: str) -> None:
    """Audit a refused sign-in (``user.login_failed``): the address tried, never the password.

    The caller is anonymous, so the event is written in a service context.
    """
    with service_context(reason="record a failed sign-in"):
        audit_record(
            action="user.login_failed",
            actor=None,
            target_type="accounts.user" if user else "",
            target_id=str(user.id) if user else "",
            changes={"email": email[:254], "reason": reason, "via": via},
        )


def _decode_refresh(raw: str) -> dict[str, Any]:
    """Verify signature, expiry and type; single use is judged by the caller, under a lock."""
    try:
        payload = token_backend.decode(raw, verify=True)
    except TokenBackendError as exc:
        raise TokenNotValid("The refresh token is invalid or expired.") from exc
    if payload.get("token_type") != "refresh" or not payload.get("sid"):
        raise TokenNotValid("This is not a refresh token.")
    return payload


def session_refresh(*, raw_refresh: str) -> dict[str, Any]:
    """Rotate: the refresh token is used up and a new pair is issued.

    Single use under concurrency: the session row is locked, then the token is
    blacklisted. The token just rotated away may be presented again within
    ``REFRESH_REUSE_GRACE`` (two tabs refreshing at once): it answers the same
    new pair. Presenting a used token after that is treated as theft: the whole
    session is revoked. That revocation commits even though the caller fails,
    so the view answers 401 without raising (raising would roll it back).
    """
    payload = _decode_refresh(raw_refresh)
    with transaction.atomic():
        tokens = _rotate(payload)
    if tokens is None:
        raise SessionEnded("This refresh token was already used; the session is revoked.")
    return tokens


def _rotate(payload: dict[str, Any]) -> dict[str, Any] | None:
    try:
        session = (
            Session.objects.select_for_update()
            .select_related("user")
            .get(id=payload.get("sid"), user_id=payload.get("sub"))
        )
    except (Session.DoesNotExist, ValidationError, ValueError) as exc:
        raise SessionEnded("Unknown session.") from exc
    if not session.is_active or not session.user.is_active:
        raise SessionEnded("The session has ended.")
    jti = payload.get("jti")
    if (
        jti
        and jti == session.previous_refresh_jti
        and session.refresh_jti
        and session.refresh_issued_at is not None
        and timezone.now() <= session.refresh_issued_at + settings.REFRESH_REUSE_GRACE
    ):
        # NOTE: a concurrent refresh of the same token (another tab): same answer.
        return token_response(session, token_pair_again(session), session.user)
    outstanding = OutstandingToken.objects.filter(jti=jti).first()
    if outstanding is None:
        raise SessionEnded("Unknown token.")
    if BlacklistedToken.objects.filter(token=outstanding).exists():
        session.revoked_at = timezone.now()
        session.save(update_fields=["revoked_at"])
        set_user_claim(session.user_id)
        audit_record(
            action="user.session_revoked",
            actor=session.user,
            target=session,
            changes={"reason": "refresh token reuse"},
        )
        return None
    BlacklistedToken.objects.create(token=outstanding)
    session.last_used_at = timezone.now()
    session.expires_at = session.last_used_at + settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]
    session.previous_refresh_jti = jti
    pair = token_pair(session)
    session.save(
        update_fields=[
            "last_used_at",
            "expires_at",
            "previous_refresh_jti",
            "refresh_jti",
            "refresh_issued_at",
        ]
    )
    return token_response(session, pair, session.user)


@transaction.atomic
def session_revoke(*, user: User, session_id: uuid.UUID | str, reason: str = "signed out") -> bool:
    """End one of ``user``'s sessions; return whether it was open."""
    updated = Session.objects.filter(id=session_id, user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if updated:
        set_user_claim(user.id)
        audit_record(
            action="user.session_revoked",
            actor=user,
            target_type="accounts.session",
            target_id=str(session_id),
            changes={"reason": reason},
        )
    return bool(updated)


def session_revoke_by_refresh(*, raw_refresh: str) -> None:
    """Log out with a refresh token: its session ends, access tokens included."""
    payload = _decode_refresh(raw_refresh)
    user = User.objects.filter(id=payload.get("sub")).first()
    if user is None:
        raise SessionEnded("Unknown session.")
    if not session_revoke(user=user, session_id=payload.get("sid"), reason="logout"):
        raise SessionEnded("The session has already ended.")


@transaction.atomic
def password_change(
    *, user: User, current_password: str, new_password: str, keep_session_id: str | None
) -> int:
    """Change the password and end every other session; return how many ended."""
    if not user.check_password(current_password):
        raise Invalid(
            "The current password is wrong.",
            code="wrong_password",
            details={"current_password": ["The current password is wrong."]},
        )
    _check_password(new_password, user, field="new_password")
    user.set_password(new_password)
    user._keep_session_id = keep_session_id  # the device making the change stays signed in
    user.save(update_fields=["password", "updated_at"])
    return user._sessions_ended


def password_changed_sessions_end(*, user: User) -> int:
    """Every path that changes a password ends here (``User.save``): end the sessions.

    All of the user's sessions end (their access and refresh tokens stop working
    on the next request), except the one that made the change through
    ``password_change`` itself. Writes ``user.password_changed``. Runs inside the
    transaction that stores the new hash.
    """
    keep = getattr(user, "_keep_session_id", None)
    user._keep_session_id = None
    sessions = Session.objects.filter(user=user, revoked_at__isnull=True)
    if keep:
        sessions = sessions.exclude(id=keep)
    ended = sessions.update(revoked_at=timezone.now())
    user._sessions_ended = ended
    staff = password_change_actor.get()
    changes = {"sessions_ended": ended}
    if staff is not None and staff_acting():
        audit_record(action="user.password_changed", actor=staff, target=user, changes=changes)
    else:
        set_user_claim(user.id)
        audit_record(action="user.password_changed", actor=user, target=user, changes=changes)
    return ended


@transaction.atomic
def user_staff_update(*, actor: User, user: User, changes: dict[str, Any]) -> User:
    """A staff member changed ``user`` in the admin: save the plain fields, audit it all.

    Many-to-many values (groups, permissions) are saved by the admin form
    itself; here they are only recorded.
    """
    concrete = {f.name for f in User._meta.concrete_fields}
    fields = [name for name in changes if name in concrete]
    if fields and user.pk:
        user.save(update_fields=[*fields, "updated_at"])
    recorded = {
        name: [str(v) for v in value]
        if hasattr(value, "__iter__") and not isinstance(value, str)
        else str(value)
        for name, value in changes.items()
    }
    audit_record(action="staff.user_updated", actor=actor, target=user, changes=recorded)
    return user


@transaction.atomic
def user_deactivate(*, actor: User, user: User) -> User:
    """Staff: turn the account off. It can no longer sign in, every open session ends
    now (its tokens stop working at once, decision 0005), and work it queued earlier
    fails instead of writing (``tenancy.ensure_writable``). Idempotent."""
    if actor.pk == user.pk:
        raise Forbidden("You cannot deactivate your own account.", code="cannot_deactivate_self")
    if not user.is_active:
        return user
    user.is_active = False
    user.save(update_fields=["is_active", "updated_at"])
    ended = Session.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    audit_record(
        action="user.deactivated",
        actor=actor,
        target=user,
        changes={"email": user.email, "sessions_ended": ended},
    )
    return user


def _support_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("Say why (it is recorded).", details={"reason": ["This field is required."]})
    return reason[:500]


@transaction.atomic
def user_mfa_reset(*, actor: User, user: User, reason: str) -> User:
    """Staff (support): turn off the two-factor authentication of a user locked out of it
    (lost authenticator and recovery codes). Their authenticator and recovery codes are
    deleted; they sign in with their password and may enrol again. ``reason`` is
    required and audited (``user.mfa_reset``). A user without MFA is refused (409)."""
    reason = _support_reason(reason)
    if not user.mfa_enabled and not TOTPDevice.objects.filter(user=user).exists():
        raise Conflict("Two-factor authentication is not on.", code="mfa_not_enrolled")
    TOTPDevice.objects.filter(user=user).delete()
    codes = RecoveryCode.objects.filter(user=user).delete()[0]
    User.objects.filter(id=user.id).update(mfa_enabled=False, updated_at=timezone.now())
    user.mfa_enabled = False
    audit_record(
        action="user.mfa_reset",
        actor=actor,
        target=user,
        changes={"reason": reason, "recovery_codes_deleted": codes},
    )
    return user


@transaction.atomic
def user_sessions_end(*, actor: User, user: User, reason: str) -> int:
    """Staff (support): end every open session of ``user`` now (their access and refresh
    tokens stop working on the next request, decision 0005); the account stays active.
    ``reason`` is required and audited (``user.sessions_ended``). Answers how many ended."""
    reason = _support_reason(reason)
    ended = Session.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    audit_record(
        action="user.sessions_ended",
        actor=actor,
        target=user,
        changes={"reason": reason, "sessions_ended": ended},
    )
    return ended
