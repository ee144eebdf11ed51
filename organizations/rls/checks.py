"""``rls_check``: Supabase-Security-Advisor-style lints for our own schema.

Each lint returns :class:`Problem` rows; an empty list means the database
enforces what the design promises. Checked:

* every table in ``public`` has RLS enabled **and forced** and at least one
  policy — unless it is a third-party table (Django's, SimpleJWT's, the task
  queue's) or listed in :data:`GLOBAL_TABLES` with its reason. A table no
  model knows about is checked too (a hand-made table is no excuse);
* no policy is always true, and every policy is anchored to a claim helper
  (``app.current_org_id()`` & co.), so a missing claim admits nothing;
* no policy uses ``OR`` (it turns index scans into sequential scans);
* service-only tables (models with ``service_only = True``: installation secrets)
  grant the app role nothing at all; they are not guarded by RLS but by privileges;
* only the organization and membership tables may admit "any of the user's
  organizations" (``app.user_org_ids()``), and only to read; a tenant table
  admits the current organization only;
* the runtime role is not superuser, not BYPASSRLS, owns nothing, cannot
  TRUNCATE; append-only is read from the database's grants too: neither
  runtime role (login or service) may UPDATE/DELETE a table whose model says
  ``append_only``, and a table the grants make append-only must say so in its
  model;
* views are ``security_invoker``; every function in ``app`` and ``public``
  has a fixed ``search_path`` that is empty or ends with ``pg_temp`` (else a
  temporary table of the caller's would shadow ours); SECURITY DEFINER
  functions are not executable by PUBLIC;
* no two indexes of a table are the same (columns, expressions, predicate);
* as the runtime role, with no claim and with empty claims, every guarded
  table answers zero rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from organizations.tenancy import connection_role_facts, runtime_roles

# Tables of our own apps that are global on purpose, and why.
GLOBAL_TABLES: dict[str, str] = {
    "accounts_user": "read by authentication before any claim exists; no tenant data",
    "accounts_session": "read by authentication before any claim exists; keyed by user",
    "accounts_user_groups": "staff permissions (admin only)",
    "accounts_user_user_permissions": "staff permissions (admin only)",
    "django_migrations": "Django's migration history",
    # --- billing ---
    "billing_plan": "the plan catalog: no tenant data, read by everyone; the app role's"
    " INSERT/UPDATE/DELETE are revoked (billing.apps), staff edit it as the service role",
    "billing_stripeevent": "the Stripe webhook inbox: RLS forced with no policy and no grant"
    " to the app role, so only the service role (the webhook path) reaches it",
}

CLAIM_HELPERS = re.compile(r"app\.(current_org_id|user_org_ids|current_user_id)\(\)")

# The only tables whose policies may admit any of the user's organizations: "my
# organizations" and "my memberships" are listed across orgs on purpose. Every other
# tenant table admits the current organization only.
ANY_ORG_TABLES = frozenset({"organizations_organization", "organizations_membership"})
ANY_ORG_HELPER = re.compile(r"app\.user_org_ids\(\)")


@dataclass(frozen=True)
class Problem:
    code: str
    obj: str
    message: str

    def __str__(self) -> str:
        return f"[{self.code}] {self.obj}: {self.message}"


def _project_app_labels() -> set[str]:
    base = Path(settings.BASE_DIR).resolve()
    labels = set()
    for config in apps.get_app_configs():
        path = Path(config.path).resolve()
        if base in path.parents and ".venv" not in path.parts:
            labels.add(config.label)
    return labels


def service_only_tables() -> list[str]:
    """Tables the app role may not touch at all (only ``service_context`` reads them)."""
    return sorted(m._meta.db_table for m in apps.get_models() if getattr(m, "service_only", False))


def guarded_tables(using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Tables that must carry RLS: our apps' tables and any table no model knows."""
    ours = _project_app_labels()
    known_third_party = set()
    required = set()
    for model in apps.get_models(include_auto_created=True):
        table = model._meta.db_table
        if model._meta.app_label in ours:
            required.add(table)
        else:
            known_third_party.add(table)
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        existing = [row[0] for row in cursor.fetchall()]
    service_only = set(service_only_tables())
    return [
        t
        for t in existing
        if (t in required or t not in known_third_party)
        and t not in GLOBAL_TABLES
        and t not in service_only
    ]


