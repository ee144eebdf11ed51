"""Whole-database backups: ``backup``, ``restore``, ``backup_verify``.

A backup is a directory ``<database>-<UTC timestamp>/`` holding

* ``database.dump`` — ``pg_dump --format=custom`` (or ``database.dump.enc``:
  the same bytes encrypted with Fernet, see :class:`EncryptingWriter`), and
* ``manifest.json`` — per table row count and checksum, RLS state (enabled,
  forced, every policy and trigger, the ``app`` helper functions), applied
  migrations, tool versions, creation time, and the dump file's size and sha256.

**Consistency.** The manifest and the dump describe the same instant: the
owner opens a REPEATABLE READ transaction, exports its snapshot
(``pg_export_snapshot()``), starts ``pg_dump --snapshot=...`` on it and
computes the manifest inside the same transaction while the dump runs.

**Who reads.** ``pg_dump`` and the manifest run as the schema owner
(``DATABASE_OWNER_URL``), which is BYPASSRLS and so sees every row. A login
that RLS applies to is refused before anything is written (``pg_dump`` would
fail on forced RLS anyway; ``--enable-row-security`` would silently dump a
subset and is never used).

**Atomic output.** Everything is written into ``.<name>.partial/`` and
renamed at the end; any failure removes the partial directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import IO, Any

import django
import psycopg
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.db import connections
from psycopg import IsolationLevel
from tqdm import tqdm

from organizations import roles
from organizations.operations.pg import (
    Login,
    OperationError,
    applied_migrations,
    compatible_program,
    current_database,
    database_exists,
    list_tables,
    object_count,
    owner_login,
    pin_output_settings,
    require_admin,
    rls_state,
    run_program,
    sees_every_row,
    sha256_file,
    table_checksum,
    tail,
)

# Version 2: per-table checksums are order-independent md5 sums (see table_checksum);
# version 1 manifests hold sha256 of the ordered COPY output, which this code cannot
# recompute, so they are refused with a message rather than failing every table.
BACKUP_FORMAT = "saas-backup/2"
OLD_FORMATS = ("saas-backup/1",)
MANIFEST = "manifest.json"
DUMP = "database.dump"
ENCRYPTED_DUMP = "database.dump.enc"
KEY_ENV = "BACKUP_ENCRYPTION_KEY"
CHECKSUM_METHOD = (
    "sum over rows of the first 64 bits of md5(t::text) as a signed bigint, modulo 2^64,"
    " as 16 hex digits; TimeZone=UTC, DateStyle=ISO, IntervalStyle=postgres,"
    " extra_float_digits=1, bytea_output=hex"
)


# --- encryption -------------------------------------------------------------------

FRAME_MAGIC = b"SAASBAK1"
FRAME_PLAINTEXT = 4 << 20  # bytes of dump per Fernet token
_FRAME_HEADER = struct.Struct(">QB")  # frame index, final flag
_FRAME_LENGTH = struct.Struct(">I")


def encryption_keys() -> MultiFernet:
    """Keys from ``BACKUP_ENCRYPTION_KEY``: comma-separated Fernet keys; the first encrypts,
    all decrypt (rotate by putting a new key first and keeping the old ones)."""
    keys = [k.strip() for k in os.environ.get(KEY_ENV, "").split(",") if k.strip()]
    if not keys:
        raise OperationError(f"{KEY_ENV} is not set: it is needed to encrypt or decrypt backups.")
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError as exc:
        raise OperationError(
            f"{KEY_ENV} is not a list of Fernet keys (32 url-safe base64 bytes each)."
        ) from exc


class EncryptingWriter:
    """Encrypts a stream into length-prefixed Fernet tokens ("frames").

    Fernet has no streaming mode, so the dump is cut into frames of
    :data:`FRAME_PLAINTEXT` bytes. Each frame's plaintext starts with its index
    and a final-frame flag: reordered, missing or cut-off frames are detected,
    not only edited bytes (which Fernet's HMAC already catches).
    """

    def __init__(self, fh: IO[bytes], fernet: MultiFernet) -> None:
        self.fh = fh
        self.fernet = fernet
        self.buffer = bytearray()
        self.index = 0
        fh.write(FRAME_MAGIC)

    def write(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= FRAME_PLAINTEXT:
            self._frame(bytes(self.buffer[:FRAME_PLAINTEXT]), final=False)
            del self.buffer[:FRAME_PLAINTEXT]

    def close(self) -> None:
        self._frame(bytes(self.buffer), final=True)
        self.buffer.clear()

    def _frame(self, data: bytes, *, final: bool) -> None:
        token = self.fernet.encrypt(_FRAME_HEADER.pack(self.index, final) + data)
        self.fh.write(_FRAME_LENGTH.pack(len(token)) + token)
        self.index += 1


def decrypt_dump(source: Path, target: Path, fernet: MultiFernet, progress: Any = None) -> None:
    """Undo :class:`EncryptingWriter`; raise :class:`OperationError` on a wrong key or a
    damaged, truncated or reordered file."""
    with source.open("rb") as fin, target.open("wb") as fout:
        if fin.read(len(FRAME_MAGIC)) != FRAME_MAGIC:
            raise OperationError(f"{source.name} is not an encrypted backup (bad header).")
        index = 0
        while True:
            head = fin.read(_FRAME_LENGTH.size)
            if len(head) < _FRAME_LENGTH.size:
                raise OperationError(f"{source.name} is truncated (no final frame).")
            (length,) = _FRAME_LENGTH.unpack(head)
            token = fin.read(length)
            if len(token) < length:
                raise OperationError(f"{source.name} is truncated (frame {index} is cut off).")
            try:
                plain = fernet.decrypt(token)
            except InvalidToken:
                raise OperationError(
                    f"cannot decrypt {source.name}: wrong {KEY_ENV}, or the file is damaged."
                ) from None
            got, final = _FRAME_HEADER.unpack(plain[: _FRAME_HEADER.size])
            if got != index:
                raise OperationError(
                    f"{source.name} is damaged (frame {got} where {index} was due)."
                )
            fout.write(plain[_FRAME_HEADER.size :])
            if progress is not None:
                progress.update(_FRAME_LENGTH.size + length)
            index += 1
            if final:
                break
        if fin.read(1):
            raise OperationError(f"{source.name} is damaged (data after the final frame).")


# --- the dump process ----------------------------------------------------------------


class _HashingWriter:
    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.fh.write(data)
        self.digest.update(data)
        self.size += len(data)


class _DumpProcess:
    """``pg_dump`` writing into ``path`` (encrypted on the fly if asked), run by a thread
    so the manifest can be computed meanwhile in the exporting transaction."""

    def __init__(
        self, program: Path, login: Login, snapshot: str, path: Path, fernet: MultiFernet | None
    ) -> None:
        self.path = path
        self.fernet = fernet
        self.plain = hashlib.sha256()
        self.plain_size = 0
        self.file: _HashingWriter | None = None
        self.error: BaseException | None = None
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self.progress = tqdm(desc="pg_dump", unit="B", unit_scale=True, disable=None, position=1)
        self.process = subprocess.Popen(  # noqa: S603 - argument list, no shell
            [
                str(program),
                "--format=custom",
                f"--snapshot={snapshot}",
                "--no-password",
                "--lock-wait-timeout=60s",
            ],
            env=login.env(),
            stdout=subprocess.PIPE,
            stderr=self.stderr,
        )
        self.thread = threading.Thread(target=self._pump, name="pg_dump-writer", daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                self.file = _HashingWriter(fh)
                sink: Any = EncryptingWriter(self.file, self.fernet) if self.fernet else self.file
                while chunk := self.process.stdout.read(1 << 20):
                    self.plain.update(chunk)
                    self.plain_size += len(chunk)
                    sink.write(chunk)
                    self.progress.update(len(chunk))
                if self.fernet:
                    sink.close()
                fh.flush()
                os.fsync(fh.fileno())
        except BaseException as exc:  # surfaced by wait()
            self.error = exc

    def wait(self) -> dict[str, Any]:
        self.thread.join()
        if self.error is not None:
            self.stop()
            raise OperationError(f"writing the dump failed: {self.error}") from self.error
        code = self.process.wait()
        if code != 0:
            self.stderr.seek(0)
            message = self.stderr.read().decode(errors="replace")
            raise OperationError(f"pg_dump failed (exit {code}): {tail(message)}")
        assert self.file is not None
        return {
            "file": self.path.name,
            "format": "custom",
            "bytes": self.file.size,
            "sha256": self.file.digest.hexdigest(),
            "plain_bytes": self.plain_size,
            "plain_sha256": self.plain.hexdigest(),
            "encryption": (
                {"scheme": "fernet-frames/1", "key_env": KEY_ENV, "frame_bytes": FRAME_PLAINTEXT}
                if self.fernet
                else None
            ),
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.thread.join(timeout=10)
        self.progress.close()
        self.stderr.close()


# --- manifest ---------------------------------------------------------------------------


def fingerprint(conn: psycopg.Connection, *, desc: str = "checksums") -> dict[str, Any]:
    """Row counts and checksums of every table, the RLS state and the applied migrations,
    as ``conn``'s current snapshot sees them (the caller opens the transaction)."""
    tables = {}
    for table in tqdm(list_tables(conn), desc=desc, unit="table", disable=None, position=0):
        rows, digest = table_checksum(conn, table)
        tables[table.qualified] = {"rows": rows, "checksum": digest}
    return {
        "tables": tables,
        "rls": rls_state(conn),
        "migrations": applied_migrations(conn),
    }


def _begin_snapshot(conn: psycopg.Connection) -> None:
    """Start a read-only REPEATABLE READ transaction that sees every row, with stable output."""
    conn.rollback()
    conn.isolation_level = IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    # With row_security off, a login RLS applies to errors out instead of
    # silently reading a subset (the check in backup_create catches it first).
    conn.execute("SET LOCAL row_security = off")
    pin_output_settings(conn)


def _app_version() -> str:
    try:
        return metadata.version("saas-platform")
    except metadata.PackageNotFoundError:
        return "unknown"


def differences(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Human-readable differences between a manifest and a restored database's fingerprint."""
    out: list[str] = []
    want, got = expected["tables"], actual["tables"]
    out += [f"table {name} is missing" for name in sorted(want.keys() - got.keys())]
    out += [f"table {name} is not in the backup" for name in sorted(got.keys() - want.keys())]
    for name in sorted(want.keys() & got.keys()):
        if want[name]["rows"] != got[name]["rows"]:
            out.append(f"{name}: {got[name]['rows']} rows, the manifest says {want[name]['rows']}")
        elif want[name]["checksum"] != got[name]["checksum"]:
            out.append(f"{name}: same row count but different content (checksum)")
    want_rls, got_rls = expected["rls"]["tables"], actual["rls"]["tables"]
    for name in sorted(want_rls.keys() & got_rls.keys()):
        w, g = want_rls[name], got_rls[name]
        for flag in ("enabled", "forced"):
            if w[flag] != g[flag]:
                out.append(f"{name}: row level security {flag} is {g[flag]}, was {w[flag]}")
        for kind, noun in (("policies", "policy"), ("triggers", "trigger")):
            out += [
                f"{name}: {noun} {i} is missing" for i in sorted(w[kind].keys() - g[kind].keys())
            ]
            out += [
                f"{name}: unexpected {noun} {i}" for i in sorted(g[kind].keys() - w[kind].keys())
            ]
            out += [
                f"{name}: {noun} {i} differs"
                for i in sorted(w[kind].keys() & g[kind].keys())
                if w[kind][i] != g[kind][i]
            ]
    want_fn, got_fn = expected["rls"]["functions"], actual["rls"]["functions"]
    out += [f"function {f} is missing" for f in sorted(want_fn.keys() - got_fn.keys())]
    out += [f"unexpected function {f}" for f in sorted(got_fn.keys() - want_fn.keys())]
    out += [
        f"function {f} has a different definition"
        for f in sorted(want_fn.keys() & got_fn.keys())
        if want_fn[f] != got_fn[f]
    ]
    if expected["migrations"] != actual["migrations"]:
        out.append("applied migrations differ from the manifest")
    return out


# --- backup -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: dict[str, Any]
    seconds: float
    removed: list[Path] = field(default_factory=list)


def backup_create(
    *, output_dir: Path, keep: int | None = None, encrypt: bool = False
) -> BackupResult:
    """Back up the current database into a new directory under ``output_dir``.

    Contract: either a complete backup directory (dump + manifest) appears, or
    nothing does and :class:`OperationError` says why. ``keep`` then removes
    all but the ``keep`` newest backups of this database in ``output_dir``.
    """
    if keep is not None and keep < 1:
        raise OperationError("--keep must be at least 1.")
    started = time.monotonic()
    fernet = encryption_keys() if encrypt else None
    login = owner_login()
    created = datetime.now(UTC)
    name = f"{login.dbname}-{created:%Y%m%dT%H%M%S%f}Z"
    output_dir.mkdir(parents=True, exist_ok=True)
    partial = output_dir / f".{name}.partial"
    partial.mkdir(mode=0o700)
    try:
        with login.connect() as conn:
            role, unrestricted = sees_every_row(conn)
            if not unrestricted:
                raise OperationError(
                    f"backup refused: the login {role!r} is subject to row level security and "
                    "would not see every row. DATABASE_OWNER_URL must be the schema owner "
                    "(BYPASSRLS). Nothing was written."
                )
            pg_dump, pg_dump_version = compatible_program("pg_dump", conn)
            server_version = conn.execute("SHOW server_version").fetchone()[0]
            _begin_snapshot(conn)
            snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
            dump = _DumpProcess(
                pg_dump, login, snapshot, partial / (ENCRYPTED_DUMP if fernet else DUMP), fernet
            )
            try:
                state = fingerprint(conn)
                dump_info = dump.wait()
            finally:
                dump.stop()
            conn.rollback()
        manifest = {
            "format": BACKUP_FORMAT,
            "created_at": created.isoformat().replace("+00:00", "Z"),
            "database": login.dbname,
            "role": role,
            "snapshot": snapshot,
            "server_version": server_version,
            "tools": {
                "pg_dump": pg_dump_version,
                "python": platform.python_version(),
                "django": django.get_version(),
                "psycopg": psycopg.__version__,
                "app": _app_version(),
            },
            "dump": dump_info,
            "checksum_method": CHECKSUM_METHOD,
            **state,
        }
        _write_private(partial / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        final = output_dir / name
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    removed = backup_prune(output_dir, keep=keep, database=login.dbname) if keep else []
    return BackupResult(final, manifest, time.monotonic() - started, removed)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def backup_prune(output_dir: Path, *, keep: int, database: str) -> list[Path]:
    """Remove all but the ``keep`` newest complete backups of ``database`` in ``output_dir``.

    Only directories this module names and completes (``<database>-<timestamp>Z``
    with a manifest) are candidates; anything else in the directory is left alone.
    """
    pattern = re.compile(rf"^{re.escape(database)}-\d{{8}}T\d{{12}}Z$")
    backups = sorted(
        (
            p
            for p in output_dir.iterdir()
            if p.is_dir() and pattern.match(p.name) and (p / MANIFEST).is_file()
        ),
        key=lambda p: p.name,
        reverse=True,
    )
    for old in backups[keep:]:
        shutil.rmtree(old)
    return backups[keep:]


# --- restore ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backup:
    directory: Path
    manifest: dict[str, Any]

    @property
    def dump(self) -> Path:
        return self.directory / self.manifest["dump"]["file"]

    @property
    def encrypted(self) -> bool:
        return bool(self.manifest["dump"].get("encryption"))


def backup_open(path: Path) -> Backup:
    """Read and sanity-check a backup directory (or its ``manifest.json``)."""
    directory = path.parent if path.name == MANIFEST else path
    if not directory.is_dir():
        raise OperationError(f"{path} is not a backup directory.")
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise OperationError(
            f"{directory} has no {MANIFEST}: without it the backup cannot be verified, "
            "so it is not restored. Nothing was changed."
        )
    try:
        manifest = json.loads(manifest_path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise OperationError(f"{manifest_path} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict):
        raise OperationError(f"{manifest_path} is not a {BACKUP_FORMAT} manifest.")
    if manifest.get("format") in OLD_FORMATS:
        raise OperationError(
            f"{manifest_path} is a {manifest['format']} manifest, made by an older version "
            f"whose table checksums this version cannot recompute (it writes "
            f"{BACKUP_FORMAT}). Restore and verify it with the release that made it. "
            "Nothing was changed."
        )
    if manifest.get("format") != BACKUP_FORMAT:
        raise OperationError(f"{manifest_path} is not a {BACKUP_FORMAT} manifest.")
    missing = {"dump", "tables", "rls", "migrations"} - manifest.keys()
    if missing:
        raise OperationError(f"{manifest_path} lacks {', '.join(sorted(missing))}.")
    file_name = str(manifest["dump"].get("file", ""))
    if file_name not in (DUMP, ENCRYPTED_DUMP):
        raise OperationError(f"{manifest_path} names an unexpected dump file {file_name!r}.")
    backup = Backup(directory, manifest)
    if not backup.dump.is_file():
        raise OperationError(f"the dump {backup.dump} is missing. Nothing was changed.")
    return backup


def _check_dump_file(backup: Backup) -> None:
    expected = backup.manifest["dump"]
    size = backup.dump.stat().st_size
    if size != expected["bytes"]:
        raise OperationError(
            f"{backup.dump} is truncated or damaged: {size} bytes, the manifest says "
            f"{expected['bytes']}. Nothing was changed."
        )
    with tqdm(total=size, desc="checking dump", unit="B", unit_scale=True, disable=None) as bar:
        digest = sha256_file(backup.dump, bar)
    if digest != expected["sha256"]:
        raise OperationError(
            f"{backup.dump} is damaged: its sha256 differs from the manifest. Nothing was changed."
        )


@contextmanager
def plain_dump(backup: Backup) -> Iterator[Path]:
    """The backup's dump as a readable file, checked against the manifest first.

    An encrypted dump is decrypted into a private temporary directory that is
    removed afterwards; a wrong key or damaged file fails before any database
    is touched.
    """
    _check_dump_file(backup)
    if not backup.encrypted:
        yield backup.dump
        return
    fernet = encryption_keys()
    with tempfile.TemporaryDirectory(prefix="saas-restore-") as tmp:
        target = Path(tmp) / DUMP
        with tqdm(
            total=backup.dump.stat().st_size,
            desc="decrypting",
            unit="B",
            unit_scale=True,
            disable=None,
        ) as bar:
            decrypt_dump(backup.dump, target, fernet, bar)
        if sha256_file(target) != backup.manifest["dump"]["plain_sha256"]:
            raise OperationError(
                f"{backup.dump} decrypts to a dump that differs from the manifest."
            )
        yield target


@dataclass(frozen=True)
class RestoreResult:
    database: str
    created: bool
    seconds: float
    tables: int
    rows: int
    mismatches: list[str]


def _prepare_target(target: str, *, force: bool) -> bool:
    """Make ``target`` an empty database; return whether this call created it."""
    try:
        exists = database_exists(target)
        objects = 0
        if exists:
            with owner_login(target).connect(autocommit=True) as conn:
                objects = object_count(conn)
    except psycopg.Error as exc:
        raise OperationError(f"cannot inspect database {target}: {exc}") from exc
    if exists and objects == 0:
        return False
    if exists and not force:
        raise OperationError(
            f"database {target} is not empty ({objects} tables, functions and other objects); "
            "refusing to restore over it. Use --database NAME for a new database, or --force "
            "to drop and recreate it. Nothing was changed."
        )
    require_admin("restoring into a new or recreated database")
    if target == current_database():
        connections.close_all()  # DROP DATABASE would end them anyway
    with roles.admin_connect() as admin:
        if exists:
            roles.drop_database(admin, target)
        roles.create_database(admin, target)
    return not exists


def _toc_items(program: Path, dump: Path) -> int:
    """Entries in the dump's table of contents; fails early on an unreadable dump."""
    listing = run_program(
        [str(program), "--list", str(dump)], owner_login(), what="reading the dump"
    )
    return sum(1 for line in listing.stdout.splitlines() if line and not line.startswith(";"))


def _pg_restore(program: Path, dump: Path, login: Login, items: int) -> None:
    """``pg_restore`` as the owner, all or nothing (``--single-transaction``)."""
    args = [
        str(program),
        "--exit-on-error",
        "--single-transaction",
        # Objects end up owned by the restoring owner login, whatever the source
        # installation called its owner; grants to the runtime roles are kept.
        "--no-owner",
        "--verbose",
        f"--dbname={login.dbname}",
        str(dump),
    ]
    lines: list[str] = []
    with (
        tqdm(total=items, desc="pg_restore", unit="item", disable=None) as bar,
        subprocess.Popen(  # noqa: S603 - argument list, no shell
            args,
            env=login.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        ) as process,
    ):
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if bar.n < items:
                bar.update(1)
        code = process.wait()
    if code != 0:
        raise OperationError(f"pg_restore failed (exit {code}): {tail(''.join(lines))}")


def verify_database(database: str, manifest: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Fingerprint ``database`` (as the owner, in one snapshot) and compare it with ``manifest``."""
    with owner_login(database).connect() as conn:
        _begin_snapshot(conn)
        actual = fingerprint(conn, desc="verifying")
        conn.rollback()
    return actual, differences(manifest, actual)


def backup_restore(
    path: Path, *, database: str | None = None, force: bool = False
) -> RestoreResult:
    """Restore the backup at ``path`` into ``database`` (default: the current one), then verify.

    Contract: a missing manifest, a damaged, truncated or undecryptable dump, or
    a non-empty target without ``force`` fail before any database is touched.
    A failed ``pg_restore`` leaves nothing behind: it runs in one transaction,
    and a database this call created is dropped again. Differences from the
    manifest after a successful restore are returned in ``mismatches`` (the
    restored database is kept for inspection).
    """
    started = time.monotonic()
    backup = backup_open(path)
    target = database or current_database()
    with plain_dump(backup) as dump:
        with owner_login().connect(autocommit=True) as conn:
            pg_restore, _ = compatible_program("pg_restore", conn)
        items = _toc_items(pg_restore, dump)  # before the target is created or dropped
        created = _prepare_target(target, force=force)
        try:
            _pg_restore(pg_restore, dump, owner_login(target), items)
        except BaseException:
            if created:
                with roles.admin_connect() as admin:
                    roles.drop_database(admin, target)
            raise
    actual, mismatches = verify_database(target, backup.manifest)
    return RestoreResult(
        database=target,
        created=created,
        seconds=time.monotonic() - started,
        tables=len(actual["tables"]),
        rows=sum(t["rows"] for t in actual["tables"].values()),
        mismatches=mismatches,
    )


def backup_verify(path: Path) -> RestoreResult:
    """Restore ``path`` into a scratch database, compare it with the manifest, drop it."""
    require_admin("backup_verify")
    backup_open(path)
    scratch = f"{current_database()}_verify_{secrets.token_hex(4)}"
    try:
        return backup_restore(path, database=scratch)
    finally:
        with roles.admin_connect() as admin:
            roles.drop_database(admin, scratch)
