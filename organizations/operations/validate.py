"""``db_validate``: what a careful operator checks after a bulk load, a restore or an import.

Findings have a severity:

* **problem** (non-zero exit): orphaned rows behind a foreign key the
  database enforces or Django declares enforced; rows whose
  ``organization_id`` differs from their parent's (every reference between
  two tenant tables); foreign-key and CHECK constraints re-evaluated against
  the data (a load with triggers disabled or ``session_replication_role =
  replica`` skips them); constraints left ``NOT VALID``; a model referencing
  tenant rows without an ``organization_id`` of its own (export/erase could
  not find its rows); every ``rls_check`` problem.
* **note**: dangling references the schema allows on purpose (Django
  ``db_constraint=False`` with no database constraint, e.g. audit events of
  an erased organization or of a deleted user).
* **warning**: dead-tuple bloat (see ``pg_stat_user_tables``).

Data checks read every row, so they run in ``service_context``; the RLS
checks run as the plain runtime role, as ``rls_check`` does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import connection
from psycopg import sql
from tqdm import tqdm

from organizations.models import Organization
from organizations.operations.schema import Reference, references, tenant_tables
from organizations.rls.checks import run_checks
from organizations.tenancy import service_context

BLOAT_MIN_DEAD = 1000
BLOAT_RATIO = 0.2


@dataclass(frozen=True)
class Finding:
    severity: str  # "problem" | "note" | "warning"
    check: str
    obj: str
    message: str
    rows: int | None = None

    def __str__(self) -> str:
        return f"{self.severity.upper():8} [{self.check}] {self.obj}: {self.message}"


@dataclass(frozen=True)
class TableStats:
    table: str
    live_rows: int
    dead_rows: int
    total_bytes: int
    last_autovacuum: str | None
    last_autoanalyze: str | None


@dataclass
class ValidationReport:
    findings: list[Finding] = field(default_factory=list)
    tables: list[TableStats] = field(default_factory=list)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "problem"]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": len(self.problems),
            "findings": [asdict(f) for f in self.findings],
            "tables": [asdict(t) for t in self.tables],
        }


# --- constraints known to the database ----------------------------------------------------


@dataclass(frozen=True)
class ForeignKey:
    name: str
    table: str
    columns: tuple[str, ...]
    target_table: str
    target_columns: tuple[str, ...]
    validated: bool


def database_foreign_keys(cursor: Any) -> list[ForeignKey]:
    cursor.execute(
        """
        SELECT c.conname, c.conrelid::regclass::text, c.confrelid::regclass::text,
               c.convalidated,
               ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                       JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n
                      ORDER BY k.i),
               ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
                       JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n
                      ORDER BY k.i)
          FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
         WHERE c.contype = 'f' AND n.nspname = 'public'
         ORDER BY 2, 1
        """
    )
    return [
        ForeignKey(name, table, tuple(cols), target, tuple(target_cols), validated)
        for name, table, target, validated, cols, target_cols in cursor.fetchall()
    ]


def _covered(ref: Reference, fks: list[ForeignKey]) -> bool:
    """Whether a database constraint enforces ``ref`` (alone or inside a composite key)."""
    for fk in fks:
        if fk.table == ref.table and fk.target_table == ref.target_table:
            pairs = set(zip(fk.columns, fk.target_columns, strict=True))
            if (ref.column, ref.target_column) in pairs:
                return True
    return False


def count_orphans(
    cursor: Any, table: str, columns: tuple[str, ...], target: str, target_columns: tuple[str, ...]
) -> int:
    """Rows of ``table`` whose non-null ``columns`` match no ``target`` row (MATCH SIMPLE)."""
    not_null = sql.SQL(" AND ").join(
        sql.SQL("c.{} IS NOT NULL").format(sql.Identifier(col)) for col in columns
    )
    match = sql.SQL(" AND ").join(
        sql.SQL("p.{} = c.{}").format(sql.Identifier(tc), sql.Identifier(col))
        for col, tc in zip(columns, target_columns, strict=True)
    )
    cursor.execute(
        sql.SQL(
            "SELECT count(*) FROM {t} c WHERE {nn} AND NOT EXISTS (SELECT 1 FROM {p} p WHERE {m})"
        ).format(t=sql.Identifier(table), p=sql.Identifier(target), nn=not_null, m=match)
    )
    return int(cursor.fetchone()[0])


def count_org_mismatches(cursor: Any, ref: Reference, org_column: str = "organization_id") -> int:
    """Rows of ``ref.table`` whose organization differs from the row they point at."""
    cursor.execute(
        sql.SQL(
            "SELECT count(*) FROM {t} c JOIN {p} p ON p.{tc} = c.{c}"
            " WHERE c.{org} IS DISTINCT FROM p.{org}"
        ).format(
            t=sql.Identifier(ref.table),
            p=sql.Identifier(ref.target_table),
            tc=sql.Identifier(ref.target_column),
            c=sql.Identifier(ref.column),
            org=sql.Identifier(org_column),
        )
    )
    return int(cursor.fetchone()[0])


def _check_constraints(cursor: Any) -> list[Finding]:
    findings = []
    cursor.execute(
        """
        SELECT c.conrelid::regclass::text, c.conname, pg_get_expr(c.conbin, c.conrelid),
               c.convalidated
          FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
         WHERE c.contype = 'c' AND n.nspname = 'public' AND c.conrelid <> 0
         ORDER BY 1, 2
        """
    )
    for table, name, expression, validated in cursor.fetchall():
        if not validated:
            findings.append(
                Finding(
                    "problem", "not_validated", f"{table}.{name}", "CHECK constraint is NOT VALID"
                )
            )
        # A CHECK passes when its expression is NULL, hence "IS FALSE".
        cursor.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE ({}) IS FALSE").format(
                sql.Identifier(table), sql.SQL(expression)
            )
        )
        violating = int(cursor.fetchone()[0])
        if violating:
            findings.append(
                Finding(
                    "problem",
                    "check_violation",
                    f"{table}.{name}",
                    f"{violating} row(s) violate CHECK {expression}",
                    violating,
                )
            )
    return findings


# --- the report -----------------------------------------------------------------------------


def _foreign_key_findings(cursor: Any, fk: ForeignKey) -> list[Finding]:
    findings = []
    if not fk.validated:
        findings.append(
            Finding("problem", "not_validated", f"{fk.table}.{fk.name}", "FOREIGN KEY is NOT VALID")
        )
    orphans = count_orphans(cursor, fk.table, fk.columns, fk.target_table, fk.target_columns)
    if orphans:
        obj = f"{fk.table}({', '.join(fk.columns)}) -> {fk.target_table}"
        message = f"{orphans} row(s) violate {fk.name} (point to no parent)"
        findings.append(Finding("problem", "orphans", obj, message, orphans))
    return findings


def _reference_findings(
    cursor: Any, ref: Reference, fks: list[ForeignKey], *, between_tenants: bool, tenants: set[str]
) -> list[Finding]:
    """Checks of one model-declared reference that the database constraints do not cover."""
    findings = []
    if not _covered(ref, fks):
        orphans = count_orphans(
            cursor, ref.table, (ref.column,), ref.target_table, (ref.target_column,)
        )
        if orphans and not ref.db_constraint:
            message = f"{orphans} row(s) point to no parent (allowed: db_constraint=False)"
            findings.append(Finding("note", "dangling", str(ref), message, orphans))
        elif orphans:
            message = f"{orphans} row(s) point to no parent; no database constraint enforces it"
            findings.append(Finding("problem", "orphans", str(ref), message, orphans))
    if between_tenants:
        mismatched = count_org_mismatches(cursor, ref)
        if mismatched:
            message = (
                f"{mismatched} row(s) belong to another organization than the row they point at"
            )
            findings.append(Finding("problem", "cross_tenant", str(ref), message, mismatched))
    if ref.target_table in tenants and ref.table not in tenants:
        message = (
            f"{ref.table} references tenant rows but has no organization_id; "
            "export_org and erase_org cannot find its rows"
        )
        findings.append(Finding("problem", "tenant_table_without_org", str(ref), message))
    return findings


def database_validate(*, extra_references: list[Reference] | None = None) -> ValidationReport:
    """Run every check on the current database and return the findings.

    ``extra_references`` adds references between tenant tables that the models
    do not declare (tests use it to point the checks at hand-made tables).
    """
    report = ValidationReport()
    tenants = {t.table: t for t in tenant_tables()}
    org_table = Organization._meta.db_table

    def between_tenants(ref: Reference) -> bool:
        return (
            ref.table in tenants
            and ref.target_table in tenants
            and ref.target_table != org_table
            and tenants[ref.table].org_column == tenants[ref.target_table].org_column
        )

    extra = list(extra_references or [])
    with service_context(reason="db_validate"), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 0")
        fks = database_foreign_keys(cursor)
        refs = references()
        with tqdm(
            total=len(fks) + len(refs) + len(extra) + 2,
            desc="db_validate",
            unit="check",
            disable=None,
        ) as bar:
            for fk in fks:
                report.findings += _foreign_key_findings(cursor, fk)
                bar.update()
            for ref in refs:
                report.findings += _reference_findings(
                    cursor, ref, fks, between_tenants=between_tenants(ref), tenants=set(tenants)
                )
                bar.update()
            for ref in extra:
                report.findings += _reference_findings(
                    cursor, ref, fks, between_tenants=True, tenants=set()
                )
                bar.update()
            report.findings += _check_constraints(cursor)
            bar.update()
            report.tables, bloat = _table_stats(cursor)
            report.findings += bloat
            bar.update()
    # As the plain runtime role, like rls_check: its checks are about that role.
    report.findings += [Finding("problem", f"rls:{p.code}", p.obj, p.message) for p in run_checks()]
    return report


def _table_stats(cursor: Any) -> tuple[list[TableStats], list[Finding]]:
    cursor.execute(
        """
        SELECT relname, n_live_tup, n_dead_tup, pg_total_relation_size(relid),
               last_autovacuum::text, last_autoanalyze::text
          FROM pg_stat_user_tables WHERE schemaname = 'public'
         ORDER BY pg_total_relation_size(relid) DESC, relname
        """
    )
    stats = [TableStats(*row) for row in cursor.fetchall()]
    findings = []
    for s in stats:
        total = s.live_rows + s.dead_rows
        if s.dead_rows >= BLOAT_MIN_DEAD and total and s.dead_rows / total > BLOAT_RATIO:
            findings.append(
                Finding(
                    "warning",
                    "bloat",
                    s.table,
                    f"{s.dead_rows} dead row versions ({s.dead_rows / total:.0%}); "
                    "autovacuum behind, or run VACUUM as the owner",
                    s.dead_rows,
                )
            )
    return stats, findings
