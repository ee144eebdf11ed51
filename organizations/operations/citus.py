"""Distributing the migrated schema on a Citus coordinator (``citus_distribute``).

Run after ``migrate`` on a cluster whose workers are registered (``db_setup`` does
it when ``DATABASE_CITUS=true``). Idempotent: a table already distributed is
skipped. Steps, on the owner connection unless noted:

1. **The cluster form of the policies** (ADR 0013). Citus refuses a policy with a
   sub-select, and a policy function that reads a table fails on a worker. So the
   claim helpers of :data:`organizations.rls.citus.CLUSTER_CLAIM_FUNCTIONS` are
   replaced by PL/pgSQL functions that read only transaction-local claims, and
   every policy's ``(SELECT app.f())`` becomes ``app.f()``.
   # SECURITY: on the cluster the membership check is therefore *not* in the policy:
   # a claim the app role sets by hand is believed. Not production-ready until the
   # signed claim of issue 20 lands (docs/scaling.md says so).
2. **Keys.** A tenant table's primary key ``(id)`` becomes ``(organization_id, id)``;
   the cross-tenant uniques of :data:`~organizations.rls.citus.CLUSTER_GLOBAL_UNIQUES`
   become plain indexes (NOT enforced on the cluster until they move to reference
   tables).
3. **Reference tables** for every global table, referenced tables first.
4. **Distributed tables** by ``organization_id``, colocated, referenced tables first.
5. **Claims reach the workers**: the app role's ``citus.propagate_set_commands`` is
   ``local`` (a ``SET LOCAL`` is sent to the workers; ``set_config`` is not).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import psycopg
from django.conf import settings
from psycopg import sql

from audit.models import PLATFORM_ORGANIZATION_ID, PLATFORM_ORGANIZATION_SLUG
from organizations import roles
from organizations.operations.pg import OperationError, owner_login
from organizations.rls.citus import (
    CLUSTER_GLOBAL_UNIQUES,
    TENANT_COLUMN,
    unwrap_claim_subselects,
)

# Claim-only helpers (PL/pgSQL: a SQL function with parameters fails to plan on a
# worker). Missing or empty claims mean "nobody", as on one node. A project list that
# is missing while an organization is claimed raises: the project policies subtract
# it, so an absent list must not read as "nothing hidden".
CLUSTER_FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION app.current_org_id() RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY INVOKER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN NULLIF(current_setting('app.org_id', true), '')::uuid;
END $$;

CREATE OR REPLACE FUNCTION app.current_role() RETURNS text
LANGUAGE plpgsql STABLE SECURITY INVOKER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NULLIF(current_setting('app.org_id', true), '') IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN NULLIF(current_setting('app.role', true), '');
END $$;

CREATE OR REPLACE FUNCTION app.has_role(roles text[]) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY INVOKER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NULLIF(current_setting('app.org_id', true), '') IS NULL THEN
        RETURN false;
    END IF;
    RETURN coalesce(NULLIF(current_setting('app.role', true), '') = ANY (roles), false);
END $$;

CREATE OR REPLACE FUNCTION app.user_org_ids() RETURNS uuid[]
LANGUAGE plpgsql STABLE SECURITY INVOKER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NULLIF(current_setting('app.user_id', true), '') IS NULL THEN
        RETURN '{}'::uuid[];
    END IF;
    RETURN coalesce(NULLIF(current_setting('app.org_ids', true), '')::uuid[], '{}'::uuid[]);
END $$;

CREATE OR REPLACE FUNCTION app.hidden_project_ids() RETURNS uuid[]
LANGUAGE plpgsql STABLE SECURITY INVOKER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    claim text := NULLIF(current_setting('app.hidden_project_ids', true), '');
BEGIN
    IF NULLIF(current_setting('app.org_id', true), '') IS NULL THEN
        RETURN '{}'::uuid[];
    END IF;
    IF claim IS NULL THEN
        RAISE EXCEPTION 'app.hidden_project_ids is not claimed';
    END IF;
    RETURN claim::uuid[];
END $$;

CREATE OR REPLACE FUNCTION app.readonly_project_ids() RETURNS uuid[]
LANGUAGE plpgsql STABLE SECURITY INVOKER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    claim text := NULLIF(current_setting('app.readonly_project_ids', true), '');
BEGIN
    IF NULLIF(current_setting('app.org_id', true), '') IS NULL THEN
        RETURN '{}'::uuid[];
    END IF;
    IF claim IS NULL THEN
        RAISE EXCEPTION 'app.readonly_project_ids is not claimed';
    END IF;
    RETURN claim::uuid[];
END $$;
"""