def run_checks(using: str = DEFAULT_DB_ALIAS) -> list[Problem]:
    problems: list[Problem] = []
    tables = guarded_tables(using)
    with connections[using].cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                   (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid)
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname = ANY(%s)
            """,
            [tables],
        )
        for name, enabled, forced, policies in cursor.fetchall():
            if not enabled:
                problems.append(Problem("rls_disabled", name, "row level security is not enabled"))
            if not forced:
                problems.append(Problem("rls_not_forced", name, "row level security is not forced"))
            if not policies:
                problems.append(Problem("no_policy", name, "RLS is on but no policy exists"))

        cursor.execute(
            """
            SELECT tablename, policyname, coalesce(qual, ''), coalesce(with_check, '')
              FROM pg_policies WHERE schemaname = 'public' ORDER BY tablename, policyname
            """
        )
        for table, policy, qual, check in cursor.fetchall():
            obj = f"{table}.{policy}"
            for expr in (qual, check):
                if expr.strip().lower() in ("true", "(true)"):
                    problems.append(Problem("policy_always_true", obj, "policy admits every row"))
                if expr and not CLAIM_HELPERS.search(expr):
                    problems.append(
                        Problem("policy_unanchored", obj, f"does not depend on a claim: {expr}")
                    )
                if re.search(r"\bOR\b", expr, re.IGNORECASE):
                    problems.append(Problem("policy_uses_or", obj, "OR defeats index use"))

        cursor.execute(
            """
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname IN ('public', 'app') AND c.relkind = 'v'
               AND NOT coalesce(c.reloptions @> ARRAY['security_invoker=true'], false)
            """
        )
        for (view,) in cursor.fetchall():
            problems.append(Problem("view_not_invoker", view, "view is not security_invoker"))

    problems += _function_problems(using)
    problems += _any_org_policy_problems(using)
    problems += _duplicate_index_problems(using)
    problems += _runtime_role_problems(tables, using)
    problems += _zero_rows_without_claims(tables, using)
    return problems


def _search_path_of(config: list[str] | None) -> list[str] | None:
    """The schemas of a function's ``SET search_path``, or None if it sets none."""
    for entry in config or []:
        name, _, value = entry.partition("=")
        if name == "search_path":
            schemas = [part.strip().strip('"') for part in value.split(",")]
            return [schema for schema in schemas if schema]
    return None


def _function_problems(using: str) -> list[Problem]:
    """Every function of ours pins ``search_path``, with ``pg_temp`` last (or nothing).

    Without ``pg_temp`` in the list PostgreSQL searches the caller's temporary
    schema *first* for tables and types: a SECURITY DEFINER function reading
    ``organizations_membership`` would read the caller's temporary table of
    that name. An invoker function used by a policy is as exposed (its answer
    decides the policy), so the rule is the same for both kinds.
    """
    problems = []
    with connections[using].cursor() as cursor:
        cursor.execute(
            """
            SELECT p.oid::regprocedure::text, p.prosecdef, p.proconfig,
                   EXISTS (SELECT 1
                             FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                            WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
              FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname IN ('public', 'app')
               AND NOT EXISTS (SELECT 1 FROM pg_depend d
                                WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                  AND d.deptype = 'e')
             ORDER BY 1
            """
        )
        rows = cursor.fetchall()
    for func, definer, config, public_exec in rows:
        kind = "SECURITY DEFINER function" if definer else "function"
        path = _search_path_of(config)
        if path is None:
            problems.append(
                Problem("function_search_path_mutable", func, f"{kind} has no fixed search_path")
            )
        elif path and path[-1] != "pg_temp":
            problems.append(
                Problem(
                    "definer_search_path_temp" if definer else "function_search_path_temp",
                    func,
                    f"{kind}'s search_path {', '.join(path)} does not end with pg_temp"
                    " (a temporary table would be searched first)",
                )
            )
        if definer and public_exec:
            problems.append(Problem("definer_public_execute", func, "PUBLIC may execute it"))
    return problems


def _any_org_policy_problems(using: str) -> list[Problem]:
    """A tenant table admits the current organization, not "any of mine"."""
    problems = []
    with connections[using].cursor() as cursor:
        cursor.execute(
            """
            SELECT tablename, policyname, cmd,
                   coalesce(qual, '') || ' ' || coalesce(with_check, '')
              FROM pg_policies WHERE schemaname = 'public' ORDER BY tablename, policyname
            """
        )
        for table, policy, command, text in cursor.fetchall():
            # Even those two tables list across orgs only for reading: a write policy
            # admitting any of my orgs would let me move a row into another org.
            allowed = table in ANY_ORG_TABLES and command == "SELECT"
            if not allowed and ANY_ORG_HELPER.search(text):
                problems.append(
                    Problem(
                        "policy_any_org",
                        f"{table}.{policy}",
                        "admits any of the user's organizations (app.user_org_ids());"
                        " a tenant table must admit the current organization only",
                    )
                )
    return problems


