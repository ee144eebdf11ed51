"""JWT authentication bound to a revocable session.

Every token carries ``sid``, the id of the :class:`accounts.models.Session`
it belongs to. Loading the user and checking that the session is still open
is one hand-written statement (it runs on every request: compiling an ORM
query and building two model instances cost more than the query itself),
so revoking a session (logout, password change, "sign out that
device") takes effect on the very next request, not when the access token
expires.
"""

from __future__ import annotations

import uuid

from django.db import connection
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.tokens import Token

from accounts.models import Session, User

# Every user column but the password hash, in the model's field order (``from_db``
# maps values to fields by position); anything else read later is loaded on demand.
_USER_FIELDS = tuple(f.attname for f in User._meta.concrete_fields if f.attname != "password")
_SESSION_USER_SQL = (
    f"SELECT {', '.join(f'u.{name}' for name in _USER_FIELDS)}"
    f" FROM {Session._meta.db_table} s JOIN {User._meta.db_table} u ON u.id = s.user_id"
    " WHERE s.id = %s AND s.user_id = %s AND s.revoked_at IS NULL AND s.expires_at > now()"
)


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
        row = None
        ids = _uuids(validated_token.get("sid"), validated_token.get("sub"))
        if ids is not None:
            with connection.cursor() as cursor:
                cursor.execute(_SESSION_USER_SQL, ids)
                row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(
                "The session has ended; sign in again.", code="session_ended"
            )
        user = User.from_db(connection.alias, _USER_FIELDS, row)
        if not user.is_active:
            raise exceptions.AuthenticationFailed("The account is disabled.", code="user_inactive")
        return user


def _uuids(*values: object) -> list[uuid.UUID] | None:
    """The claims as UUIDs, or None if one is not (a forged or foreign token)."""
    try:
        return [uuid.UUID(value) for value in values]  # type: ignore[arg-type]
    except (TypeError, ValueError, AttributeError):
        return None
