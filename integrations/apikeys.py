"""Organization API keys: their format, and authenticating a request with one.

**Format** (like GitHub's tokens, so secret scanners can recognise a leaked key
without asking us)::

    saas_ <36 random base62 characters> <6-character base62 CRC32 of the random part>

Only the sha256 of the whole key, its prefix and its last four characters are
stored. A malformed key or a wrong checksum is refused before any query.

**Authentication**: ``Authorization: Bearer saas_…`` is a key, any other bearer
value is left to the JWT class that follows. The key is looked up by hash in one
indexed statement (``app.api_key_authenticate``, joined with its creator): a
revoked or expired key, or a disabled creator, is a 401 at once. The request's
user is the key's creator with the key attached (``user.api_key``), so services
record who is responsible and the audit trail names the key as the actor;
``request.auth`` is the :class:`ApiKeyPrincipal`. A key works only on its own
organization's routes: :class:`organizations.api.base.OrgScopedAPIView` calls the
principal's :meth:`ApiKeyPrincipal.enter_org`, which claims the key in the
database (``app.enter_org_with_key``: any other organization is a 404, the role is
the lower of the key's and the creator's current role, ``last_used_at`` moves at
most once a minute). User-scoped routes (``/me/``…) refuse keys.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import uuid
import zlib
from dataclasses import dataclass
from typing import ClassVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import User
from config.api.throttling import SlidingWindowThrottle
from organizations.permissions import Principal
from organizations.tenancy import OrgContext, _require_transaction

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
RANDOM_LENGTH = 36
CHECKSUM_LENGTH = 6


def _base62(number: int, width: int) -> str:
    out = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        out.append(BASE62[digit])
    return "".join(reversed(out))


def checksum(random_part: str) -> str:
    return _base62(zlib.crc32(random_part.encode()), CHECKSUM_LENGTH)


def generate_key() -> str:
    random_part = "".join(secrets.choice(BASE62) for _ in range(RANDOM_LENGTH))
    return f"{settings.API_KEY_PREFIX}{random_part}{checksum(random_part)}"


def is_well_formed(key: str) -> bool:
    """Prefix, length, alphabet and checksum: what a scanner checks too."""
    prefix = settings.API_KEY_PREFIX
    body = key[len(prefix) :]
    if not key.startswith(prefix) or len(body) != RANDOM_LENGTH + CHECKSUM_LENGTH:
        return False
    if any(ch not in BASE62 for ch in body):
        return False
    return secrets.compare_digest(checksum(body[:RANDOM_LENGTH]), body[RANDOM_LENGTH:])


def scope_covers(scope: str, action: str) -> bool:
    if scope == "*":
        return True
    if scope.endswith(".*"):
        return action.startswith(scope[:-1])
    return scope == action


def valid_scope(scope: str) -> bool:
    """``*``, an action of the permission matrix that keys may perform, or ``<prefix>.*``
    covering one: a scope naming only people's actions could never be used."""
    from organizations.permissions import MATRIX, Principal

    return any(
        scope_covers(scope, action) and Principal.API_KEY in rule.principals
        for action, rule in MATRIX.items()
    )


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


# The demo key ``seed`` creates for acme (development only; refused in production by
# the authentication below). Defined here, beside ``checksum``, so seeding, the serve
# banner and the authentication read one constant.
_DEMO_RANDOM = "DemoKeyForLocalDevelopmentOnly000000"
DEMO_API_KEY = f"saas_{_DEMO_RANDOM}{checksum(_DEMO_RANDOM)}"


# --- authentication ---------------------------------------------------------------


def _demo_key() -> str:
    return DEMO_API_KEY


_USER_FIELDS = tuple(f.attname for f in User._meta.concrete_fields if f.attname != "password")
_KEY_USER_SQL = (
    "SELECT k.id, k.organization_id, k.revoked, k.expires_at, k.scopes, "
    f"{', '.join(f'u.{name}' for name in _USER_FIELDS)}"
    f" FROM app.api_key_authenticate(%s) k JOIN {User._meta.db_table} u ON u.id = k.created_by_id"
)


