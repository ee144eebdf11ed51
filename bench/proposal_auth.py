"""The proposal's authentication (see ``bench/proposal.py``): its own module, because DRF
imports authentication classes while the URL configuration is still loading."""

from __future__ import annotations

from typing import Any

from django.db import connection
from rest_framework import exceptions

from accounts.authentication import SessionTokenAuthentication
from accounts.models import User

# In the model's field order: Model.from_db() maps values to fields in that order.
_WANTED = {"id", "email", "name", "is_active", "is_staff", "is_superuser"}
USER_FIELDS = tuple(f.attname for f in User._meta.concrete_fields if f.attname in _WANTED)
SESSION_USER_SQL = f"""
SELECT {", ".join(f"u.{f}" for f in USER_FIELDS)}
  FROM accounts_session s JOIN accounts_user u ON u.id = s.user_id
 WHERE s.id = %s AND s.user_id = %s AND s.revoked_at IS NULL AND s.expires_at > now()
"""


class FastSessionTokenAuthentication(SessionTokenAuthentication):
    """Same checks, one plain statement, a user instance with only the needed fields
    loaded (the others are deferred: Django loads them if anything reads them)."""

    def get_user(self, validated_token: Any) -> User:
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    SESSION_USER_SQL, [validated_token.get("sid"), validated_token.get("sub")]
                )
                row = cursor.fetchone()
        except Exception as exc:  # malformed ids: the same answer as a closed session
            raise exceptions.AuthenticationFailed(
                "The session has ended; sign in again.", code="session_ended"
            ) from exc
        if row is None:
            raise exceptions.AuthenticationFailed(
                "The session has ended; sign in again.", code="session_ended"
            )
        user = User.from_db("default", USER_FIELDS, row)
        if not user.is_active:
            raise exceptions.AuthenticationFailed("The account is disabled.", code="user_inactive")
        return user
