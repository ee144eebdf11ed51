"""Tenant isolation machinery: database roles, per-transaction claims, elevation.

How it fits together (see ``docs/architecture.md`` and ``docs/decisions/``):

* Every process connects as the **app role** (``settings.DB_APP_ROLE``): not
  superuser, not BYPASSRLS, owns nothing. Row Level Security applies to it.
* Claims are **transaction-local** (``set_config(..., true)``): the API base
  view sets them after DRF authentication, inside the request transaction,
  with one statement (``app.enter_org``). No claims, no rows.
* Work that must see every tenant (admin, seeding, operator commands, the
  task worker's system jobs) calls :func:`service_context` — the one named,
  audited way to switch to the service role for the rest of a block.
* The **owner role** (``DATABASES["owner"]``) runs migrations and ``flush``;
  nothing else uses it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.http import HttpRequest, HttpResponse
from psycopg import sql

from audit.services import audit_record
from config.errors import Forbidden
from organizations.acting import (  # staff_acting stays importable from here
    _staff_acting,
    staff_acting,  # noqa: F401
)

logger = logging.getLogger(__name__)
# Staff reads of tenant data in the admin: logged, not audited (see service_context).
staff_read_logger = logging.getLogger("organizations.tenancy.staff_read")

OWNER_DB_ALIAS = "owner"


class TenancyError(RuntimeError):
    """Claims were set outside a transaction, or another misuse of the machinery."""


@contextmanager
def owner_as_default() -> Iterator[None]:
    """Make the ``default`` alias log in as the owner role for this block.

    Used by ``migrate`` only: data migrations (ours and third-party ones such
    as django-tasks-db's) query the default alias inside the migration's
    transaction, so the whole migrate must run on one owner connection.
    """
    conn = connections[DEFAULT_DB_ALIAS]
    conn.close()
    saved = dict(conn.settings_dict)
    owner = connections.settings[OWNER_DB_ALIAS]
    conn.settings_dict.update({key: owner[key] for key in ("USER", "PASSWORD", "HOST", "PORT")})
    # NOTE: a pool (DB_POOL) belongs to the alias and keeps the login it was opened with:
    # the owner connects without one, or the app role's pool would log in as the owner.
    conn.settings_dict["OPTIONS"] = {
        key: value for key, value in saved["OPTIONS"].items() if key != "pool"
    }
    try:
        yield
    finally:
        conn.close()
        conn.settings_dict.clear()
        conn.settings_dict.update(saved)


# --- claims -----------------------------------------------------------------


@dataclass(frozen=True)
class OrgContext:
    """What ``app.enter_org`` answers: the org named in the URL, if the user belongs to it."""

    organization_id: uuid.UUID
    role: str
    suspended: bool
    require_mfa: bool = False


def _require_transaction(using: str) -> None:
    if not connections[using].in_atomic_block:
        # SECURITY: a claim set outside a transaction would be session-level and
        # could outlive this unit of work on a pooled connection.
        raise TenancyError("tenant claims must be set inside a transaction")


def set_user_claim(user_id: uuid.UUID | None, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Claim ``user_id`` (and no organization) for the rest of this transaction."""
    _require_transaction(using)
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT set_config('app.user_id', %s, true), set_config('app.org_id', '', true),"
            " set_config('app.api_key_id', '', true)",
            [str(user_id) if user_id else ""],
        )


def enter_org(
    user_id: uuid.UUID, org_slug: str, *, using: str = DEFAULT_DB_ALIAS
) -> OrgContext | None:
    """Claim the user and, if they are a member, the organization ``org_slug``.

    One round trip: ``app.enter_org`` sets both claims and returns the
    membership it found, or nothing (and leaves no organization claimed).
    """
    _require_transaction(using)
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT organization_id, role, suspended, require_mfa FROM app.enter_org(%s::uuid, %s)",
            [str(user_id), org_slug],
        )
        row = cursor.fetchone()
    return OrgContext(*row) if row else None


# --- who may write ----------------------------------------------------------------


class OrganizationSuspended(Forbidden):
    """A suspended organization is read-only, for every writer but staff in the admin."""

    code = "organization_suspended"

    def __init__(self, message: str = "This organization is suspended and read-only.") -> None:
        super().__init__(message)


class UserInactive(Forbidden):
    """A deactivated account writes nothing, not even through work it queued earlier."""

    code = "user_inactive"

    def __init__(self, message: str = "This account is deactivated.") -> None:
        super().__init__(message)


