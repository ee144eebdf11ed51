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
* the runtime role is not superuser, not BYPASSRLS, owns nothing, cannot
  TRUNCATE, and cannot UPDATE/DELETE append-only tables;
* views are ``security_invoker``; SECURITY DEFINER functions pin
  ``search_path`` and are not executable by PUBLIC;
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

from organizations.tenancy import connection_role_facts

# Tables of our own apps that are global on purpose, and why.
GLOBAL_TABLES: dict[str, str] = {
    "accounts_user": "read by authentication before any claim exists; no tenant data",
    "accounts_session": "read by authentication before any claim exists; keyed by user",
    "accounts_user_groups": "staff permissions (admin only)",
    "accounts_user_user_permissions": "staff permissions (admin only)",
    "django_migrations": "Django's migration history",
}

CLAIM_HELPERS = re.compile(r"app\.(current_org_id|user_org_ids|current_user_id)\(\)")


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

        cursor.execute(
            """
            SELECT p.oid::regprocedure::text,
                   coalesce(array_to_string(p.proconfig, ','), '') LIKE '%%search_path=%%',
                   EXISTS (SELECT 1
                             FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                            WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
              FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname IN ('public', 'app') AND p.prosecdef
            """
        )
        for func, pinned, public_exec in cursor.fetchall():
            if not pinned:
                problems.append(Problem("definer_search_path", func, "search_path is not fixed"))
            if public_exec:
                problems.append(Problem("definer_public_execute", func, "PUBLIC may execute it"))

    problems += _runtime_role_problems(tables, using)
    problems += _zero_rows_without_claims(tables, using)
    return problems


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
    append_only = [m._meta.db_table for m in apps.get_models() if getattr(m, "append_only", False)]
    with connections[using].cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname,
                   has_table_privilege(session_user, c.oid, 'TRUNCATE'),
                   has_table_privilege(session_user, c.oid, 'UPDATE'),
                   has_table_privilege(session_user, c.oid, 'DELETE')
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
            """
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
        for table, truncate, update, delete in rows:
            if truncate:
                problems.append(Problem("role_can_truncate", table, f"{role} may TRUNCATE"))
            if table in append_only and (update or delete):
                problems.append(
                    Problem("append_only_writable", table, f"{role} may UPDATE or DELETE")
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
