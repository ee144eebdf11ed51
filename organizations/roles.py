"""Creating the three database roles and the database (needs an admin connection).

* owner  (LOGIN, BYPASSRLS): owns the schema; runs migrations; SECURITY DEFINER
  helpers run as it, so they can read memberships without recursing into RLS.
* app    (LOGIN, NOINHERIT): what every process connects as; RLS applies; owns
  nothing; has a statement_timeout; may ``SET LOCAL ROLE`` to the service role.
* service (NOLOGIN, BYPASSRLS): reached only through ``service_context``.
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.conf import settings
from psycopg import sql


def admin_connect(dbname: str | None = None) -> psycopg.Connection:
    cfg: dict[str, Any] = settings.DATABASE_ADMIN
    return psycopg.connect(
        dbname=dbname or cfg["NAME"],
        user=cfg["USER"],
        password=cfg.get("PASSWORD") or None,
        host=cfg.get("HOST") or None,
        port=cfg.get("PORT") or None,
        autocommit=True,
    )


def _role_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone() is not None


def _ensure_role(conn: psycopg.Connection, name: str, attributes: str, password: str) -> bool:
    ident = sql.Identifier(name)
    created = not _role_exists(conn, name)
    if created:
        conn.execute(sql.SQL("CREATE ROLE {} " + attributes).format(ident))
    else:
        conn.execute(sql.SQL("ALTER ROLE {} " + attributes).format(ident))
    if password:
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(ident, sql.Literal(password)))
    return created


def ensure_roles_and_database(database_name: str | None = None) -> list[str]:
    """Create or correct roles and the database; return what was created."""
    owner = settings.DATABASES["owner"]
    app = settings.DATABASES["default"]
    db_name = database_name or app["NAME"]
    service = settings.DB_SERVICE_ROLE
    done: list[str] = []
    with admin_connect() as conn:
        if _ensure_role(
            conn,
            owner["USER"],
            "LOGIN NOSUPERUSER BYPASSRLS NOCREATEROLE",
            owner.get("PASSWORD", ""),
        ):
            done.append(f"created owner role {owner['USER']}")
        if _ensure_role(
            conn,
            app["USER"],
            "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT",
            app.get("PASSWORD", ""),
        ):
            done.append(f"created app role {app['USER']}")
        if _ensure_role(conn, service, "NOLOGIN NOSUPERUSER BYPASSRLS NOCREATEDB NOCREATEROLE", ""):
            done.append(f"created service role {service}")
        conn.execute(
            sql.SQL("GRANT {} TO {}").format(sql.Identifier(service), sql.Identifier(app["USER"]))
        )
        conn.execute(
            sql.SQL("ALTER ROLE {} SET statement_timeout = {}").format(
                sql.Identifier(app["USER"]), sql.Literal(settings.DB_STATEMENT_TIMEOUT)
            )
        )
        conn.execute(
            sql.SQL("ALTER ROLE {} SET idle_in_transaction_session_timeout = '60s'").format(
                sql.Identifier(app["USER"])
            )
        )
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db_name]).fetchone()
        if not exists:
            create_database(conn, db_name)
            done.append(f"created database {db_name}")
    return done


def create_database(conn: psycopg.Connection, name: str) -> None:
    owner = settings.DATABASES["owner"]["USER"]
    conn.execute(
        sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8' TEMPLATE template0").format(
            sql.Identifier(name), sql.Identifier(owner)
        )
    )
    conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(name)))
    for role in (settings.DATABASES["default"]["USER"], settings.DB_SERVICE_ROLE):
        conn.execute(
            sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
                sql.Identifier(name), sql.Identifier(role)
            )
        )


def drop_database(conn: psycopg.Connection, name: str) -> None:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
