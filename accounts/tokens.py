"""Minting JWT pairs for a session (SimpleJWT tokens with a ``sid`` claim)."""

from __future__ import annotations

from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import Session


def token_pair(session: Session) -> dict[str, str]:
    refresh = RefreshToken.for_user(session.user)  # also records the OutstandingToken
    refresh["sid"] = str(session.id)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}
