"""``citus_check``: does the schema still fit a Citus cluster? (docs/scaling.md, ADR 0013)

Runs on any PostgreSQL (the single node in ``make test``, the coordinator in
``make test-citus``) and reads only the catalogs. The tables of ``public`` fall
in two kinds, decided by their columns, exactly as ``citus_distribute`` decides:

* **tenant tables**, distributed by ``organization_id``, all colocated;
* **global tables** (everything else: users, plans, Django's and the task
  queue's tables, installation secrets, and the organizations themselves, read
  by slug before any shard is known): reference tables, a copy on every node.

Checked, as Citus needs it:

* every primary key, unique constraint and unique index of a tenant table
  includes its distribution column (a shard can only check uniqueness within
  itself);
* every foreign key between tenant tables pairs the two distribution columns
  (the rows live on one shard only if the reference does), and no global
  table references a tenant table (a reference table cannot);
* no distribution column is nullable (Citus refuses a row without one);
* no policy has a sub-select (Citus refuses it at ``CREATE POLICY``: "unexpected
  non-SELECT command in SubLink");
* every function a policy calls is table-free, also through the ``app``
  functions it calls (on a worker a query of another table fails: "cannot
  execute a distributed query from a query on a shard"), and is not a
  SQL-language function with parameters (those fail to plan on a worker).

Today's single-node policies are *meant* to break two of these rules: they
wrap the claim helpers in ``(SELECT app.current_org_id())`` (one evaluation per
statement) and the helpers read the membership table (the database checks
membership itself). Those known shapes are **pending**, not problems:
``citus_distribute`` gives the cluster its own form of them (unwrapped
calls; claim-only helpers from :data:`CLUSTER_CLAIM_FUNCTIONS`), and ADR 0013
records what that form gives up. Anything else — a sub-select that is not a
bare claim-helper call, a new policy function that reads a table, a key or a
foreign key without the organization — is a problem and fails the check, so a
later migration cannot silently break the cluster. ``--strict`` (run on the
cluster after distribution) fails on pending findings too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db import DEFAULT_DB_ALIAS, connections

from organizations.rls.checks import Problem

ORGANIZATION_TABLE = "organizations_organization"
TENANT_COLUMN = "organization_id"

# The policy functions that read tables on one node and that citus_distribute replaces
# with claim-only versions on a cluster (organizations/operations/citus.py). The signed
# claim of issue 20 replaces this list (ADR 0013).
CLUSTER_CLAIM_FUNCTIONS: frozenset[str] = frozenset(
    {
        "app.current_org_id()",
        'app."current_role"()',
        "app.has_role(text[])",
        "app.user_org_ids()",
        "app.hidden_project_ids()",
        "app.readonly_project_ids()",
    }
)

# `( SELECT app.f(args) AS f)`: a claim helper wrapped in a sub-select so that it runs
# once per statement. The cluster form is the bare call (pg_policies prints it so).
CLAIM_SUBSELECT = re.compile(r"\(\s*SELECT\s+app\.(\w+)\(([^()]*)\)\s+AS\s+\w+\s*\)")
# A table read in a function body: FROM/JOIN followed by a name that is not a call.
TABLE_READ = re.compile(
    r"\b(?:FROM|JOIN)\s+(\"?[A-Za-z_][\w$]*\"?(?:\.\"?[A-Za-z_][\w$]*\"?)?)(?![\w$.\"])(?!\s*\()",
    re.IGNORECASE,
)
TABLE_WRITE = re.compile(r"\b(?:INSERT\s+INTO|UPDATE\s+\w|DELETE\s+FROM)\b", re.IGNORECASE)
APP_CALL = re.compile(r"\bapp\.\"?(\w+)\"?\s*\(")


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    pending: list[Problem] = field(default_factory=list)


def distribution_column(table: str, columns: set[str]) -> str | None:
    """The column a table is distributed by on a cluster; None for a global table."""
    if table == ORGANIZATION_TABLE:
        return None  # a reference table: its slug is unique across tenants (ADR 0013)
    return TENANT_COLUMN if TENANT_COLUMN in columns else None


# Unique indexes of tenant tables that hold across tenants on purpose. A shard cannot
# check them; the cluster form (citus_distribute) keeps them as plain indexes until each
# moves to a reference table (ADR 0013). Until then the cluster does NOT enforce them.
CLUSTER_GLOBAL_UNIQUES: dict[str, str] = {
    "integrations_apikey.integrations_apikey_hashed_key_key": "an API key is found by its"
    " hash before the tenant is known: the digest moves to a reference table",
    "sites_domain.domain_verified_hostname_unique": "one tenant per verified hostname:"
    " the verified hostnames move to a reference table (also the live site's lookup)",
}


def classify(using: str = DEFAULT_DB_ALIAS) -> dict[str, str | None]:
    """Every table of ``public``: its distribution column, or None (a reference table)."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, array_agg(a.attname::text)
              FROM pg_class c
              JOIN pg_namespace n ON n.oid = c.relnamespace
              JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
             GROUP BY c.relname ORDER BY c.relname
            """
        )
        return {table: distribution_column(table, set(cols)) for table, cols in cursor.fetchall()}


def run_citus_checks(using: str = DEFAULT_DB_ALIAS) -> Report:
    report = Report()
    kinds = classify(using)
    _key_problems(kinds, report, using)
    _foreign_key_problems(kinds, report, using)
    _nullable_problems(kinds, report, using)
    _policy_problems(report, using)
    _policy_function_problems(report, using)
    return report


def _key_problems(kinds: dict[str, str | None], report: Report, using: str) -> None:
    with connections[using].cursor() as cursor:
        cursor.execute(
            """
            SELECT t.relname, i.relname, x.indisprimary,
                   ARRAY(SELECT a.attname::text FROM unnest(x.indkey[0:x.indnkeyatts - 1]) k
                           JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k)
              FROM pg_index x
              JOIN pg_class t ON t.oid = x.indrelid
              JOIN pg_class i ON i.oid = x.indexrelid
              JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE n.nspname = 'public' AND x.indisunique
             ORDER BY 1, 2
            """
        )
        rows = cursor.fetchall()
    for table, index, primary, columns in rows:
        column = kinds.get(table)
        if not column or column in columns:
            continue
        obj = f"{table}.{index}"
        if primary and columns == ["id"]:
            report.pending.append(
                Problem(
                    "primary_key_without_distribution_column",
                    obj,
                    "primary key (id); citus_distribute makes it (organization_id, id)",
                )
            )
        elif obj in CLUSTER_GLOBAL_UNIQUES:
            report.pending.append(
                Problem(
                    "global_unique",
                    obj,
                    f"not enforced on a cluster yet: {CLUSTER_GLOBAL_UNIQUES[obj]}",
                )
            )
        else:
            report.problems.append(
                Problem(
                    "unique_without_distribution_column",
                    obj,
                    f"unique on ({', '.join(columns) or 'an expression'}) without {column}:"
                    " a shard cannot check it",
                )
            )


def _foreign_key_problems(kinds: dict[str, str | None], report: Report, using: str) -> None:
    with connections[using].cursor() as cursor:
        cursor.execute(
            """
            SELECT c.conname, t.relname, f.relname, c.confdeltype IN ('n', 'd'),
                   ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                           JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n
                          ORDER BY k.i),
                   ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
                           JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n
                          ORDER BY k.i)
              FROM pg_constraint c
              JOIN pg_class t ON t.oid = c.conrelid
              JOIN pg_class f ON f.oid = c.confrelid
              JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE n.nspname = 'public' AND c.contype = 'f'
             ORDER BY 2, 1
            """
        )
        for name, table, target, sets_null, columns, target_columns in cursor.fetchall():
            source_col, target_col = kinds.get(table), kinds.get(target)
            obj = f"{table}.{name}"
            if source_col is None and target_col is not None:
                report.problems.append(
                    Problem(
                        "reference_to_distributed",
                        obj,
                        f"global table {table} references tenant table {target}:"
                        " a reference table cannot point into shards",
                    )
                )
            elif (
                source_col
                and target_col
                and (source_col, target_col) not in zip(columns, target_columns, strict=True)
            ):
                report.problems.append(
                    Problem(
                        "foreign_key_without_distribution_column",
                        obj,
                        f"({', '.join(columns)}) -> {target}({', '.join(target_columns)})"
                        f" does not pair {source_col} with {target_col}",
                    )
                )
            elif source_col and target_col and sets_null:
                report.pending.append(
                    Problem(
                        "foreign_key_set_null",
                        obj,
                        "ON DELETE SET NULL/DEFAULT on a key with the distribution column:"
                        " Citus refuses it; the cluster form keeps the key without the action",
                    )
                )


# Nullable distribution columns that are known and decided (ADR 0013), with the reason.
PENDING_NULLABLE = {
    "audit_auditevent": "platform events (no organization) go to a reserved platform"
    " organization on a cluster: ADR 0013, not done yet",
}


def _nullable_problems(kinds: dict[str, str | None], report: Report, using: str) -> None:
    with connections[using].cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, a.attname FROM pg_attribute a
              JOIN pg_class c ON c.oid = a.attrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT a.attnotnull
               AND a.attnum > 0 AND NOT a.attisdropped
            """
        )
        for table, column in cursor.fetchall():
            if kinds.get(table) != column:
                continue
            problem = Problem(
                "distribution_column_nullable",
                f"{table}.{column}",
                "a row without an organization cannot be placed on a shard",
            )
            if table in PENDING_NULLABLE:
                pending = Problem(problem.code, problem.obj, PENDING_NULLABLE[table])
                report.pending.append(pending)
            else:
                report.problems.append(problem)


