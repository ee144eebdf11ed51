"""Minting JWT pairs for a session (SimpleJWT tokens with a ``sid`` claim).

A pair is a pure function of (session, user, refresh jti, issue time): the
access token's jti is derived from the refresh token's and both share the
issue time. Minting the same inputs again gives byte-identical tokens, which
is how a refresh replayed inside the grace window answers the very pair the
first refresh got, without storing access tokens anywhere
(docs/decisions/0009).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from accounts.models import Session, User

_ACCESS_JTI_NAMESPACE = uuid.UUID("6f1c1d1e-5b0a-4c52-9d36-8c0f3b8f2a41")


def _mint(session: Session, *, jti: str, issued_at: datetime) -> tuple[RefreshToken, Any]:
    refresh = RefreshToken()
    refresh.current_time = issued_at
    refresh.set_exp(from_time=issued_at)
    refresh.set_iat(at_time=issued_at)
    refresh["jti"] = jti
    refresh[settings.SIMPLE_JWT["USER_ID_CLAIM"]] = str(session.user_id)
    refresh["sid"] = str(session.id)
    access = refresh.access_token
    access.set_iat(at_time=issued_at)
    access["jti"] = uuid.uuid5(_ACCESS_JTI_NAMESPACE, jti).hex
    return refresh, access


def token_pair(session: Session) -> dict[str, str]:
    """A new pair for ``session``; records the refresh token as the session's current one.

    The caller saves ``session`` (``refresh_jti``, ``refresh_issued_at``).
    """
    jti = uuid.uuid4().hex
    issued_at = timezone.now().replace(microsecond=0)
    refresh, access = _mint(session, jti=jti, issued_at=issued_at)
    OutstandingToken.objects.create(
        user_id=session.user_id,
        jti=jti,
        token=str(refresh),
        created_at=issued_at,
        expires_at=datetime_from_epoch(refresh["exp"]),
    )
    session.refresh_jti = jti
    session.refresh_issued_at = issued_at
    return {"access": str(access), "refresh": str(refresh)}


def token_pair_again(session: Session) -> dict[str, str]:
    """The pair last issued to ``session``, byte for byte (for the reuse grace window)."""
    refresh, access = _mint(session, jti=session.refresh_jti, issued_at=session.refresh_issued_at)
    return {"access": str(access), "refresh": str(refresh)}


class TokenUserSerializer(serializers.ModelSerializer):
    """The user as every token response shows it (here, beside the response it is part
    of, so that tokens do not import the API serializers: that was a cycle)."""

    email_verified = serializers.BooleanField(read_only=True)

    class Meta:
        model = User
        fields = ["id", "email", "name", "avatar_url", "is_staff", "email_verified", "mfa_enabled"]
        read_only_fields = fields


def token_response(session: Session, pair: dict[str, str], user: Any) -> dict[str, Any]:
    """The body of every sign-in and refresh: the pair, lifetimes in seconds, the user."""
    return {
        **pair,
        "access_expires_in": int(settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()),
        "refresh_expires_in": int(settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"].total_seconds()),
        "user": TokenUserSerializer(user).data,
    }
