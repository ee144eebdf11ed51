"""PostgreSQL plumbing shared by the operations.

The operations need what the ORM does not offer: a second login (the schema
owner, for backups and restore checks), snapshot export, COPY, databases other
than the configured one (restore targets, scratch databases) and the client
programs (``pg_dump``/``pg_restore``), which must be at least as new as the
server. Everything here talks to PostgreSQL with psycopg directly.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import sql

from organizations.tenancy import OWNER_DB_ALIAS


class OperationError(Exception):
    """An operation refused or failed. The message is written for the operator
    and says whether anything was changed (by default: nothing was)."""


# Text output of timestamps, intervals, floats and bytea depends on session
# settings; every checksum is computed with these pinned so that two databases
# holding the same rows produce the same bytes.
STABLE_OUTPUT_SETTINGS: tuple[tuple[str, str], ...] = (
    ("TimeZone", "UTC"),
    ("DateStyle", "ISO, YMD"),
    ("IntervalStyle", "postgres"),
    ("extra_float_digits", "1"),
    ("bytea_output", "hex"),
)


def pin_output_settings(cursor: Any, *, local: bool = True) -> None:
    """Pin the settings that change how values print (``local``: for this transaction only)."""
    for name, value in STABLE_OUTPUT_SETTINGS:
        cursor.execute("SELECT set_config(%s, %s, %s)", [name, value, local])


def current_database() -> str:
    """The database the ``default`` alias points at (the test suite re-points it per process)."""
    return connections[DEFAULT_DB_ALIAS].settings_dict["NAME"]


# --- logins -------------------------------------------------------------------


@dataclass(frozen=True)
class Login:
    """One role's credentials on one database, for psycopg and for libpq programs."""

    user: str
    dbname: str
    password: str = ""
    host: str = ""
    port: str = ""

    def connect(self, **kwargs: Any) -> psycopg.Connection:
        try:
            return psycopg.connect(
                dbname=self.dbname,
                user=self.user,
                password=self.password or None,
                host=self.host or None,
                port=self.port or None,
                **kwargs,
            )
        except psycopg.OperationalError as exc:
            raise OperationError(
                f"cannot connect to database {self.dbname} as {self.user}: {exc}".strip()
            ) from exc

    def env(self) -> dict[str, str]:
        """Environment for ``pg_dump``/``pg_restore``.

        SECURITY: the password travels in ``PGPASSWORD``, never on a command
        line (visible to every local user in the process list). Inherited
        ``PG*`` variables are dropped so they cannot redirect the program.
        """
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(PGUSER=self.user, PGDATABASE=self.dbname)
        if self.host:
            env["PGHOST"] = self.host
        if self.port:
            env["PGPORT"] = str(self.port)
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def on(self, dbname: str) -> Login:
        return replace(self, dbname=dbname)


def owner_login(dbname: str | None = None) -> Login:
    """The schema owner's login (``DATABASE_OWNER_URL``) on ``dbname`` (default: the current one).

    The owner is BYPASSRLS, so it sees every row without switching RLS off
    per table; it is what ``pg_dump`` and the manifest queries run as.
    """
    cfg = connections[OWNER_DB_ALIAS].settings_dict
    return Login(
        user=cfg["USER"],
        password=cfg.get("PASSWORD") or "",
        host=cfg.get("HOST") or "",
        port=str(cfg.get("PORT") or ""),
        dbname=dbname or current_database(),
    )


def require_admin(purpose: str) -> None:
    if not settings.DATABASE_ADMIN:
        raise OperationError(
            f"{purpose} needs DATABASE_ADMIN_URL (a role that may create and drop databases)."
        )


def database_exists(name: str) -> bool:
    with owner_login().connect(autocommit=True) as conn:
        return (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            is not None
        )


