"""One tenant's data: ``export_org``, ``import_org``, ``erase_org``.

**Archive** (``.tar.gz``): ``manifest.json`` first, then one JSON-lines file
per table (``tables/<table>.jsonl``) and the referenced users
(``users/<table>.jsonl``). Each line is ``to_jsonb(row)`` minus generated
columns, in a fixed order (primary key; the audit chain in ``sequence``
order), so a file's sha256 is also the checksum of the table's rows and can
be recomputed from any database holding them. The manifest records the
organization, the schema (every applied migration of the apps involved),
each table's columns, row count and sha256, and whether password hashes are
included.

**Which tables**: found from the models (:mod:`.schema`): the organization
row, every table with an ``organization`` foreign key / ``organization_id``
column, and the users those rows reference (members, inviters, authors,
audit actors) — without password hashes unless asked.

**Audit events** are exported with the tenant. The audit table is
append-only for every runtime role, so ``erase_org`` keeps them (the trail
must outlive the tenant; the events of the erase itself are appended to the
same chain). ``import_org`` inserts archived events in chain order through
the chaining trigger: into an empty chain (a new installation) this
reproduces the original sequence numbers and hashes exactly; events already
present (the same installation after an erase) are checked identical and
skipped; if the chain already holds other events, new ones are re-chained
after them and counted as such in the result and the ``org.imported`` event.

Every operation runs in one transaction in ``service_context`` and records
an audit event (``org.exported``, ``org.imported``, ``org.erased``).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.migrations.recorder import MigrationRecorder
from psycopg import sql
from tqdm import tqdm

from audit.models import AuditEvent
from audit.services import audit_record
from organizations.operations.files import delete_files_on_commit, organization_stored_files
from organizations.operations.pg import (
    OperationError,
    current_database,
    pin_output_settings,
    quoted,
    sha256_file,
)
from organizations.operations.schema import (
    Reference,
    TenantTable,
    parents_first,
    tenant_tables,
    user_references,
)
from organizations.tenancy import service_context

ARCHIVE_FORMAT = "saas-org-archive/1"
MANIFEST = "manifest.json"
BATCH = 1000
_MEMBER = re.compile(r"^(tables|users)/([a-z0-9_]+)\.jsonl$")
# Columns an imported user never keeps: staff rights belong to one installation.
_USER_PRIVILEGES = ("is_staff", "is_superuser")


def _row_order(table: TenantTable) -> list[str]:
    # NOTE: the hash-chained audit table travels in chain order so the BEFORE INSERT
    # trigger, replaying it into an empty chain, assigns the same sequence and hashes.
    if table.model is AuditEvent:
        return ["sequence", table.pk_column]
    return [table.pk_column]


# --- catalog helpers (current connection) -----------------------------------------


def _columns(cursor: Any, table: str) -> tuple[list[str], list[str]]:
    """``(stored columns, generated columns)`` of ``table`` in column order."""
    cursor.execute(
        "SELECT attname, attgenerated <> '' FROM pg_attribute"
        " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        [table],
    )
    rows = cursor.fetchall()
    return [n for n, gen in rows if not gen], [n for n, gen in rows if gen]


def _sequence_backed(cursor: Any, table: str, columns: list[str]) -> list[str]:
    cursor.execute(
        "SELECT a.attname FROM pg_attribute a"
        " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
        " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped"
        "   AND (a.attidentity <> '' OR pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%%')",
        [table],
    )
    return [name for (name,) in cursor.fetchall() if name in columns]


def _prepare(cursor: Any) -> None:
    # Operator work may outlast the app role's statement timeout; output settings are
    # pinned so exported JSON (timestamps!) is the same text on every installation.
    cursor.execute("SET LOCAL statement_timeout = 0")
    pin_output_settings(cursor)


def _organization(cursor: Any, slug: str, *, lock: bool = False) -> tuple[str, str, str]:
    # FOR UPDATE (erase): concurrent inserts of child rows take FOR KEY SHARE on the
    # organization, so they wait for the erase and then fail instead of slipping in.
    cursor.execute(
        "SELECT id::text, slug, name FROM organizations_organization WHERE slug = %s"
        + (" FOR UPDATE" if lock else ""),
        [slug],
    )
    row = cursor.fetchone()
    if row is None:
        raise OperationError(f"no organization with slug {slug!r}. Nothing was changed.")
    return row


def _rows_query(
    table: str, where_column: str, order: list[str], exclude: list[str]
) -> sql.Composable:
    """Rows of ``table`` with ``where_column = %s`` as canonical jsonb text, in ``order``."""
    return sql.SQL(
        "SELECT (to_jsonb(t) - %s::text[])::text FROM {} t WHERE t.{} = %s ORDER BY {}"
    ).format(
        sql.Identifier(table),
        sql.Identifier(where_column),
        sql.SQL(", ").join(sql.Identifier("t", c) for c in order),
    )


def _stream(query: sql.Composable, params: list[Any]) -> Iterator[str]:
    """Rows through a server-side cursor (a tenant may be large)."""
    with connection.connection.cursor(name=f"ops_{os.getpid()}_{time.monotonic_ns()}") as cursor:
        cursor.itersize = 2000
        cursor.execute(query, params)
        for (line,) in cursor:
            yield line


# --- export -------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportResult:
    path: Path
    organization: dict[str, str]
    rows: dict[str, int]
    users: int
    sha256: str
    seconds: float


@contextmanager
def _snapshot() -> Iterator[None]:
    """A REPEATABLE READ transaction, so every table is read at the same instant.

    Inside a caller's transaction (e.g. a test) the isolation level can no
    longer change; the caller's transaction is used as it is.
    """
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def _write_jsonl(lines: Iterator[str], path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    count = 0
    with path.open("wb") as fh:
        for line in lines:
            data = line.encode() + b"\n"
            fh.write(data)
            digest.update(data)
            count += 1
    return count, digest.hexdigest()


def default_archive_path(slug: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path(settings.BASE_DIR) / "backups" / f"org-{slug}-{stamp}.tar.gz"


def organization_export(
    *, slug: str, output: Path | None = None, include_password_hashes: bool = False
) -> ExportResult:
    """Write organization ``slug``'s rows to an archive at ``output``.

    Contract: read in one snapshot; the archive appears complete or not at
    all (written under a temporary name, renamed after the transaction that
    records ``org.exported`` has committed).
    """
    started = time.monotonic()
    output = output or default_archive_path(slug)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial")
    tables = tenant_tables()
    user_model = get_user_model()
    user_table = user_model._meta.db_table
    try:
        with (
            tempfile.TemporaryDirectory(prefix="saas-export-") as tmp,
            _snapshot(),
            service_context(reason=f"export_org {slug}"),
            connection.cursor() as cursor,
        ):
            _prepare(cursor)
            org_id, org_slug, org_name = _organization(cursor, slug)
            entries = []
            for table in tqdm(tables, desc="export", unit="table", disable=None):
                columns, generated = _columns(cursor, table.table)
                order = _row_order(table)
                file = f"tables/{table.table}.jsonl"
                rows, digest = _write_jsonl(
                    _stream(
                        _rows_query(table.table, table.org_column, order, generated),
                        [generated, org_id],
                    ),
                    Path(tmp) / file.replace("/", "__"),
                )
                entries.append(
                    {
                        "table": table.table,
                        "model": table.label,
                        "columns": columns,
                        "order": order,
                        "append_only": table.append_only,
                        "rows": rows,
                        "sha256": digest,
                        "file": file,
                    }
                )
            user_ids = _referenced_users(cursor, tables, org_id)
            columns, generated = _columns(cursor, user_table)
            excluded = generated + ([] if include_password_hashes else ["password"])
            user_file = f"users/{user_table}.jsonl"
            user_rows, user_digest = _write_jsonl(
                _stream(
                    sql.SQL(
                        "SELECT (to_jsonb(t) - %s::text[])::text FROM {} t"
                        " WHERE t.id = ANY(%s::uuid[]) ORDER BY t.id"
                    ).format(sql.Identifier(user_table)),
                    [excluded, sorted(user_ids)],
                ),
                Path(tmp) / user_file.replace("/", "__"),
            )
            apps_involved = {t.model._meta.app_label for t in tables}
            apps_involved.add(user_model._meta.app_label)
            applied: dict[str, list[str]] = {}
            for app, name in sorted(MigrationRecorder(connection).applied_migrations()):
                if app in apps_involved:
                    applied.setdefault(app, []).append(name)
            manifest = {
                "format": ARCHIVE_FORMAT,
                "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "source_database": current_database(),
                "organization": {"id": org_id, "slug": org_slug, "name": org_name},
                "schema": applied,
                "latest_migrations": {app: names[-1] for app, names in applied.items()},
                "tables": entries,
                "users": {
                    "table": user_table,
                    "model": user_model._meta.label,
                    "columns": [c for c in columns if c not in excluded],
                    "rows": user_rows,
                    "sha256": user_digest,
                    "password_hashes": include_password_hashes,
                    "file": user_file,
                },
            }
            _write_archive(partial, Path(tmp), manifest)
            archive_sha = sha256_file(partial)
            counts = {e["table"]: e["rows"] for e in entries}
            audit_record(
                action="org.exported",
                organization_id=org_id,
                target_type="organizations.organization",
                target_id=org_id,
                changes={
                    "file": output.name,
                    "sha256": archive_sha,
                    "rows": counts,
                    "users": user_rows,
                    "password_hashes": include_password_hashes,
                },
            )
        partial.rename(output)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return ExportResult(
        output,
        {"id": org_id, "slug": org_slug, "name": org_name},
        counts,
        user_rows,
        archive_sha,
        time.monotonic() - started,
    )


def _referenced_users(cursor: Any, tables: list[TenantTable], org_id: str) -> set[str]:
    ids: set[str] = set()
    by_table = {t.table: t for t in tables}
    for ref in user_references(tables):
        cursor.execute(
            sql.SQL(
                "SELECT DISTINCT {col}::text FROM {t} WHERE {org} = %s AND {col} IS NOT NULL"
            ).format(
                col=sql.Identifier(ref.column),
                t=sql.Identifier(ref.table),
                org=sql.Identifier(by_table[ref.table].org_column),
            ),
            [org_id],
        )
        ids.update(row[0] for row in cursor.fetchall())
    return ids


def _write_archive(path: Path, files: Path, manifest: dict[str, Any]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh, tarfile.open(fileobj=fh, mode="w:gz") as tar:
        data = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
        tar.addfile(info, io.BytesIO(data))
        for entry in [*manifest["tables"], manifest["users"]]:
            source = files / entry["file"].replace("/", "__")
            info = tarfile.TarInfo(entry["file"])
            info.size, info.mode, info.mtime = source.stat().st_size, 0o600, int(time.time())
            with source.open("rb") as member:
                tar.addfile(info, member)


# --- reading an archive ---------------------------------------------------------------


@dataclass(frozen=True)
class Archive:
    path: Path
    manifest: dict[str, Any]
    files: Path  # private directory holding the verified member files

    def lines(self, entry: dict[str, Any]) -> Iterator[str]:
        with (self.files / entry["file"].replace("/", "__")).open(encoding="utf-8") as fh:
            for line in fh:
                yield line.rstrip("\n")

    @property
    def organization(self) -> dict[str, str]:
        return self.manifest["organization"]


def _check_gzip(path: Path) -> None:
    """Read the whole file through gzip, which checks its CRC and length at the end.

    tarfile's stream mode does not check the gzip trailer, so a flipped bit
    could otherwise reach the manifest unnoticed.
    """
    try:
        with gzip.open(path, "rb") as fh:
            while fh.read(1 << 20):
                pass
    except (EOFError, OSError, zlib.error) as exc:
        raise OperationError(
            f"{path} is not a readable archive (truncated or corrupt: {exc}). Nothing was changed."
        ) from exc


def archive_read(path: Path, workdir: Path) -> Archive:
    """Unpack and check an archive into ``workdir``: every member the manifest lists is
    present with its row count and sha256, and nothing else is. Raises
    :class:`OperationError` for anything truncated, corrupt or unexpected."""
    if not path.is_file():
        raise OperationError(f"{path} does not exist.")
    _check_gzip(path)
    manifest_data: bytes | None = None
    found: dict[str, tuple[int, str]] = {}
    try:
        with tarfile.open(path, mode="r|gz") as tar:
            for member in tar:
                if member.name == MANIFEST and member.isfile():
                    if member.size > 64 << 20:
                        raise OperationError(f"{path}: {MANIFEST} is implausibly large.")
                    manifest_data = tar.extractfile(member).read()  # type: ignore[union-attr]
                    continue
                if not (member.isfile() and _MEMBER.match(member.name)):
                    raise OperationError(f"{path}: unexpected member {member.name!r}.")
                source = tar.extractfile(member)
                assert source is not None
                digest, rows = hashlib.sha256(), 0
                with (workdir / member.name.replace("/", "__")).open("wb") as out:
                    while chunk := source.read(1 << 20):
                        out.write(chunk)
                        digest.update(chunk)
                        rows += chunk.count(b"\n")
                found[member.name] = (rows, digest.hexdigest())
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise OperationError(
            f"{path} is not a readable archive (truncated or corrupt: {exc}). Nothing was changed."
        ) from exc
    if manifest_data is None:
        raise OperationError(f"{path} has no {MANIFEST}; it is not an organization archive.")
    try:
        manifest = json.loads(manifest_data)
    except ValueError as exc:
        raise OperationError(f"{path}: {MANIFEST} is not valid JSON ({exc}).") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != ARCHIVE_FORMAT:
        raise OperationError(f"{path} is not a {ARCHIVE_FORMAT} archive.")
    entries = [*manifest["tables"], manifest["users"]]
    for entry in entries:
        if entry["file"] not in found:
            raise OperationError(f"{path} is incomplete: {entry['file']} is missing.")
        rows, digest = found[entry["file"]]
        if (rows, digest) != (entry["rows"], entry["sha256"]):
            raise OperationError(
                f"{path} is corrupt: {entry['file']} has {rows} rows / sha256 {digest[:12]}…, "
                f"the manifest says {entry['rows']} / {entry['sha256'][:12]}…. Nothing was changed."
            )
    extra = set(found) - {e["file"] for e in entries}
    if extra:
        raise OperationError(f"{path}: members not in the manifest: {', '.join(sorted(extra))}.")
    return Archive(path, manifest, workdir)


# --- import -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    organization: dict[str, str]
    inserted: dict[str, int]
    already_present: dict[str, int]
    rewritten_by_triggers: dict[str, int]
    users_created: int
    users_reused: int
    seconds: float


def _check_schema(archive: Archive) -> dict[str, TenantTable]:
    """Refuse archives this installation cannot hold; return the tenant tables by name."""
    applied = set(MigrationRecorder(connection).applied_migrations())
    unknown = [
        f"{app}.{name}"
        for app, names in archive.manifest["schema"].items()
        for name in names
        if (app, name) not in applied
    ]
    if unknown:
        raise OperationError(
            f"{archive.path} comes from a newer schema: {', '.join(unknown[:5])}"
            f"{' …' if len(unknown) > 5 else ''} not applied here. Upgrade and migrate this "
            "installation first. Nothing was changed."
        )
    here = {t.table: t for t in tenant_tables()}
    with connection.cursor() as cursor:
        for entry in archive.manifest["tables"]:
            if entry["table"] not in here:
                raise OperationError(
                    f"{archive.path}: {entry['table']} is not a tenant table here. "
                    "Nothing was changed."
                )
        for entry in [*archive.manifest["tables"], archive.manifest["users"]]:
            columns, _generated = _columns(cursor, entry["table"])
            missing = set(entry["columns"]) - set(columns)
            if missing:
                raise OperationError(
                    f"{archive.path}: {entry['table']} has no column(s) "
                    f"{', '.join(sorted(missing))} here. Nothing was changed."
                )
            if entry is not archive.manifest["users"] and entry["rows"]:
                backed = _sequence_backed(cursor, entry["table"], entry["columns"])
                if backed:
                    raise OperationError(
                        f"{entry['table']}.{backed[0]} is filled from a sequence; importing "
                        "preserved ids there is not supported."
                    )
    return here


def _batches(lines: Iterator[str], size: int = BATCH) -> Iterator[str]:
    """JSON arrays of up to ``size`` archived rows."""
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) == size:
            yield "[" + ",".join(batch) + "]"
            batch = []
    if batch:
        yield "[" + ",".join(batch) + "]"


def _insert(
    cursor: Any,
    table: str,
    columns: list[str],
    lines: Iterator[str],
    *,
    pk: str,
    expressions: dict[str, sql.Composable] | None = None,
    skip_existing: bool = False,
) -> int:
    """Insert archived rows (jsonb text) in archive order; ``expressions`` override values."""
    expressions = expressions or {}
    values = sql.SQL(", ").join(expressions.get(c, sql.Identifier("r", c)) for c in columns)
    skip = (
        sql.SQL("WHERE NOT EXISTS (SELECT 1 FROM {t} x WHERE x.{pk} = r.{pk})").format(
            t=sql.Identifier(table), pk=sql.Identifier(pk)
        )
        if skip_existing
        else sql.SQL("")
    )
    statement = sql.SQL(
        "INSERT INTO {t} ({cols}) SELECT {values}"
        " FROM json_populate_recordset(NULL::{t}, %s::json) WITH ORDINALITY r {skip}"
        " ORDER BY r.ordinality"
    ).format(t=sql.Identifier(table), cols=quoted(columns), values=values, skip=skip)
    inserted = 0
    for batch in _batches(lines):
        cursor.execute(statement, [batch])
        inserted += cursor.rowcount
    return inserted


def _present_rows(cursor: Any, table: str, pk: str, lines: Iterator[str]) -> dict[str, str]:
    """Rows of ``table`` already here with the archived primary keys, as jsonb text by key."""
    out: dict[str, str] = {}
    statement = sql.SQL(
        "SELECT x.{pk}::text, to_jsonb(x)::text FROM {t} x"
        " WHERE x.{pk} IN (SELECT r.{pk} FROM json_populate_recordset(NULL::{t}, %s::json) r)"
    ).format(t=sql.Identifier(table), pk=sql.Identifier(pk))
    for batch in _batches(lines):
        cursor.execute(statement, [batch])
        out.update(cursor.fetchall())
    return out


def _same_row(archived: dict[str, Any], present_text: str) -> bool:
    present = json.loads(present_text)
    return all(present.get(k) == v for k, v in archived.items())


def organization_import(*, path: Path) -> ImportResult:
    """Load an archive made by :func:`organization_export`, preserving ids.

    Contract: refused with nothing changed when the archive is corrupt,
    truncated or from a newer schema, when the slug or id is taken here, or
    when a referenced user's email belongs to a different user here. Rows are
    inserted parents first in one transaction and checked against the
    archive's checksums before it commits.
    """
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="saas-import-") as tmp:
        archive = archive_read(path, Path(tmp))
        here = _check_schema(archive)
        org = archive.organization
        entries = {e["table"]: e for e in archive.manifest["tables"]}
        order, deferred = parents_first([here[name] for name in entries])
        with service_context(reason=f"import_org {org['slug']}"), connection.cursor() as cursor:
            _prepare(cursor)
            cursor.execute(
                "SELECT slug, id::text FROM organizations_organization WHERE slug = %s OR id = %s",
                [org["slug"], org["id"]],
            )
            taken = cursor.fetchone()
            if taken:
                raise OperationError(
                    f"an organization with slug {taken[0]!r} (id {taken[1]}) already exists here; "
                    f"the archive's organization {org['slug']!r} (id {org['id']}) conflicts with "
                    "it. Erase or rename it first. Nothing was changed."
                )
            created, reused = _import_users(cursor, archive)
            inserted: dict[str, int] = {}
            present: dict[str, int] = {}
            for table in tqdm(order, desc="import", unit="table", disable=None):
                entry = entries[table.table]
                nulled = {
                    r.column: sql.SQL("NULL")
                    for r in deferred
                    if r.table == table.table and r.column in entry["columns"]
                }
                if table.append_only:
                    present[table.table] = _check_present(cursor, archive, entry, table)
                inserted[table.table] = _insert(
                    cursor,
                    table.table,
                    entry["columns"],
                    archive.lines(entry),
                    pk=table.pk_column,
                    expressions=nulled,
                    skip_existing=table.append_only,
                )
            for ref in deferred:
                _fill_deferred(cursor, archive, entries[ref.table], ref, here[ref.table])
            rewritten = _verify_import(cursor, archive, here)
            audit_record(
                action="org.imported",
                organization_id=org["id"],
                target_type="organizations.organization",
                target_id=org["id"],
                changes={
                    "file": path.name,
                    "sha256": sha256_file(path),
                    "rows": inserted,
                    "already_present": {k: v for k, v in present.items() if v},
                    "rewritten_by_triggers": {k: v for k, v in rewritten.items() if v},
                    "users_created": created,
                    "users_reused": reused,
                },
            )
    return ImportResult(
        org, inserted, present, rewritten, created, reused, time.monotonic() - started
    )


def _import_users(cursor: Any, archive: Archive) -> tuple[int, int]:
    """Create the archive's users that do not exist here (by id); return (created, reused).

    SECURITY: imported users never keep staff rights, and without archived
    password hashes they get an unusable password (they reset it to sign in).
    """
    entry = archive.manifest["users"]
    table = entry["table"]
    conflicts: list[str] = []
    statement = sql.SQL(
        "SELECT r.email FROM json_populate_recordset(NULL::{t}, %s::json) r"
        " JOIN {t} u ON lower(u.email) = lower(r.email) AND u.id <> r.id"
    ).format(t=sql.Identifier(table))
    for batch in _batches(archive.lines(entry)):
        cursor.execute(statement, [batch])
        conflicts += [row[0] for row in cursor.fetchall()]
    if conflicts:
        raise OperationError(
            f"{len(conflicts)} user(s) of the archive have an email that belongs to a different "
            f"user here ({', '.join(sorted(conflicts)[:5])}); ids cannot be preserved. "
            "Nothing was changed."
        )
    columns = list(entry["columns"])
    expressions: dict[str, sql.Composable] = {c: sql.SQL("false") for c in _USER_PRIVILEGES}
    if "password" not in columns:
        columns.append("password")
        # Django treats any password starting with "!" as unusable.
        expressions["password"] = sql.SQL("'!' || md5(random()::text || r.id::text)")
    created = _insert(
        cursor,
        table,
        columns,
        archive.lines(entry),
        pk="id",
        expressions=expressions,
        skip_existing=True,
    )
    return created, entry["rows"] - created


def _check_present(cursor: Any, archive: Archive, entry: dict[str, Any], table: TenantTable) -> int:
    """Append-only rows may already be here (kept by an erase): they must be identical."""
    present = _present_rows(cursor, table.table, table.pk_column, archive.lines(entry))
    if not present:
        return 0
    for line in archive.lines(entry):
        row = json.loads(line)
        key = str(row[table.pk_column])
        if key in present and not _same_row(row, present[key]):
            raise OperationError(
                f"{table.table} row {key} exists here with different content; the archive "
                "does not belong to this installation's history. Nothing was changed."
            )
    return len(present)


def _fill_deferred(
    cursor: Any, archive: Archive, entry: dict[str, Any], ref: Reference, table: TenantTable
) -> None:
    """Second pass for a reference that closes a cycle: set the column now that its rows exist."""
    statement = sql.SQL(
        "UPDATE {t} x SET {col} = r.{col}"
        " FROM json_populate_recordset(NULL::{t}, %s::json) r"
        " WHERE x.{pk} = r.{pk} AND r.{col} IS NOT NULL"
    ).format(
        t=sql.Identifier(ref.table),
        col=sql.Identifier(ref.column),
        pk=sql.Identifier(table.pk_column),
    )
    for batch in _batches(archive.lines(entry)):
        cursor.execute(statement, [batch])


def _verify_import(cursor: Any, archive: Archive, here: dict[str, TenantTable]) -> dict[str, int]:
    """Recompute each table's archived rows from the database, before commit.

    Ordinary tables must reproduce the archive's sha256 exactly. Append-only
    tables may hold more rows than the archive (events after the export, kept
    by an erase); every archived row must be there, and rows a trigger
    rewrote on insert (the audit chain, re-chained after existing events) are
    counted and returned.
    """
    org_id = archive.organization["id"]
    rewritten: dict[str, int] = {}
    for entry in archive.manifest["tables"]:
        table = here[entry["table"]]
        columns, generated = _columns(cursor, table.table)
        dropped = generated + [c for c in columns if c not in entry["columns"]]
        query = _rows_query(table.table, table.org_column, entry["order"], dropped)
        if not table.append_only:
            count, digest = 0, hashlib.sha256()
            for line in _stream(query, [dropped, org_id]):
                digest.update(line.encode() + b"\n")
                count += 1
            if (count, digest.hexdigest()) != (entry["rows"], entry["sha256"]):
                raise OperationError(
                    f"import check failed for {table.table}: {count} rows here after the import, "
                    f"{entry['rows']} in the archive, or different content. Nothing was changed."
                )
            continue
        stored = {
            str(json.loads(line)[table.pk_column]): line
            for line in _stream(query, [dropped, org_id])
        }
        changed = 0
        for line in archive.lines(entry):
            row = json.loads(line)
            key = str(row[table.pk_column])
            if key not in stored:
                raise OperationError(f"import check failed: {table.table} row {key} is missing.")
            changed += stored[key] != line
        rewritten[table.table] = changed
    return rewritten


# --- erase ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EraseItem:
    table: str
    rows: int
    action: str  # "delete", "cascade" (by the database, with the organization row) or "keep"


@dataclass(frozen=True)
class EraseResult:
    organization: dict[str, str]
    items: list[EraseItem]
    dry_run: bool
    seconds: float


def _cascade_closure(cursor: Any, root: str) -> set[str]:
    """Tables whose rows the database deletes (ON DELETE CASCADE, transitively) with ``root``'s."""
    cursor.execute(
        "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c"
        " WHERE c.contype = 'f' AND c.confdeltype = 'c'"
    )
    edges = cursor.fetchall()
    closure, grew = {root}, True
    while grew:
        grew = False
        for child, parent in edges:
            if parent in closure and child not in closure:
                closure.add(child)
                grew = True
    closure.discard(root)
    return closure


