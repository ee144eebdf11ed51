"""The bench databases: created through the admin connection, migrated, loaded with
``manage.py seed --scale`` (COPY), vacuumed and analyzed, then marked.

A database is reused when its marker (a ``COMMENT ON DATABASE``, so no table is
added to the schema the RLS checker and the backups look at) names the same
sizes and seeding steps and a count check agrees; ``--fresh`` rebuilds it.
Migrations are applied on every run (``db_setup`` is idempotent), so a reused
database follows the code.

Settings are read from Django (``config.settings``) in the orchestrator: the
role names, the server (embedded socket or ``DATABASE_URL``) and the admin
login. Child processes get plain URLs for one database each.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from django.conf import settings
from psycopg import sql

BASE_DIR = Path(__file__).resolve().parent.parent
MANAGE = [sys.executable, str(BASE_DIR / "manage.py")]
SEED = 1
MARKER_VERSION = "bench-data/1"


@dataclass(frozen=True)
class Dataset:
    name: str
    orgs: int
    rows_per_org: int

    def marker(self, steps: list[str]) -> str:
        return (
            f"{MARKER_VERSION} orgs={self.orgs} rows_per_org={self.rows_per_org} seed={SEED}"
            f" steps={','.join(steps)}"
        )


LARGE = Dataset("bench_large", orgs=1000, rows_per_org=1000)
SMALL = Dataset("bench_small", orgs=10, rows_per_org=100)


# --- logins and environments ---------------------------------------------------------------


def _url(cfg: dict[str, Any], dbname: str) -> str:
    user = quote(cfg["USER"], safe="")
    password = f":{quote(cfg['PASSWORD'], safe='')}" if cfg.get("PASSWORD") else ""
    host = quote(str(cfg.get("HOST") or ""), safe="")
    port = f":{cfg['PORT']}" if cfg.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{dbname}"


def app_url(dbname: str) -> str:
    """The app role (RLS applies) on ``dbname``."""
    return _url(settings.DATABASES["default"], dbname)


def owner_url(dbname: str) -> str:
    """The schema owner (BYPASSRLS) on ``dbname``."""
    return _url(settings.DATABASES["owner"], dbname)


def admin_url() -> str:
    admin = settings.DATABASE_ADMIN
    if not admin:
        raise SystemExit("make bench needs DATABASE_ADMIN_URL (or the embedded database)")
    return _url(admin, admin["NAME"])


def pg_bin_dir() -> Path | None:
    """The client programs matching the server (the embedded server ships its own)."""
    if settings.EMBEDDED_DB:
        from config import embedded_db

        return embedded_db.bin_dir()
    return Path(os.environ["PG_BIN_DIR"]) if os.environ.get("PG_BIN_DIR") else None


def django_env(dbname: str, **extra: str) -> dict[str, str]:
    """Environment of a development-profile Django process (``manage.py``) on ``dbname``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "DB_NAME"))}
    env |= {
        "DJANGO_ENV": "development",
        "DATABASE_URL": app_url(dbname),
        "DATABASE_OWNER_URL": owner_url(dbname),
        "DATABASE_ADMIN_URL": admin_url(),
    }
    if (bin_dir := pg_bin_dir()) is not None:
        env["PG_BIN_DIR"] = str(bin_dir)
    return env | extra


def admin_connect() -> psycopg.Connection:
    return psycopg.connect(admin_url(), autocommit=True)


def manage(dbname: str, *args: str, quiet: bool = False) -> float:
    """Run ``manage.py args`` on ``dbname``; return its wall time in seconds."""
    started = time.perf_counter()
    subprocess.run(  # noqa: S603 - fixed argument list
        [*MANAGE, *args],
        env=django_env(dbname),
        cwd=BASE_DIR,
        check=True,
        stdout=subprocess.DEVNULL if quiet else None,
    )
    return time.perf_counter() - started


# --- databases ---------------------------------------------------------------


def database_exists(name: str) -> bool:
    with admin_connect() as conn:
        return bool(conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone())


def drop_database(name: str) -> None:
    with admin_connect() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _marker(name: str) -> str | None:
    with admin_connect() as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [name],
        ).fetchone()
    return row[0] if row else None


def _set_marker(name: str, marker: str) -> None:
    with admin_connect() as conn:
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(name), sql.Literal(marker)
            )
        )


def _counts_agree(ds: Dataset, steps: list[str]) -> bool:
    with psycopg.connect(owner_url(ds.name)) as conn:
        orgs = conn.execute(
            "SELECT count(*) FROM organizations_organization WHERE slug LIKE %s",
            [f"scale-{SEED}-%"],
        ).fetchone()[0]
        projects = (
            conn.execute("SELECT count(*) > 0 FROM projects_project").fetchone()[0]
            if "projects" in steps
            else True
        )
    return orgs == ds.orgs and bool(projects)


def vacuum_analyze(name: str) -> None:
    """Fresh COPY-loaded tables: set hint bits and the visibility map and gather statistics
    now, so autovacuum does not start in the middle of a measurement."""
    with psycopg.connect(owner_url(name), autocommit=True) as conn:
        conn.execute("SET client_min_messages = error")
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public'"
            )
        ]
        for table in tables:
            conn.execute(f"VACUUM (ANALYZE) {table}")


@dataclass(frozen=True)
class Prepared:
    dataset: Dataset
    built: bool
    seconds: float


def ensure(ds: Dataset, steps: list[str], *, fresh: bool) -> Prepared:
    """Make ``ds`` exist, migrated and loaded; reuse it when the marker and counts agree."""
    started = time.perf_counter()
    if fresh:
        drop_database(ds.name)
    manage(ds.name, "db_setup", quiet=True)
    marker = ds.marker(steps)
    if _marker(ds.name) == marker and _counts_agree(ds, steps):
        return Prepared(ds, built=False, seconds=time.perf_counter() - started)
    if _marker(ds.name) is not None or _has_scale_rows(ds.name):
        drop_database(ds.name)
        manage(ds.name, "db_setup", quiet=True)
    print(f"  loading {ds.name}: {ds.orgs} orgs x {ds.rows_per_org} rows (seed --scale) ...")
    manage(
        ds.name,
        "seed",
        "--scale",
        f"--orgs={ds.orgs}",
        f"--rows-per-org={ds.rows_per_org}",
        f"--seed={SEED}",
    )
    vacuum_analyze(ds.name)
    _set_marker(ds.name, marker)
    return Prepared(ds, built=True, seconds=time.perf_counter() - started)


def _has_scale_rows(name: str) -> bool:
    with psycopg.connect(owner_url(name)) as conn:
        return bool(
            conn.execute("SELECT EXISTS (SELECT 1 FROM organizations_organization)").fetchone()[0]
        )