def unwrap_claim_subselects(expr: str) -> str:
    """The cluster form of a policy expression: each claim helper's sub-select unwrapped."""
    return CLAIM_SUBSELECT.sub(lambda m: f"app.{m.group(1)}({m.group(2)})", expr)


def _policy_problems(report: Report, using: str) -> None:
    with connections[using].cursor() as cursor:
        # polqual/polwithcheck are node trees: a SubLink there is a sub-select, however
        # the deparsed text looks.
        cursor.execute(
            """
            SELECT c.relname, p.polname,
                   coalesce(pg_get_expr(p.polqual, p.polrelid), ''),
                   coalesce(pg_get_expr(p.polwithcheck, p.polrelid), ''),
                   coalesce(p.polqual::text, '') || coalesce(p.polwithcheck::text, '')
              FROM pg_policy p
              JOIN pg_class c ON c.oid = p.polrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public'
             ORDER BY 1, 2
            """
        )
        for table, policy, qual, check, trees in cursor.fetchall():
            if "{SUBLINK" not in trees:
                continue
            obj = f"{table}.{policy}"
            rest = " ".join(unwrap_claim_subselects(e) for e in (qual, check))
            if re.search(r"\bSELECT\b", rest, re.IGNORECASE):
                report.problems.append(
                    Problem(
                        "policy_subselect",
                        obj,
                        "a sub-select other than a claim helper's; Citus refuses it:"
                        f" {qual or check}",
                    )
                )
            else:
                report.pending.append(
                    Problem(
                        "policy_claim_subselect",
                        obj,
                        "(SELECT app.<claim>()) wrappers; citus_distribute unwraps them",
                    )
                )