def organization_erase(*, slug: str, dry_run: bool = False, actor: Any = None) -> EraseResult:
    """Delete organization ``slug`` and its tenant rows (or with ``dry_run``, list them).

    Order: tables the database does not cascade from the organization row are
    deleted explicitly, children first; then the organization row, whose
    deletion cascades to the rest in the database. Append-only tables outside
    that cascade — the audit trail — are kept. Users stay (they may belong to
    other organizations). One transaction; ``org.erased`` is recorded in the
    organization's (surviving) audit chain. The files its rows name in storage
    are deleted once that transaction commits.
    """
    started = time.monotonic()
    tables = tenant_tables()
    root = next(t for t in tables if t.org_column == t.pk_column)
    order, _ = parents_first(tables)
    reason = f"erase_org {slug}" + (" (dry run)" if dry_run else "")
    with service_context(reason=reason, actor=actor), connection.cursor() as cursor:
        _prepare(cursor)
        org_id, org_slug, org_name = _organization(cursor, slug, lock=not dry_run)
        cascaded = _cascade_closure(cursor, root.table)

        def action(t: TenantTable) -> str:
            if t is root:
                return "delete"
            if t.table in cascaded:
                return "cascade"
            return "keep" if t.append_only else "delete"

        def count(t: TenantTable) -> int:
            cursor.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE {} = %s").format(
                    sql.Identifier(t.table), sql.Identifier(t.org_column)
                ),
                [org_id],
            )
            return int(cursor.fetchone()[0])

        items = [EraseItem(t.table, count(t), action(t)) for t in reversed(order)]
        org = {"id": org_id, "slug": org_slug, "name": org_name}
        if dry_run:
            return EraseResult(org, items, True, time.monotonic() - started)
        files = organization_stored_files(org_id)
        by_name = {t.table: t for t in tables}
        for item in items:  # children first; the organization row last
            if item.action == "delete" and item.rows:
                table = by_name[item.table]
                cursor.execute(
                    sql.SQL("DELETE FROM {} WHERE {} = %s").format(
                        sql.Identifier(table.table), sql.Identifier(table.org_column)
                    ),
                    [org_id],
                )
        left = {t.table: count(t) for t in tables if action(t) != "keep"}
        if any(left.values()):
            raise OperationError(f"erase incomplete, rows left: {left}. Nothing was changed.")
        audit_record(
            action="org.erased",
            actor=actor,
            organization_id=org_id,
            target_type="organizations.organization",
            target_id=org_id,
            changes={
                "slug": org_slug,
                "name": org_name,
                "deleted": {i.table: i.rows for i in items if i.action != "keep"},
                "kept": {i.table: i.rows for i in items if i.action == "keep"},
                "files": len(files),
            },
        )
        delete_files_on_commit(files)
    return EraseResult(org, items, False, time.monotonic() - started)
