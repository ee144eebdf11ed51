"""JWT authentication bound to a revocable session.

Every token carries ``sid``, the id of the :class:`accounts.models.Session`
it belongs to. Loading the user and checking that the session is still open
is one query, so revoking a session (logout, password change, "sign out that
device") takes effect on the very next request, not when the access token
expires.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.tokens import Token

from accounts.models import Session, User


class SessionTokenAuthentication(JWTAuthentication):
    www_authenticate_realm = "api"

    def authenticate(self, request: Request) -> tuple[User, Token] | None:
        result = super().authenticate(request)
        if result is not None:
            _user, token = result
            request.session_id = token.get("sid")
        return result

    def get_validated_token(self, raw_token: bytes) -> Token:
        # SimpleJWT's InvalidToken always carries a dict detail, which the error
        # shape would render as a Python repr; answer one plain message instead.
        try:
            return super().get_validated_token(raw_token)
        except InvalidToken as exc:
            raise exceptions.AuthenticationFailed(
                "The access token is invalid or expired.", code="token_not_valid"
            ) from exc

    def get_user(self, validated_token: Token) -> User:
        sid, user_id = validated_token.get("sid"), validated_token.get("sub")
        try:
            session = Session.objects.select_related("user").get(
                id=sid, user_id=user_id, revoked_at__isnull=True, expires_at__gt=timezone.now()
            )
        except (Session.DoesNotExist, ValidationError, ValueError, TypeError) as exc:
            raise exceptions.AuthenticationFailed(
                "The session has ended; sign in again.", code="session_ended"
            ) from exc
        if not session.user.is_active:
            raise exceptions.AuthenticationFailed("The account is disabled.", code="user_inactive")
        return session.user
