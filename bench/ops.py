"""W6 (seeding) and W7 (backup + restore), each next to its bare PostgreSQL baseline.

W6: ``seed --scale`` into a new, migrated database (timed in-process, without
interpreter start-up), then the *same rows* - read back with ``COPY TO`` - are
loaded with one plain ``COPY FROM`` per table into empty clones of the tables
(``CREATE TABLE ... (LIKE ... INCLUDING ALL)``: same columns, defaults,
generated columns, checks and indexes; no foreign keys, triggers or RLS), in
one transaction as the owner. Both figures are rows/s over the same rows.

W7: ``manage.py backup`` + ``manage.py restore --database NEW`` (which create,
check and verify) of the large bench database, against bare ``pg_dump -Fc`` +
``CREATE DATABASE`` + ``pg_restore --single-transaction --no-owner`` of the same
database with the same binaries. Wall times of the processes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bench import data

BASE_DIR = Path(__file__).resolve().parent.parent
W6_DB = "bench_w6"
W7_BARE_DB = "bench_w7_bare"
W7_RESTORE_DB = "bench_w7_restore"


@dataclass
class SeedResult:
    orgs: int
    rows_per_org: int
    rows: int
    seed_seconds: float
    copy_seconds: float
    tables: dict[str, int]
    seed_table_seconds: dict[str, float]
    copy_table_seconds: dict[str, float]

    @property
    def seed_rps(self) -> float:
        return self.rows / self.seed_seconds

    @property
    def copy_rps(self) -> float:
        return self.rows / self.copy_seconds

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"seed_rps": self.seed_rps, "copy_rps": self.copy_rps}


def _columns(conn: psycopg.Connection, table: str) -> list[str]:
    """Stored, non-generated columns, in table order (what ``seed --scale`` writes)."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
            " AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
            [f"public.{table}"],
        )
    ]


def w6_seed(work: Path, orgs: int, rows_per_org: int) -> SeedResult:
    data.drop_database(W6_DB)
    data.manage(W6_DB, "db_setup", quiet=True)
    out = work / "w6-seed.json"
    subprocess.run(  # noqa: S603 - fixed argument list
        [
            sys.executable,
            str(BASE_DIR / "bench" / "inproc.py"),
            "seed",
            str(out),
            f"--orgs={orgs}",
            f"--rows-per-org={rows_per_org}",
        ],
        env=data.django_env(W6_DB),
        cwd=BASE_DIR,
        check=True,
    )
    seeded = json.loads(out.read_text())
    tables = {t: n for t, n in seeded["rows"].items() if n > 0}
    with psycopg.connect(data.owner_url(W6_DB), autocommit=True) as conn:
        columns = {t: _columns(conn, t) for t in tables}
        dumps: dict[str, bytes] = {}
        for table, cols in columns.items():
            buf = bytearray()
            statement = sql.SQL("COPY {} ({}) TO STDOUT").format(
                sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, cols))
            )
            with conn.cursor() as cur, cur.copy(statement) as copy:
                for chunk in copy:
                    buf += chunk
            dumps[table] = bytes(buf)
        conn.execute("DROP SCHEMA IF EXISTS bench_copy CASCADE")
        conn.execute("CREATE SCHEMA bench_copy")
        for table in tables:
            conn.execute(
                sql.SQL("CREATE TABLE bench_copy.{} (LIKE public.{} INCLUDING ALL)").format(
                    sql.Identifier(table), sql.Identifier(table)
                )
            )
        copy_tables: dict[str, float] = {}
        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur:
            for table, cols in columns.items():
                statement = sql.SQL("COPY bench_copy.{} ({}) FROM STDIN").format(
                    sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, cols))
                )
                payload = memoryview(dumps[table])
                table_started = time.perf_counter()
                with cur.copy(statement) as copy:
                    for offset in range(0, len(payload), 1 << 20):
                        copy.write(payload[offset : offset + (1 << 20)])
                copy_tables[table] = time.perf_counter() - table_started
        copy_seconds = time.perf_counter() - started
    data.drop_database(W6_DB)
    return SeedResult(
        orgs=orgs,
        rows_per_org=rows_per_org,
        rows=sum(tables.values()),
        seed_seconds=seeded["seconds"],
        copy_seconds=copy_seconds,
        tables=tables,
        seed_table_seconds=seeded.get("table_seconds", {}),
        copy_table_seconds=copy_tables,
    )


@dataclass
class BackupResult:
    database: str
    available: bool
    dump_bytes: int = 0
    bare_dump_seconds: float = 0.0
    bare_restore_seconds: float = 0.0
    backup_seconds: float = 0.0
    restore_seconds: float = 0.0
    note: str = ""

    @property
    def bare_seconds(self) -> float:
        return self.bare_dump_seconds + self.bare_restore_seconds

    @property
    def managed_seconds(self) -> float:
        return self.backup_seconds + self.restore_seconds

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {
            "bare_seconds": self.bare_seconds,
            "managed_seconds": self.managed_seconds,
        }


def _commands_available() -> bool:
    commands = BASE_DIR / "organizations" / "management" / "commands"
    return (commands / "backup.py").is_file() and (commands / "restore.py").is_file()


def _program(name: str) -> str:
    bin_dir = data.pg_bin_dir()
    found = str(bin_dir / name) if bin_dir else shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found: set PG_BIN_DIR")
    return found


def _timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    return time.perf_counter() - started


def _libpq_env() -> dict[str, str]:
    """No inherited ``PG*`` variable may redirect the client programs."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def w7_backup(work: Path, dbname: str) -> BackupResult:
    result = BackupResult(database=dbname, available=_commands_available())
    if not result.available:
        result.note = "not available (no backup/restore commands)"
        return result
    work.mkdir(parents=True, exist_ok=True)
    dump = work / "bare.dump"
    dump.unlink(missing_ok=True)
    for name in (W7_BARE_DB, W7_RESTORE_DB):
        data.drop_database(name)
    # Bare: the same binaries, the same format and restore options as the commands use.
    owner = data.owner_url(dbname)
    result.bare_dump_seconds = _timed(
        [_program("pg_dump"), "--format=custom", "--no-password", f"--file={dump}", owner],
        _libpq_env(),
    )
    result.dump_bytes = dump.stat().st_size
    target = data.owner_url(W7_BARE_DB)
    started = time.perf_counter()
    with data.admin_connect() as conn:
        owner_role = psycopg.conninfo.conninfo_to_dict(owner)["user"]
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0").format(
                sql.Identifier(W7_BARE_DB), sql.Identifier(str(owner_role))
            )
        )
    subprocess.run(  # noqa: S603
        [
            _program("pg_restore"),
            "--exit-on-error",
            "--single-transaction",
            "--no-owner",
            f"--dbname={target}",
            str(dump),
        ],
        env=_libpq_env(),
        check=True,
    )
    result.bare_restore_seconds = time.perf_counter() - started
    data.drop_database(W7_BARE_DB)
    dump.unlink()
    # Managed: the platform's commands, with their checksums, manifest and verification.
    backups = work / "backups"
    shutil.rmtree(backups, ignore_errors=True)
    result.backup_seconds = data.manage(dbname, "backup", f"--output={backups}", quiet=True)
    (made,) = [p for p in backups.iterdir() if p.is_dir()]
    result.restore_seconds = data.manage(
        dbname, "restore", str(made), f"--database={W7_RESTORE_DB}", quiet=True
    )
    data.drop_database(W7_RESTORE_DB)
    shutil.rmtree(backups, ignore_errors=True)
    return result