def _strip_sql(body: str) -> str:
    """A function body without comments and string literals (they may say FROM)."""
    body = re.sub(r"--[^\n]*", " ", body)
    body = re.sub(r"/\*.*?\*/", " ", body, flags=re.DOTALL)
    return re.sub(r"'(?:[^']|'')*'", "''", body)


def _policy_function_problems(report: Report, using: str) -> None:
    with connections[using].cursor() as cursor:
        cursor.execute(
            """
            SELECT p.oid::regprocedure::text, n.nspname, p.proname, l.lanname,
                   p.pronargs, coalesce(p.prosrc, ''),
                   EXISTS (SELECT 1 FROM pg_depend d
                            WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                              AND d.refclassid = 'pg_class'::regclass),
                   EXISTS (SELECT 1 FROM pg_depend d
                            WHERE d.classid = 'pg_policy'::regclass
                              AND d.refclassid = 'pg_proc'::regclass AND d.refobjid = p.oid)
              FROM pg_proc p
              JOIN pg_namespace n ON n.oid = p.pronamespace
              JOIN pg_language l ON l.oid = p.prolang
             WHERE n.nspname IN ('app', 'public')
            """
        )
        rows = cursor.fetchall()
    functions = {sig: row for sig, *row in rows}
    by_name: dict[str, list[str]] = {}
    for sig, (schema, name, *_rest) in functions.items():
        if schema == "app":
            by_name.setdefault(name, []).append(sig)
    # Functions the policies call, then the app functions those call, transitively.
    todo = [sig for sig, row in functions.items() if row[-1]]
    seen: dict[str, str] = {}  # function -> the policy function that reaches it
    for sig in todo:
        seen[sig] = sig
    while todo:
        sig = todo.pop()
        body = _strip_sql(functions[sig][4])
        for callee_name in APP_CALL.findall(body):
            for callee in by_name.get(callee_name, []):
                if callee not in seen:
                    seen[callee] = seen[sig]
                    todo.append(callee)
    for sig in sorted(seen):
        _schema, _name, language, nargs, source, reads_by_depend, _used = functions[sig]
        body = _strip_sql(source)
        reads = sorted(set(TABLE_READ.findall(body)))
        issues = []
        if reads or reads_by_depend:
            issues.append(f"reads {', '.join(reads) or 'a table'}")
        if TABLE_WRITE.search(body):
            issues.append("writes a table")
        if language == "sql" and nargs:
            issues.append("is a SQL-language function with parameters (fails to plan on workers)")
        if not issues:
            continue
        via = "" if seen[sig] == sig else f" (called by {seen[sig]})"
        problem = Problem(
            "policy_function_not_table_free", sig, f"a policy function{via} {'; '.join(issues)}"
        )
        if sig in CLUSTER_CLAIM_FUNCTIONS or seen[sig] in CLUSTER_CLAIM_FUNCTIONS:
            report.pending.append(
                Problem(
                    "policy_function_membership",
                    sig,
                    f"{problem.message}; citus_distribute installs a claim-only form (ADR 0013)",
                )
            )
        else:
            report.problems.append(problem)
