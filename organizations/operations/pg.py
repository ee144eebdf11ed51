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
# holding the same rows print them as the same text.
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
    """A table outside the system schemas (a partitioned table stands for its partitions)."""

    schema: str
    name: str

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)


SYSTEM_SCHEMAS = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_'"


def list_tables(conn: psycopg.Connection) -> list[Table]:
    """Every ordinary and partitioned table outside the system schemas (partitions are read
    through their parent), by schema and name."""
    rows = conn.execute(
        f"""
        SELECT n.nspname, c.relname
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND {SYSTEM_SCHEMAS}
         ORDER BY n.nspname, c.relname
        """
    ).fetchall()
    return [Table(schema, name) for schema, name in rows]


# Per row: md5 of the row text, its first 64 bits (16 hex digits) as a signed bigint.
# sum(bigint) is numeric and exact, so it cannot overflow; Python reduces it modulo 2**64.
_CHECKSUM_QUERY = sql.SQL(
    "SELECT count(*), coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint), 0) FROM {} t"
)


def table_checksum(conn: psycopg.Connection, table: Table) -> tuple[int, str]:
    """``(rows, digest)``: the row count and an order-independent fingerprint of the rows.

    Computed in one aggregate in the server, with nothing sorted and nothing
    sent to the client: for every row, the md5 of its row text (``t::text``,
    every column in column order as the record prints it) is taken as a
    64-bit number, and the numbers are added up modulo 2**64. ``digest`` is
    that sum as 16 hex digits.

    * Row order does not matter (a restore, ``VACUUM FULL`` or a different
      plan may return rows in another order); how often a row occurs does:
      a duplicated or missing row changes both the count and the sum. Two
      tables holding the same multiset of rows have the same fingerprint.
    * A changed row goes unnoticed only if the sum happens to come out the
      same (a chance of about 2**-64). This detects damage and mistakes, not
      tampering: the sum can be steered deliberately. The dump file itself is
      protected by its sha256.
    * md5 gives the same value on every server, whatever its build or byte
      order, so a backup verifies wherever it is restored. PostgreSQL's own
      ``hashtextextended`` would save about a quarter of the time, but it is
      an undocumented internal hash whose values depend on the byte order.
    * Most of the cost is printing the rows (``t::text``); the aggregate is
      parallel safe, so the planner may spread a large table over workers.

    Row text depends on session settings: the caller pins them
    (:func:`pin_output_settings`) and chooses the snapshot.
    """
    row = conn.execute(_CHECKSUM_QUERY.format(table.ident)).fetchone()
    assert row is not None
    rows, total = row
    return int(rows), f"{int(total) % 2**64:016x}"


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
