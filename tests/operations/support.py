"""Helpers for the operations tests: other databases, and fingerprints computed
independently of the code under test (plain ``string_agg`` checksums)."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from django.db import connection, connections
from psycopg import sql

from audit.models import AuditEvent
from organizations.operations.pg import owner_login
from organizations.operations.schema import tenant_tables
from organizations.tenancy import service_context

ALIASES = ("default", "owner")


@contextmanager
def use_database(name: str) -> Iterator[None]:
    """Point the ``default`` and ``owner`` aliases at ``name`` (another "installation")."""
    saved = {alias: connections[alias].settings_dict["NAME"] for alias in ALIASES}
    for alias in ALIASES:
        connections[alias].close()
        connections[alias].settings_dict["NAME"] = name
    try:
        yield
    finally:
        for alias, original in saved.items():
            connections[alias].close()
            connections[alias].settings_dict["NAME"] = original


def owner_connect(dbname: str | None = None) -> psycopg.Connection:
    return owner_login(dbname).connect(autocommit=True)


def database_fingerprint(dbname: str | None = None) -> dict[str, tuple[int, str]]:
    """``{table: (rows, md5 of every row's text)}`` for every table, read as the owner."""
    out = {}
    with owner_connect(dbname) as conn:
        tables = conn.execute(
            "SELECT schemaname, tablename FROM pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
        ).fetchall()
        for schema, table in tables:
            out[f"{schema}.{table}"] = conn.execute(
                sql.SQL(
                    "SELECT count(*), md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), ''))"
                    " FROM {} x"
                ).format(sql.Identifier(schema, table))
            ).fetchone()
    return out


def rls_snapshot(dbname: str | None = None) -> dict[str, Any]:
    """RLS flags of every public table and every policy, straight from the catalogs."""
    with owner_connect(dbname) as conn:
        flags = conn.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1"
        ).fetchall()
        policies = conn.execute(
            "SELECT tablename, policyname, cmd, roles::text[], qual, with_check FROM pg_policies"
            " ORDER BY 1, 2"
        ).fetchall()
    return {"flags": flags, "policies": policies}


def org_fingerprint(org_id: Any) -> dict[str, tuple[int, str]]:
    """``{table: (rows, md5)}`` of one organization's rows in every tenant table but the
    audit trail (compared separately: it only ever grows)."""
    out = {}
    with service_context(reason="test fingerprint"), connection.cursor() as cursor:
        for table in tenant_tables():
            if table.model is AuditEvent:
                continue
            cursor.execute(
                sql.SQL(
                    "SELECT count(*), md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), ''))"
                    " FROM {} x WHERE {} = %s"
                ).format(sql.Identifier(table.table), sql.Identifier(table.org_column)),
                [str(org_id)],
            )
            out[table.table] = cursor.fetchone()
    return out


def org_exists(slug: str) -> bool:
    """Whether the organization exists (read in the service context: RLS hides it otherwise)."""
    from organizations.models import Organization

    with service_context(reason="test read"):
        return Organization.objects.filter(slug=slug).exists()


def audit_events(org_id: Any) -> dict[str, tuple[Any, ...]]:
    """``{event id: (sequence, action, prev_hash, hash)}`` of one organization's chain."""
    with service_context(reason="test audit read"), connection.cursor() as cursor:
        cursor.execute(
            "SELECT id::text, sequence, action, prev_hash, hash FROM audit_auditevent"
            " WHERE organization_id = %s",
            [str(org_id)],
        )
        return {row[0]: tuple(row[1:]) for row in cursor.fetchall()}


def archive_member(path: Path, name: str) -> list[dict[str, Any]] | dict[str, Any]:
    with tarfile.open(path, "r:gz") as tar:
        data = tar.extractfile(name).read().decode()  # type: ignore[union-attr]
    if name.endswith(".json"):
        return json.loads(data)
    return [json.loads(line) for line in data.splitlines()]


def rewrite_archive(source: Path, target: Path, edit: Any) -> None:
    """Copy an archive, passing each member's bytes through ``edit(name, data) -> data``."""
    import io

    with tarfile.open(source, "r:gz") as src, tarfile.open(target, "w:gz") as dst:
        for member in src.getmembers():
            data = edit(member.name, src.extractfile(member).read())  # type: ignore[union-attr]
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