def ensure_writable(
    *,
    organization_id: uuid.UUID | None = None,
    suspended: bool | None = None,
    user_id: uuid.UUID | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> None:
    """The one check before a write on behalf of a tenant: the organization is not
    suspended and the user (when given) is active.

    Every path that writes for a tenant goes through it: the API base view (which
    already knows ``suspended`` from ``app.enter_org``), :func:`tenant_context`
    (background work acting as a user), and the service-context paths that no base
    view guards (accepting an invitation, sign-up from an invitation, the
    invitation email). Staff in the admin are the deliberate exception: they
    suspend and lift suspensions, and act on suspended organizations.

    Pass ``suspended`` when it is known; otherwise the organization row is read,
    which needs a context that can see it (the user's claims or the service role).
    """
    if suspended is None and organization_id is not None:
        with connections[using].cursor() as cursor:
            cursor.execute(
                "SELECT suspended_at IS NOT NULL FROM organizations_organization WHERE id = %s",
                [str(organization_id)],
            )
            row = cursor.fetchone()
        suspended = bool(row and row[0])
    if suspended:
        raise OrganizationSuspended()
    if user_id is not None:
        with connections[using].cursor() as cursor:  # users are global: no claim needed
            cursor.execute("SELECT is_active FROM accounts_user WHERE id = %s", [str(user_id)])
            row = cursor.fetchone()
        if not (row and row[0]):
            raise UserInactive()


def clear_claims(*, using: str = DEFAULT_DB_ALIAS) -> None:
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT set_config('app.user_id', '', true), set_config('app.org_id', '', true),"
            " set_config('app.api_key_id', '', true)"
        )


@contextmanager
def tenant_context(
    *,
    user_id: uuid.UUID,
    org_slug: str | None = None,
    read_only: bool = False,
    principal: Any = None,
    using: str = DEFAULT_DB_ALIAS,
) -> Iterator[OrgContext | None]:
    """Run a block as ``user_id`` (in ``org_slug``), e.g. in a task or a shell.

    ``principal`` is an API key the work acts for (anything with ``enter_org``, see
    :class:`integrations.apikeys.ApiKeyPrincipal`): the database then claims the key,
    with its role capped as on its requests, instead of its creator.

    Unless ``read_only``, the block is refused (:class:`OrganizationSuspended`,
    :class:`UserInactive`, before it runs) when the organization is suspended or
    the user deactivated: background work queued before either happened must not
    write after it (:func:`ensure_writable`).

    Opens a transaction (or savepoint); the claims are cleared on the way out
    so an enclosing transaction does not keep them. If the block fails, the
    rollback of that savepoint undoes the claims instead (clearing them on an
    aborted transaction would only mask the real error).
    """
    with transaction.atomic(using=using):
        if org_slug and principal is not None:
            ctx = principal.enter_org(org_slug, using=using)
        elif org_slug:
            ctx = enter_org(user_id, org_slug, using=using)
        else:
            ctx = None
        if not org_slug:
            set_user_claim(user_id, using=using)
        if not read_only:
            ensure_writable(suspended=bool(ctx and ctx.suspended), user_id=user_id, using=using)
        yield ctx
        if not connections[using].needs_rollback:
            clear_claims(using=using)


# --- elevation ----------------------------------------------------------------


@contextmanager
def service_context(
    *,
    reason: str,
    actor: Any = None,
    organization_id: uuid.UUID | None = None,
    audited: bool = True,
    using: str = DEFAULT_DB_ALIAS,
) -> Iterator[None]:
    """Switch to the service role, which sees every tenant, for this block only.

    This is the one way privileged code (admin, seeding, operator commands,
    system tasks) gets past Row Level Security. It is loud on purpose: it
    needs a ``reason``, and every entry is written to the audit trail in the
    same transaction as the work it enables — except with ``audited=False``,
    reserved for staff *reading* in the admin (``StaffAdminServiceContextMiddleware``),
    which is logged (``organizations.tenancy.staff_read``) instead: a page view
    is not a change, and half the audit log used to be page views.
    """
    if not reason.strip():
        raise TenancyError("service_context needs a reason")
    conn = connections[using]
    with transaction.atomic(using=using):
        with conn.cursor() as cursor:
            cursor.execute("SELECT current_user")
            previous_role = cursor.fetchone()[0]
            cursor.execute(
                sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(settings.DB_SERVICE_ROLE))
            )
        if audited:
            audit_record(
                action="system.elevated",
                actor=actor,
                organization_id=organization_id,
                changes={"reason": reason},
                using=using,
            )
            logger.debug("service context entered: %s", reason)
        else:
            actor_id = str(getattr(actor, "pk", "") or "")
            staff_read_logger.info(
                "staff read by %s: %s",
                actor_id,
                reason,
                extra={"actor_id": actor_id, "reason": reason},
            )
        yield
        if not conn.needs_rollback:
            with conn.cursor() as cursor:
                cursor.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(previous_role)))