def is_citus(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'").fetchone() is not None


def _tables(conn: psycopg.Connection) -> dict[str, str | None]:
    from organizations.rls.citus import distribution_column

    rows = conn.execute(
        """
        SELECT c.relname, array_agg(a.attname::text)
          FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
         GROUP BY c.relname
        """
    ).fetchall()
    return {table: distribution_column(table, set(columns)) for table, columns in rows}


def _referenced_first(conn: psycopg.Connection, tables: list[str]) -> list[str]:
    """``tables`` ordered so that a table comes after every table it references."""
    edges = conn.execute(
        """
        SELECT DISTINCT t.relname, f.relname FROM pg_constraint c
          JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class f ON f.oid = c.confrelid
         WHERE c.contype = 'f' AND c.conrelid <> c.confrelid
        """
    ).fetchall()
    needs: dict[str, set[str]] = {t: set() for t in tables}
    for source, target in edges:
        if source in needs and target in needs:
            needs[source].add(target)
    ordered: list[str] = []
    while needs:
        ready = sorted(t for t, deps in needs.items() if not deps - set(ordered))
        if not ready:
            raise OperationError(f"foreign keys form a cycle among {sorted(needs)}")
        for table in ready:
            ordered.append(table)
            del needs[table]
    return ordered


def _already(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute("SELECT logicalrelid::regclass::text FROM pg_dist_partition").fetchall()
    return {row[0] for row in rows}


def _cluster_policies(conn: psycopg.Connection) -> int:
    rows = conn.execute(
        """
        SELECT c.relname, p.polname, pg_get_expr(p.polqual, p.polrelid),
               pg_get_expr(p.polwithcheck, p.polrelid)
          FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public'
           AND (p.polqual::text LIKE '%{SUBLINK%' OR p.polwithcheck::text LIKE '%{SUBLINK%')
        """
    ).fetchall()
    for table, policy, qual, check in rows:
        parts = []
        if qual:
            parts.append(sql.SQL(" USING ({})").format(sql.SQL(unwrap_claim_subselects(qual))))
        if check:
            parts.append(
                sql.SQL(" WITH CHECK ({})").format(sql.SQL(unwrap_claim_subselects(check)))
            )
        conn.execute(
            sql.SQL("ALTER POLICY {} ON {}").format(sql.Identifier(policy), sql.Identifier(table))
            + sql.SQL("").join(parts)
        )
    return len(rows)


def _cluster_keys(conn: psycopg.Connection, tenant: list[str]) -> int:
    changed = 0
    for obj in CLUSTER_GLOBAL_UNIQUES:
        table, index = obj.split(".")
        if table not in tenant:
            continue
        row = conn.execute(
            """
            SELECT pg_get_indexdef(i.indexrelid), c.conname IS NOT NULL
              FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
              LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.contype = 'u'
             WHERE ic.relname = %s AND i.indisunique
            """,
            [index],
        ).fetchone()
        if row is None:
            continue
        definition, is_constraint = row
        drop = "ALTER TABLE {} DROP CONSTRAINT {}" if is_constraint else "DROP INDEX {1}"
        conn.execute(sql.SQL(drop).format(sql.Identifier(table), sql.Identifier(index)))
        conn.execute(definition.replace("CREATE UNIQUE INDEX", "CREATE INDEX", 1))
        changed += 1
    rows = conn.execute(
        """
        SELECT t.relname, c.conname FROM pg_constraint c
          JOIN pg_class t ON t.oid = c.conrelid
          JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE n.nspname = 'public' AND c.contype = 'p' AND t.relname = ANY(%s)
           AND c.conkey = ARRAY[(SELECT attnum FROM pg_attribute
                                  WHERE attrelid = t.oid AND attname = 'id')]::int2[]
        """,
        [tenant],
    ).fetchall()
    for table, constraint in rows:
        conn.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}, ADD PRIMARY KEY ({}, id)").format(
                sql.Identifier(table), sql.Identifier(constraint), sql.Identifier(TENANT_COLUMN)
            )
        )
        changed += 1
    return changed


