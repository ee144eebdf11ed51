"""``isolate_org`` and ``rebalance`` moving real shards (issue 20, operations).

After ``isolate_org`` every colocated tenant table holds the organization in a shard whose
hash range is that organization's value alone, the shard on its worker holds no other
tenant's row, and the application role still reads the same rows. After ``rebalance
--strategy by_shard_count`` the workers' shard-group counts differ by at most one (that
strategy's promise: every node within the average, rounded). Both are audited.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from audit.models import PLATFORM_ORGANIZATION_ID
from organizations.operations.shards import ANCHOR_TABLE, splitting_would_crash
from tests.citus.support import Tenant, claims, seed_tenant, set_local_claims

pytestmark = pytest.mark.django_db(databases=["default", "owner"])

ROOT = Path(__file__).resolve().parents[2]
TABLES_READ = ("organizations_membership", "audit_auditevent")  # the tenant has rows there


def _rows(app: psycopg.Connection, tenant: Tenant) -> dict[str, list[tuple]]:
    """What the tenant's owner sees through the coordinator, per table (RLS applies)."""
    seen = {}
    with app.transaction(force_rollback=True), app.cursor() as cursor:
        set_local_claims(cursor, claims(tenant))
        for table in ("organizations_membership", "projects_project"):
            cursor.execute(
                sql.SQL("SELECT id, organization_id FROM {} ORDER BY id").format(
                    sql.Identifier(table)
                )
            )
            seen[table] = cursor.fetchall()
    return seen


def manage(*args: str, fails: bool = False) -> str:
    """``manage.py ARGS`` as an operator runs it: its own process, its own commits (the
    test's Django connections are inside transactions that roll back)."""
    done = subprocess.run(  # noqa: S603 - this checkout's manage.py
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=os.environ,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode != 0) == fails, done.stdout + done.stderr
    return done.stdout + done.stderr


def shards_per_node(owner: psycopg.Connection) -> dict[int, int]:
    rows = owner.execute(
        """
        SELECT n.nodeport, count(p.shardid) FROM pg_dist_node n
          LEFT JOIN pg_dist_placement p ON p.groupid = n.groupid AND p.shardid IN (
                SELECT shardid FROM pg_dist_shard WHERE logicalrelid = %s::regclass)
         WHERE n.noderole = 'primary' AND n.shouldhaveshards GROUP BY 1
        """,
        [ANCHOR_TABLE],
    ).fetchall()
    return dict(rows)


def _tenant_tables(owner: psycopg.Connection) -> list[str]:
    rows = owner.execute(
        "SELECT logicalrelid::regclass::text FROM pg_dist_partition WHERE partmethod = 'h'"
    ).fetchall()
    return sorted(row[0] for row in rows)


def _admin_on(port: int, admin_urls: list[str]) -> psycopg.Connection:
    (url,) = [u for u in admin_urls if f":{port}/" in u]
    return psycopg.connect(url, autocommit=True)


def _events(owner: psycopg.Connection, org: uuid.UUID, action: str) -> list[dict]:
    rows = owner.execute(
        "SELECT changes FROM audit_auditevent WHERE organization_id = %s AND action = %s"
        " ORDER BY sequence",
        [org, action],
    ).fetchall()
    return [row[0] for row in rows]


def _splittable_tenant(owner: psycopg.Connection, prefix: str) -> Tenant:
    """A tenant (no projects) whose shard group Citus can split without crashing: no rows
    of a table with a stored generated column before another column (see
    ``splitting_would_crash``). Seeded tenants are few, so most shard groups qualify."""
    for _ in range(50):
        org = uuid.uuid4()
        (shard,) = owner.execute(
            "SELECT get_shard_id_for_distribution_column(%s, %s)", [ANCHOR_TABLE, org]
        ).fetchone()
        if not splitting_would_crash(shard):
            return seed_tenant(owner, projects=0, prefix=prefix, org_id=org)
    pytest.fail("every shard group holds rows Citus 14.0.1 cannot split")