def sees_every_row(conn: psycopg.Connection) -> tuple[str, bool]:
    """``(role, whether RLS can hide rows from it)`` for the connection's current role."""
    row = conn.execute(
        "SELECT rolname, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert row is not None
    return row[0], bool(row[1])


def server_major(conn: psycopg.Connection) -> int:
    return conn.info.server_version // 10000


# --- client programs ------------------------------------------------------------


def client_program(name: str) -> Path:
    """``pg_dump``/``pg_restore`` to run: the embedded server's own binaries, else
    ``PG_BIN_DIR``'s, else the first on ``PATH``."""
    if settings.EMBEDDED_DB:
        from config import embedded_db

        path = embedded_db.bin_dir() / name
    elif os.environ.get("PG_BIN_DIR"):
        path = Path(os.environ["PG_BIN_DIR"]) / name
    else:
        found = shutil.which(name)
        if not found:
            raise OperationError(f"{name} was not found on PATH; install it or set PG_BIN_DIR.")
        path = Path(found)
    if not path.is_file():
        raise OperationError(f"{name} was not found at {path}.")
    return path


def program_version(path: Path) -> tuple[str, int]:
    """``("pg_dump (PostgreSQL) 18.4", 18)``."""
    out = subprocess.run(  # noqa: S603 - a PostgreSQL client program, fixed arguments
        [str(path), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", out)
    if not match:
        raise OperationError(f"cannot tell the version of {path}: {out!r}")
    return out, int(match.group(1))


def check_program_compatible(program: str, program_major: int, server_major: int) -> None:
    """Refuse a client program older than the server (an old ``pg_dump`` cannot read a newer
    server's catalogs correctly; PostgreSQL itself refuses some combinations)."""
    if program_major < server_major:
        raise OperationError(
            f"{program} {program_major} is older than the PostgreSQL {server_major} server; "
            f"use {program} {server_major} or newer (set PG_BIN_DIR to its directory)."
        )


def compatible_program(name: str, conn: psycopg.Connection) -> tuple[Path, str]:
    path = client_program(name)
    text, major = program_version(path)
    check_program_compatible(name, major, server_major(conn))
    return path, text


def run_program(args: list[str], login: Login, *, what: str) -> subprocess.CompletedProcess[str]:
    """Run a client program as ``login``; a non-zero exit becomes an :class:`OperationError`
    carrying the end of its stderr."""
    done = subprocess.run(  # noqa: S603 - argument list, no shell
        args, env=login.env(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise OperationError(f"{what} failed: {tail(done.stderr)}")
    return done


def tail(text: str, lines: int = 8) -> str:
    return "\n".join(text.strip().splitlines()[-lines:]) or "(no output)"


# --- catalog ------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """A table and how to read its rows in a stable order."""

    schema: str
    name: str
    # (column, collatable): text keys sort with COLLATE "C" so that the order,
    # and therefore the checksum, does not depend on the database's collation.
    key: tuple[tuple[str, bool], ...]

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    def order_by(self, alias: str = "t") -> sql.Composable:
        if not self.key:
            return sql.SQL('({}::text) COLLATE "C"').format(sql.Identifier(alias))
        return sql.SQL(", ").join(
            sql.SQL('{} COLLATE "C"' if collatable else "{}").format(sql.Identifier(alias, column))
            for column, collatable in self.key
        )


SYSTEM_SCHEMAS = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_'"


def list_tables(conn: psycopg.Connection) -> list[Table]:
    """Every ordinary and partitioned table outside the system schemas (partitions are read
    through their parent), with its primary key."""
    rows = conn.execute(
        f"""
        SELECT n.nspname, c.relname,
               coalesce(pk.columns, '{{}}'), coalesce(pk.collatable, '{{}}')
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN LATERAL (
                SELECT array_agg(a.attname::text ORDER BY k.ord) AS columns,
                       array_agg(a.attcollation <> 0 ORDER BY k.ord) AS collatable
                  FROM pg_index i
                 CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
                  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                 WHERE i.indrelid = c.oid AND i.indisprimary) pk ON true
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND {SYSTEM_SCHEMAS}
         ORDER BY n.nspname, c.relname
        """
    ).fetchall()
    return [
        Table(schema, name, tuple(zip(cols, coll, strict=True)))
        for schema, name, cols, coll in rows
    ]


def table_checksum(conn: psycopg.Connection, table: Table) -> tuple[int, str]:
    """``(rows, sha256)`` of the table's COPY text output in key order.

    Streams the table through the client, so it works for tables of any size
    (``string_agg`` would hit the 1 GB value limit). The caller pins the
    output settings (:func:`pin_output_settings`) and the snapshot.
    """
    query = sql.SQL("COPY (SELECT * FROM {} t ORDER BY {}) TO STDOUT").format(
        table.ident, table.order_by()
    )
    digest = hashlib.sha256()
    rows = 0
    with conn.cursor() as cursor, cursor.copy(query) as copy:
        for chunk in copy:
            data = bytes(chunk)
            digest.update(data)
            # COPY text format escapes newlines inside values: one line per row.
            rows += data.count(b"\n")
    return rows, digest.hexdigest()


def rls_state(conn: psycopg.Connection) -> dict[str, Any]:
    """What must come back identical after a restore: per table RLS enabled/forced, every
    policy (command, roles, expressions) and trigger; and the definition of every function
    in the ``app`` schema (the claim helpers the policies call)."""
    tables: dict[str, dict[str, Any]] = {}
    for schema, name, enabled, forced in conn.execute(
        f"""
        SELECT n.nspname, c.relname, c.relrowsecurity, c.relforcerowsecurity
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND {SYSTEM_SCHEMAS}
        """
    ):
        tables[f"{schema}.{name}"] = {
            "enabled": enabled,
            "forced": forced,
            "policies": {},
            "triggers": {},
        }
    for schema, table, policy, permissive, roles, command, using, check in conn.execute(
        "SELECT schemaname, tablename, policyname, permissive, roles::text[], cmd, qual,"
        " with_check FROM pg_policies"
    ):
        tables[f"{schema}.{table}"]["policies"][policy] = {
            "command": command,
            "permissive": permissive,
            "roles": sorted(roles),
            "using": using,
            "with_check": check,
        }
    for schema, table, trigger, definition in conn.execute(
        f"""
        SELECT n.nspname, c.relname, t.tgname, pg_get_triggerdef(t.oid)
          FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE NOT t.tgisinternal AND {SYSTEM_SCHEMAS}
        """
    ):
        tables[f"{schema}.{table}"]["triggers"][trigger] = definition
    functions = {
        signature: hashlib.sha256(definition.encode()).hexdigest()
        for signature, definition in conn.execute(
            "SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid)"
            " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = 'app'"
        )
    }
    return {"tables": dict(sorted(tables.items())), "functions": dict(sorted(functions.items()))}


def applied_migrations(conn: psycopg.Connection) -> dict[str, list[str]]:
    """``{app: [migration, ...]}`` from ``django_migrations`` (empty if the table is missing)."""
    if conn.execute("SELECT to_regclass('public.django_migrations')").fetchone() == (None,):
        return {}
    out: dict[str, list[str]] = {}
    for app, name in conn.execute("SELECT app, name FROM django_migrations ORDER BY app, name"):
        out.setdefault(app, []).append(name)
    return out


def object_count(conn: psycopg.Connection) -> int:
    """Relations and functions outside the system schemas: zero means an empty database."""
    row = conn.execute(
        f"""
        SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE {SYSTEM_SCHEMAS})
             + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE {SYSTEM_SCHEMAS})
        """
    ).fetchone()
    assert row is not None
    return int(row[0])


def sha256_file(path: Path, progress: Any = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            if progress is not None:
                progress.update(len(chunk))
    return digest.hexdigest()


def quoted(names: Iterable[str]) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)