def distribute(*, say: Callable[[str], None] = lambda line: None) -> dict[str, int]:
    """Distribute the migrated schema on the coordinator; what was done, counted."""
    login = owner_login()
    with login.connect(autocommit=True) as conn:
        if not is_citus(conn):
            raise OperationError(
                f"database {login.dbname} has no citus extension: not a Citus coordinator"
                " (nothing was changed)."
            )
        workers = conn.execute(
            "SELECT count(*) FROM pg_dist_node WHERE noderole = 'primary' AND shouldhaveshards"
        ).fetchone()[0]
        if not workers:
            raise OperationError("the coordinator has no workers (citus_add_node); nothing done.")
        kinds = _tables(conn)
        done = _already(conn)
        tenant = sorted(t for t, column in kinds.items() if column)
        reference = sorted(t for t, column in kinds.items() if not column)
        with conn.transaction():
            conn.execute(CLUSTER_FUNCTIONS)
            policies = _cluster_policies(conn)
            keys = _cluster_keys(conn, [t for t in tenant if t not in done])
        say(f"  cluster form: claim-only helpers, {policies} policies unwrapped, {keys} keys")
        made_reference = 0
        for table in _referenced_first(conn, reference):
            if table not in done:
                conn.execute("SELECT create_reference_table(%s)", [table])
                made_reference += 1
        say(f"  {made_reference} reference tables")
        made_distributed = 0
        anchor = None
        # SECURITY: the audit table's chain trigger reads the table itself; Citus refuses
        # triggers unless told. It is distributed so the other tables can be, and audit
        # inserts on the cluster are a later step (ADR 0013).
        conn.execute("SET citus.enable_unsafe_triggers = on")
        # Tenant tables reference each other in cycles (a site's live deployment, a
        # page's live version): their foreign keys are set aside while the tables are
        # distributed, then put back (checked again, now shard by shard).
        between = conn.execute(
            """
            SELECT t.relname, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c
              JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class f ON f.oid = c.confrelid
             WHERE c.contype = 'f' AND t.relname = ANY(%s) AND f.relname = ANY(%s)
            """,
            [[t for t in tenant if t not in done], tenant],
        ).fetchall()
        for table, name, _definition in between:
            conn.execute(
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                    sql.Identifier(table), sql.Identifier(name)
                )
            )
        for table in _referenced_first(conn, tenant):
            if table in done:
                anchor = anchor or table
                continue
            conn.execute(
                "SELECT create_distributed_table(%s, %s, colocate_with => %s)",
                [table, TENANT_COLUMN, anchor or "default"],
            )
            anchor = anchor or table
            made_distributed += 1
        for table, name, definition in between:
            # Citus refuses ON DELETE SET NULL/DEFAULT on a key holding the distribution
            # column: the cluster keeps the reference (no row points into another
            # tenant) without the action, so such a delete is refused (ADR 0013).
            definition = re.sub(r" ON DELETE SET (NULL|DEFAULT)( \([^)]*\))?", "", definition)
            conn.execute(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
                    sql.Identifier(table), sql.Identifier(name)
                )
                + sql.SQL(definition)
            )
        say(f"  {made_distributed} distributed tables (by {TENANT_COLUMN}, colocated)")
        # Events of no organization are chained under the reserved platform organization
        # on a cluster (audit.models.PLATFORM_ORGANIZATION_ID, ADR 0013).
        conn.execute(
            "INSERT INTO organizations_organization (id, name, slug, suspended_at, created_at,"
            " updated_at) VALUES (%s, 'Platform (reserved)', %s, now(), now(), now())"
            " ON CONFLICT (id) DO NOTHING",
            [PLATFORM_ORGANIZATION_ID, PLATFORM_ORGANIZATION_SLUG],
        )
    if settings.DATABASE_ADMIN:
        with roles.admin_connect(login.dbname) as admin:
            admin.execute(
                sql.SQL("ALTER ROLE {} SET citus.propagate_set_commands = 'local'").format(
                    sql.Identifier(settings.DATABASES["default"]["USER"])
                )
            )
    else:
        say("  no DATABASE_ADMIN_URL: set citus.propagate_set_commands = 'local' on the app role")
    return {
        "policies": policies,
        "keys": keys,
        "reference": made_reference,
        "distributed": made_distributed,
    }
