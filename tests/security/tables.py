"""What the raw-SQL isolation tests need to know about a guarded table, read from the catalogs.

Nothing here is listed by hand: a table added later is covered the moment it
exists (and ``fill_tenant_tables`` puts rows in it).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.db import DatabaseError, connection, transaction
from psycopg import sql

from organizations.rls.checks import ANY_ORG_TABLES, guarded_tables
from organizations.tenancy import service_context

__all__ = ["ANY_ORG_TABLES", "guarded_tables"]


def columns(table: str) -> dict[str, bool]:
    """Column name -> generated (``GENERATED ALWAYS``) for ``table``."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, is_generated = 'ALWAYS' FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
            [table],
        )
        return dict(cursor.fetchall())


def tenant_column(table: str) -> str | None:
    """The column naming a row's organization: ``organization_id``, or the org's own ``id``."""
    if table == "organizations_organization":
        return "id"
    return "organization_id" if "organization_id" in columns(table) else None


def tenant_tables() -> list[str]:
    """Guarded tables whose rows belong to an organization."""
    return [t for t in guarded_tables() if tenant_column(t)]


def count(table: str, where: sql.Composable, params: list[Any]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE {}").format(sql.Identifier(table), where),
            params,
        )
        return cursor.fetchone()[0]


def in_org(table: str) -> sql.Composable:
    """``<tenant column> = %s``."""
    return sql.SQL("{} = %s").format(sql.Identifier(tenant_column(table)))


def rows_of(table: str, org_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every row of ``org_id`` in ``table`` as JSON objects (read in the service context)."""
    with service_context(reason="test: read rows"), connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT to_jsonb(t) FROM {} t WHERE {}").format(
                sql.Identifier(table), in_org(table)
            ),
            [str(org_id)],
        )
        # Django's connection hands jsonb over as text.
        return [json.loads(row[0]) for row in cursor.fetchall()]


def attempt(statement: sql.Composable, params: list[Any]) -> tuple[int, str | None]:
    """Run a write in a savepoint: (rows affected, SQLSTATE of the error or None)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.rowcount, None
    except DatabaseError as exc:
        return 0, getattr(exc.__cause__, "sqlstate", "?")


def insert_copy(table: str, row: dict[str, Any]) -> tuple[int, str | None]:
    """INSERT an exact copy of ``row`` (generated columns left out).

    Row level security checks a new row before any constraint does, so a
    policy that refuses answers 42501; a policy that admits lets the copy reach
    the primary key, which answers 23505. Either way nothing is written.
    """
    names = [name for name, generated in columns(table).items() if not generated]
    cols = sql.SQL(", ").join(sql.Identifier(n) for n in names)
    statement = sql.SQL(
        "INSERT INTO {table} ({cols}) SELECT {cols} FROM jsonb_populate_record(NULL::{table}, %s)"
    ).format(table=sql.Identifier(table), cols=cols)
    return attempt(statement, [json.dumps(row)])


REFUSED = "42501"  # insufficient_privilege: RLS WITH CHECK, or no grant