def test_isolate_org_puts_the_tenant_alone_on_its_shards_and_it_reads_the_same(
    owner, app, worker_admin_urls
):
    tenant = _splittable_tenant(owner, "iso")
    neighbour = _splittable_tenant(owner, "iso")  # other tenants read as before
    before = _rows(app, tenant)
    assert len(before["organizations_membership"]) == 1

    manage("isolate_org", tenant.slug)

    for table in _tenant_tables(owner):
        shard, low, high, port, name = owner.execute(
            """
            SELECT s.shardid, s.shardminvalue::int, s.shardmaxvalue::int, p.nodeport,
                   shard_name(s.logicalrelid, s.shardid)
              FROM pg_dist_shard s JOIN pg_dist_shard_placement p USING (shardid)
             WHERE s.shardid = get_shard_id_for_distribution_column(%s, %s)
            """,
            [table, tenant.org_id],
        ).fetchone()
        assert low == high, f"{table}: shard {shard} spans {low}..{high}, not one tenant"
        if table in TABLES_READ:
            with _admin_on(port, worker_admin_urls) as worker:
                orgs = worker.execute(
                    sql.SQL("SELECT DISTINCT organization_id FROM {}").format(sql.Identifier(name))
                ).fetchall()
            assert orgs == [(tenant.org_id,)], f"{name} on {port} holds {orgs}"
    assert _rows(app, tenant) == before
    assert len(_rows(app, neighbour)["organizations_membership"]) == 1
    (event,) = _events(owner, tenant.org_id, "system.org_isolated")
    assert event["shard"] != event["previous_shard"]

    # Again: already alone, nothing changes and nothing more is recorded.
    manage("isolate_org", tenant.slug)
    assert len(_events(owner, tenant.org_id, "system.org_isolated")) == 1


def test_isolate_org_refuses_a_split_that_would_crash_the_worker_and_changes_nothing(owner, app):
    tenant = seed_tenant(owner, projects=1, prefix="crash")  # projects_project.search
    (shard,) = owner.execute(
        "SELECT get_shard_id_for_distribution_column(%s, %s)", [ANCHOR_TABLE, tenant.org_id]
    ).fetchone()
    shards_before = owner.execute("SELECT count(*) FROM pg_dist_shard").fetchone()
    out = manage("isolate_org", tenant.slug, fails=True)
    assert f"refused: splitting shard {shard} would crash" in out
    assert owner.execute("SELECT count(*) FROM pg_dist_shard").fetchone() == shards_before
    assert _events(owner, tenant.org_id, "system.org_isolated") == []
    # Every worker still answers (no crash recovery under way).
    assert len(_rows(app, tenant)["projects_project"]) == 1


def test_isolate_org_names_an_unknown_slug_on_the_cluster():
    assert "no organization with slug 'no-such-org'" in manage(
        "isolate_org", "no-such-org", fails=True
    )


def test_rebalance_evens_out_the_shard_groups_and_audits_each_move(owner, app):
    # Isolating a tenant splits one shard group into three on the same worker: isolate
    # tenants until the workers' counts differ by two or more (something to move).
    for _ in range(6):
        tenant = _splittable_tenant(owner, "reb")
        manage("isolate_org", tenant.slug)
        counts = shards_per_node(owner)
        if max(counts.values()) - min(counts.values()) >= 2:
            break
    assert max(counts.values()) - min(counts.values()) >= 2, counts
    before = _rows(app, tenant)
    moved_before = len(_events(owner, PLATFORM_ORGANIZATION_ID, "system.shard_group_moved"))

    manage("rebalance", "--strategy", "by_shard_count")

    counts = shards_per_node(owner)
    assert len(counts) == 2 and max(counts.values()) - min(counts.values()) <= 1, counts
    moves = _events(owner, PLATFORM_ORGANIZATION_ID, "system.shard_group_moved")[moved_before:]
    assert moves and all(m["strategy"] == "by_shard_count" for m in moves)
    assert all(m["tables"] == len(_tenant_tables(owner)) for m in moves)
    assert _rows(app, tenant) == before
    assert "Audit chains intact" in manage("audit_verify")