def _duplicate_index_problems(using: str) -> list[Problem]:
    """Two indexes of one table on the same keys, expressions and predicate."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            """
            SELECT i.indrelid::regclass::text,
                   array_agg(i.indexrelid::regclass::text ORDER BY i.indexrelid::regclass::text)
              FROM pg_index i
              JOIN pg_class c ON c.oid = i.indrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
              JOIN pg_class ic ON ic.oid = i.indexrelid
             WHERE n.nspname IN ('public', 'app')
             GROUP BY i.indrelid, ic.relam, i.indkey::text, i.indclass::text,
                      i.indcollation::text, i.indoption::text,
                      coalesce(pg_get_expr(i.indexprs, i.indrelid), ''),
                      coalesce(pg_get_expr(i.indpred, i.indrelid), '')
            HAVING count(*) > 1
             ORDER BY 1, 2
            """
        )
        return [
            Problem("duplicate_index", table, f"identical indexes: {', '.join(indexes)}")
            for table, indexes in cursor.fetchall()
        ]


def _runtime_role_problems(tables: list[str], using: str) -> list[Problem]:
    facts = connection_role_facts(using)
    role = facts["role"]
    problems = []
    if facts["superuser"]:
        problems.append(Problem("role_superuser", role, "the runtime role is a superuser"))
    if facts["bypassrls"]:
        problems.append(Problem("role_bypassrls", role, "the runtime role bypasses RLS"))
    if facts["owned_relations"]:
        problems.append(
            Problem("role_owns_tables", role, f"owns {facts['owned_relations']} relation(s)")
        )
    models = {m._meta.db_table: m for m in apps.get_models()}
    flagged = {t for t, m in models.items() if getattr(m, "append_only", False)}
    # Both runtime roles: the login role, and the service role it elevates to.
    runtime = [role, *(r for r in runtime_roles() if r != role)]
    with connections[using].cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, r.rolname,
                   has_table_privilege(r.oid, c.oid, 'TRUNCATE'),
                   has_table_privilege(r.oid, c.oid, 'UPDATE')
                   OR has_table_privilege(r.oid, c.oid, 'DELETE')
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             CROSS JOIN pg_roles r
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND r.rolname = ANY(%s)
             ORDER BY 1, 2
            """,
            [runtime],
        )
        rows = cursor.fetchall()
        cursor.execute(
            """
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relname = ANY(%s)
               AND (has_table_privilege(session_user, c.oid, 'SELECT')
                 OR has_table_privilege(session_user, c.oid, 'INSERT')
                 OR has_table_privilege(session_user, c.oid, 'UPDATE')
                 OR has_table_privilege(session_user, c.oid, 'DELETE'))
            """,
            [service_only_tables()],
        )
        for (table,) in cursor.fetchall():
            problems.append(Problem("service_only_granted", table, f"{role} has privileges on it"))
        writable: dict[str, set[str]] = {}
        for table, grantee, truncate, changes in rows:
            if truncate:
                problems.append(Problem("role_can_truncate", table, f"{grantee} may TRUNCATE"))
            if changes:
                writable.setdefault(table, set()).add(grantee)
    for table in sorted(flagged):
        if writable.get(table):
            who = ", ".join(sorted(writable[table]))
            problems.append(
                Problem("append_only_writable", table, f"{who} may UPDATE or DELETE it")
            )
    # Append-only as the grants say it (no UPDATE/DELETE for either runtime role) must
    # be what the model says too: a table made read-only by hand, or a flag the grants
    # never followed, is reported.
    by_grants = {t for t in models if t in tables and not writable.get(t)}
    for table in sorted(by_grants - flagged):
        problems.append(
            Problem(
                "append_only_mismatch",
                table,
                "the runtime roles may not UPDATE/DELETE it but the model is not append_only",
            )
        )
    return problems


def _zero_rows_without_claims(tables: list[str], using: str) -> list[Problem]:
    """As the runtime role: no claims, then empty claims, must see nothing."""
    from psycopg import sql

    problems = []
    conn = connections[using]
    for label, value in (("no claim", None), ("empty claim", "")):
        with transaction.atomic(using=using), conn.cursor() as cursor:
            if value is not None:
                cursor.execute(
                    "SELECT set_config('app.user_id', %s, true),"
                    " set_config('app.org_id', %s, true)",
                    [value, value],
                )
            for table in tables:
                cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
                (count,) = cursor.fetchone()
                if count:
                    problems.append(
                        Problem("rows_without_claim", table, f"{count} row(s) visible with {label}")
                    )
            transaction.set_rollback(True, using=using)
    return problems