@dataclass(frozen=True)
class ApiKeyPrincipal:
    """``request.auth`` of a request authenticated by an API key."""

    # The matrix's principal column: a key may perform only what is declared for keys
    # (checked by OrgScopedAPIView before the scopes and the role).
    principal_kind: ClassVar[Principal] = Principal.API_KEY

    id: uuid.UUID
    organization_id: uuid.UUID
    scopes: tuple[str, ...] = ()

    def allows_action(self, action: str) -> bool:
        """Whether the key's scopes cover ``action``; no scopes = every action its role
        allows (among those declared for keys). A scope is an action (``project.list``)
        or a prefix (``project.*``)."""
        return not self.scopes or any(scope_covers(scope, action) for scope in self.scopes)

    def enter_org(self, org_slug: str, *, using: str = DEFAULT_DB_ALIAS) -> OrgContext | None:
        """Claim the key (and its creator) in ``org_slug`` if it is the key's organization."""
        _require_transaction(using)
        with connections[using].cursor() as cursor:
            cursor.execute(
                "SELECT organization_id, role, suspended, require_mfa"
                " FROM app.enter_org_with_key(%s::uuid, %s, %s)",
                [str(self.id), org_slug, timezone.now()],
            )
            row = cursor.fetchone()
        return OrgContext(*row) if row else None


def is_api_key_request(request: Request) -> bool:
    return isinstance(request.auth, ApiKeyPrincipal)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    www_authenticate_realm = "api"

    def authenticate(self, request: Request) -> tuple[User, ApiKeyPrincipal] | None:
        header = authentication.get_authorization_header(request).split()
        if len(header) != 2 or header[0].lower() != b"bearer":
            return None
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            return None
        if not key.startswith(settings.API_KEY_PREFIX):
            return None  # a JWT: the next class decides
        if not is_well_formed(key):
            raise exceptions.AuthenticationFailed("The API key is invalid.", code="api_key_invalid")
        if settings.PRODUCTION and key == _demo_key():
            raise exceptions.AuthenticationFailed("The API key is invalid.", code="api_key_invalid")
        with connection.cursor() as cursor:
            cursor.execute(_KEY_USER_SQL, [hash_key(key)])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed("The API key is invalid.", code="api_key_invalid")
        key_id, organization_id, revoked, expires_at, scopes, *user_row = row
        if revoked:
            raise exceptions.AuthenticationFailed(
                "The API key has been revoked.", code="api_key_revoked"
            )
        if expires_at is not None and expires_at <= timezone.now():
            raise exceptions.AuthenticationFailed(
                "The API key has expired.", code="api_key_expired"
            )
        user = User.from_db(connection.alias, _USER_FIELDS, user_row)
        if not user.is_active:
            raise exceptions.AuthenticationFailed(
                "The key's creator is disabled.", code="api_key_invalid"
            )
        principal = ApiKeyPrincipal(
            id=key_id, organization_id=organization_id, scopes=tuple(scopes or ())
        )
        user.api_key = principal  # the audit trail names the key as the actor
        return user, principal

    def authenticate_header(self, request: Request) -> str:
        return f'Bearer realm="{self.www_authenticate_realm}"'


# --- throttling -------------------------------------------------------------------


class UserRateThrottle(SlidingWindowThrottle):
    """``THROTTLE_USER`` per person (per client address when nobody is signed in, as
    DRF's ``UserRateThrottle``), for people only: key requests have their own bucket."""

    scope = "user"

    def ident(self, request: Request) -> str | None:
        if request.user and request.user.is_authenticated:
            return None if is_api_key_request(request) else str(request.user.pk)
        return self.get_ident(request)


class ApiKeyRateThrottle(SlidingWindowThrottle):
    """``THROTTLE_API_KEY`` per key, whoever created it."""

    scope = "api_key"

    def ident(self, request: Request) -> str | None:
        return str(request.auth.id) if is_api_key_request(request) else None