class StaffAdminServiceContextMiddleware:
    """Staff in ``/admin/`` see every tenant: each admin request by a staff user
    runs inside :func:`service_context`.

    Only requests that can change something (every method but GET, HEAD and
    OPTIONS) are audited as elevations; a page view is logged instead
    (``organizations.tenancy.staff_read``, with the staff user's id, the path
    and the request id of the structured log). The changes themselves are
    audited by the services they call.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        from django.urls import reverse

        self.admin_prefix = reverse("admin:index")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            request.path.startswith(self.admin_prefix)
            and user is not None
            and user.is_authenticated
            and user.is_active
            and user.is_staff
        ):
            token = _staff_acting.set(True)
            try:
                with service_context(
                    reason=f"admin {request.method} {request.path}"[:200],
                    actor=user,
                    audited=request.method not in ("GET", "HEAD", "OPTIONS"),
                ):
                    return self.get_response(request)
            finally:
                _staff_acting.reset(token)
        return self.get_response(request)


# --- privileges -----------------------------------------------------------------


def runtime_roles() -> tuple[str, str]:
    return settings.DB_APP_ROLE, settings.DB_SERVICE_ROLE


def grant_runtime_privileges(using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """Give the runtime roles exactly the DML they need (run after every migrate).

    Append-only models (``append_only = True``) get SELECT and INSERT only.
    Service-only models (``service_only = True``, e.g. installation secrets) get
    nothing for the app role: only the service role (``service_context``) reads them.
    Models with ``secret_columns`` (password hashes, TOTP secrets, recovery codes)
    give the app role SELECT on their other columns only.
    Nobody at runtime gets TRUNCATE (it ignores RLS) or DDL.
    """
    from django.apps import apps

    roles = [sql.Identifier(r) for r in runtime_roles()]
    to_roles = sql.SQL(", ").join(roles)
    statements = [
        sql.SQL("GRANT USAGE ON SCHEMA public, app TO {}").format(to_roles),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(
            to_roles
        ),
        sql.SQL(
            "REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM {}"
        ).format(to_roles),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(to_roles),
        sql.SQL("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA app TO {}").format(to_roles),
    ]
    with connections[using].cursor() as cursor:
        existing = set(connections[using].introspection.table_names(cursor))
    for model in apps.get_models():
        if model._meta.db_table not in existing:
            continue  # e.g. after migrating an app back to zero
        if getattr(model, "append_only", False):
            statements.append(
                sql.SQL("REVOKE UPDATE, DELETE ON {} FROM {}").format(
                    sql.Identifier(model._meta.db_table), to_roles
                )
            )
        secret_columns = getattr(model, "secret_columns", ())
        if secret_columns:
            # SECURITY: secrets at rest (password hashes, TOTP secrets, recovery codes)
            # are not readable by the app role: SELECT on every other column only.
            # Definer functions answer the narrow questions (accounts/passwords.py).
            table = sql.Identifier(model._meta.db_table)
            readable = [
                sql.Identifier(f.column)
                for f in model._meta.concrete_fields
                if f.column not in secret_columns
            ]
            app_role = sql.Identifier(settings.DB_APP_ROLE)
            statements += [
                sql.SQL("REVOKE SELECT ON {} FROM {}").format(table, app_role),
                sql.SQL("GRANT SELECT ({}) ON {} TO {}").format(
                    sql.SQL(", ").join(readable), table, app_role
                ),
            ]
        if getattr(model, "service_only", False):
            statements.append(
                sql.SQL("REVOKE ALL ON {} FROM {}").format(
                    sql.Identifier(model._meta.db_table), sql.Identifier(settings.DB_APP_ROLE)
                )
            )
    with connections[using].cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def connection_role_facts(using: str = DEFAULT_DB_ALIAS) -> dict[str, Any]:
    """What the connection's login role can do: used by the test suite's start-up
    assertion, the health check and ``rls_check``."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            """
            SELECT r.rolname, r.rolsuper, r.rolbypassrls,
                   (SELECT count(*) FROM pg_class c
                     JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE c.relowner = r.oid AND n.nspname IN ('public', 'app'))
              FROM pg_roles r WHERE r.rolname = session_user
            """
        )
        name, superuser, bypassrls, owned = cursor.fetchone()
    return {"role": name, "superuser": superuser, "bypassrls": bypassrls, "owned_relations": owned}
