"""Password hashes stay in the database: the app role never reads them (issue 17 §5).

``accounts_user.password`` is not readable by the runtime (app) role (column
privileges, ``organizations.tenancy.grant_runtime_privileges``). Three SECURITY
DEFINER functions (``accounts/migrations/0005``) answer the narrow questions the
application has:

``app.user_password_salt(user_id)``
    the stored hash without its digest (``pbkdf2_sha256$iterations$salt``): what
    Django needs to hash a candidate password the same way;
``app.user_password_matches(user_id, candidate)``
    whether the candidate's full encoded hash is the stored one;
``app.user_password_fingerprint(user_id)``
    ``sha256(pepper, hash)`` with a random pepper the app role cannot read:
    changes whenever the password does, and cannot be used to guess it offline.

:class:`PasswordField` makes every ORM read of the column (a ``User`` query,
``select_related("user")``, ``values("password")``) select the fingerprint
instead, prefixed with :data:`FINGERPRINT_PREFIX` (``!`` first when the
password is unusable). So everything Django derives from ``user.password`` —
the session auth hash of the admin, password reset tokens, the MFA challenge's
fingerprint — still changes when the password changes, and no hash reaches
Python. Checking a password (:func:`password_matches`) hashes the candidate with
the stored salt in Python and lets the database compare.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.contrib.auth.hashers import get_hasher
from django.db import connection, models

logger = logging.getLogger(__name__)

FINGERPRINT_PREFIX = "fingerprint$"
# Hashers whose encoding is "<parameters and salt>$<digest>" and which Django can
# re-encode from those parameters: the candidate is then compared in SQL.
_ENCODERS = {
    "pbkdf2_sha256": lambda h, raw, d: h.encode(raw, d["salt"], d["iterations"]),
    "pbkdf2_sha1": lambda h, raw, d: h.encode(raw, d["salt"], d["iterations"]),
    "scrypt": lambda h, raw, d: h.encode(
        raw, d["salt"], n=d["work_factor"], r=d["block_size"], p=d["parallelism"]
    ),
    "md5": lambda h, raw, d: h.encode(raw, d["salt"]),  # the test profile's fast hasher
}


class PasswordField(models.CharField):
    """A password hash column the ORM never selects: reads get its fingerprint.

    SECURITY: the app role has no SELECT privilege on the column; selecting it
    would fail. The expression below runs the definer on the row's ``id``.
    """

    def select_format(self, compiler: Any, sql: str, params: Any) -> tuple[str, Any]:
        table, dot, _ = sql.rpartition(".")
        pk = compiler.quote_name_unless_alias(self.model._meta.pk.column)
        return f"app.user_password_fingerprint({table}{dot}{pk})", params

    def deconstruct(self) -> tuple[Any, ...]:
        name, _, args, kwargs = super().deconstruct()
        return name, "django.db.models.CharField", args, kwargs  # same column, no migration


class SecretField(models.CharField):
    """A secret column the ORM never selects (reads get ``''``); written as usual.

    SECURITY: the app role has no SELECT privilege on the column; the one reader
    is a definer function (``app.totp_secret``). Save such rows with
    ``update_fields`` that name the secret only when setting it.
    """

    def select_format(self, compiler: Any, sql: str, params: Any) -> tuple[str, Any]:
        return "''::varchar", []

    def deconstruct(self) -> tuple[Any, ...]:
        name, _, args, kwargs = super().deconstruct()
        return name, "django.db.models.CharField", args, kwargs  # same column, no migration


def is_fingerprint(value: str | None) -> bool:
    return bool(value) and value.lstrip("!").startswith(FINGERPRINT_PREFIX)


def password_matches(*, user_id: uuid.UUID, raw_password: str) -> tuple[bool, str | None]:
    """Whether ``raw_password`` is the user's password, and the candidate's encoding
    (for the caller to decide on a rehash); ``(False, None)`` if there is none."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT app.user_password_salt(%s)", [user_id])
        (prefix,) = cursor.fetchone()
    if not prefix or raw_password is None:
        return False, None
    algorithm = prefix.split("$", 1)[0]
    encoder = _ENCODERS.get(algorithm)
    try:
        hasher = get_hasher(algorithm)
    except ValueError:
        hasher = None
    if encoder is None or hasher is None:
        logger.warning("password hash algorithm %s cannot be checked in SQL", algorithm)
        return False, None
    candidate = encoder(hasher, raw_password, hasher.decode(prefix + "$"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT app.user_password_matches(%s, %s)", [user_id, candidate])
        (matches,) = cursor.fetchone()
    return bool(matches), candidate


def password_fingerprint(*, user_id: uuid.UUID) -> str:
    """The fingerprint the ORM reads in place of the user's stored hash."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT app.user_password_fingerprint(%s)", [user_id])
        row = cursor.fetchone()
    return row[0] if row and row[0] is not None else ""
